"""How tests start other processes that run Spark: their environment, and JVM options that suit
a driver living a minute or two. The C1 compiler alone and the serial collector start faster on
two cores, and a class-data-sharing archive (dumped once per test session by a first worker)
spares each JVM most of its class loading; measured from process start to two Delta reads:
23.0 s plain, 17.6 s with the two flags, 10.9-12.5 s with the archive too. The work the
processes do is unchanged. C1 alone reserves a 48 MB code cache by default, which a driver that
trains a model and then runs Delta commits fills ("Out of space in CodeCache"; the JVM then stops
compiling or fails a task), so it gets the 240 MB that tiered compilation reserves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKER = str(REPO / "tests" / "_worker.py")
SHORT_LIVED_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=240m"


def worker_env(tmp_path: Path, java_options: str, **extra: str) -> dict[str, str]:
    """The environment of a Python process that opens its own local Spark (``local[1]``)."""
    env = {**os.environ, "SPARKTRACK_SPOOL_DIR": str(tmp_path / "spool"), "SPARKTRACK_SPARK_MASTER": "local[1]",
           "PYSPARK_SUBMIT_ARGS": f'--driver-java-options "{java_options}" pyspark-shell',
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("SPARKTRACK_STORE", None)
    env.update(extra)
    return env


def dump_class_archive(work: Path) -> str:
    """Run one worker that logs and registers, dumping the classes it loaded to an archive; the
    JVM options that use it (or just SHORT_LIVED_JVM when the JVM could not dump one)."""
    archive = work / "classes.jsa"
    env = worker_env(work, f"{SHORT_LIVED_JVM} -XX:ArchiveClassesAtExit={archive}")
    subprocess.run([sys.executable, WORKER, "log_and_register", str(work / "store"), "warm-up", "100", "5",
                    "5", "0"], env=env, capture_output=True, timeout=600, check=True)
    return f"{SHORT_LIVED_JVM} -XX:SharedArchiveFile={archive}" if archive.exists() else SHORT_LIVED_JVM
