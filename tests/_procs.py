"""How tests start other processes: their environment, and, for the ones that run Spark, JVM
options that suit a driver living a minute or two.

Workers that only track and register are plain Python (no JVM). For spark-submit jobs: the C1
compiler alone and the serial collector start faster on two cores, and a class-data-sharing archive
(dumped once per test session) spares each JVM most of its class loading; measured from process
start to two Delta reads: 23.0 s plain, 17.6 s with the two flags, 10.9-12.5 s with the archive
too. C1 alone reserves a 48 MB code cache by default, which a driver that trains a model and then
runs Delta commits fills ("Out of space in CodeCache"), so it gets the 240 MB that tiered
compilation reserves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKER = str(REPO / "tests" / "_worker.py")
SHORT_LIVED_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=240m"

#: What the class archive is dumped from: a local session that writes and reads a Delta table.
_SPARK_WARM_UP = """
import sys
import sparktrack
spark = sparktrack.spark_session(master="local[1]")
spark.range(5).write.format("delta").save(sys.argv[1])
spark.read.format("delta").load(sys.argv[1]).count()
"""


def worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a Python worker process: its own spool, this checkout importable."""
    env = {**os.environ, "SPARKTRACK_SPOOL_DIR": str(tmp_path / "spool"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("SPARKTRACK_STORE", None)
    env.update(extra)
    return env


def dump_class_archive(work: Path) -> str:
    """Start one local Spark with Delta, dumping the classes it loaded to an archive; the JVM
    options that use it (or just SHORT_LIVED_JVM when the JVM could not dump one)."""
    archive = work / "classes.jsa"
    env = worker_env(work, PYSPARK_SUBMIT_ARGS=f'--driver-java-options "{SHORT_LIVED_JVM} '
                                                f'-XX:ArchiveClassesAtExit={archive}" pyspark-shell')
    subprocess.run([sys.executable, "-c", _SPARK_WARM_UP, str(work / "table")], env=env, capture_output=True,
                   timeout=600, check=True)
    return f"{SHORT_LIVED_JVM} -XX:SharedArchiveFile={archive}" if archive.exists() else SHORT_LIVED_JVM
