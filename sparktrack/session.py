"""The one place that decides which SparkSession sparktrack uses.

``resolve_session(spark)`` returns the session passed in, else the active one, else a new local
session configured for Delta Lake (``spark_session()``). A session the user built is never replaced
or reconfigured; if it lacks Delta, the error names the settings to add.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Mapping

from sparktrack import settings
from sparktrack.errors import SessionError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"

#: Settings that keep a local session small and quick; a cluster session keeps its own.
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
}


def delta_jar_settings(packages: str | None = None, jars: str | None = None) -> dict[str, str]:
    """The Spark settings that put Delta Lake's jars on the classpath.

    Local jar paths (``SPARKTRACK_DELTA_JARS``) win over the Maven coordinate, so an air-gapped
    cluster never reaches for the network.
    """
    jars = settings.DELTA_JARS.get(jars)
    if jars:
        return {"spark.jars": jars}
    return {"spark.jars.packages": settings.DELTA_PACKAGE.get(packages)}


def launched_by_spark_submit() -> bool:
    """True in a Python driver that spark-submit started: its JVM is already running, with the
    master, the jars and the settings that spark-submit was given."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_session(
    master: str | None = None,
    app_name: str = "sparktrack",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Build (or return the running) SparkSession configured for Delta Lake.

    Delta's jars are resolved from Maven Central on first use and cached by Ivy under ``~/.ivy2*``.
    Under spark-submit the master and the jars are spark-submit's (``--master``,
    ``--properties-file conf/spark-defaults.conf``); only Delta's SQL settings are added here.
    """
    if launched_by_spark_submit():
        return _submitted_session(app_name, conf)
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is None:
        _check_java()

    master = settings.SPARK_MASTER.get(master)
    options: dict[str, str] = {}
    if master.startswith("local"):
        options.update(LOCAL_DEFAULTS)
        # Local Python workers (pandas UDFs) run PYSPARK_PYTHON, else whatever `python3` is
        # first on PATH, which may lack pandas and pyarrow: use this interpreter unless told.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    options.update(delta_jar_settings())
    options["spark.sql.extensions"] = DELTA_EXTENSION
    options["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
    options.update(settings.SPARK_CONF.get())
    options.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in options.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    check_delta(spark)
    return spark


def _check_java() -> None:
    """Spark needs a JVM: say so plainly rather than with Spark's "gateway exited"."""
    import shutil

    home = os.environ.get("JAVA_HOME")
    if not (home and os.path.exists(os.path.join(home, "bin", "java"))) and shutil.which("java") is None:
        raise SessionError(
            "Spark needs Java 17, and there is no java on PATH and no JAVA_HOME. Install a JDK (for "
            "example `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME. Tracking, the "
            "registry and Python models need no Java; only Spark's own work does (SQL over the store, "
            "Spark ML, batch scoring, the jobs).")


def _submitted_session(app_name: str, conf: Mapping[str, str] | None) -> SparkSession:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    options = {"spark.sql.extensions": DELTA_EXTENSION, "spark.sql.catalog.spark_catalog": DELTA_CATALOG}
    options.update(conf or {})
    for key, value in options.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        spark._jvm.org.apache.spark.util.Utils.classForName(DELTA_EXTENSION, True, False)
    except Exception:  # noqa: BLE001 - py4j wraps the ClassNotFoundException
        raise SessionError(
            "Delta Lake's jars are not on this spark-submit's classpath. Submit with "
            "--properties-file conf/spark-defaults.conf (it sets spark.jars.packages), or add "
            f"--packages {settings.DELTA_PACKAGE.get()} (or --jars with local Delta jars)."
        ) from None
    check_delta(spark)
    return spark


def resolve_session(spark: SparkSession | None = None) -> SparkSession:
    """The session passed in, else the active one, else a new local Delta session."""
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        if spark is None:
            return spark_session()
    check_delta(spark)
    return spark


def check_delta(spark: SparkSession) -> None:
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    if DELTA_EXTENSION not in extensions:
        raise SessionError(
            "The SparkSession has no Delta Lake support (spark.sql.extensions is "
            f"{extensions!r}). Build it with sparktrack.spark_session(), or add these settings: "
            f"spark.sql.extensions={DELTA_EXTENSION}, "
            f"spark.sql.catalog.spark_catalog={DELTA_CATALOG}, and "
            f"spark.jars.packages={settings.DELTA_PACKAGE.get()} (or spark.jars with local jars)."
        )
