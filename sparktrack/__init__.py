"""sparktrack: the ML lifecycle on the lakehouse, every record a row in a Delta table.

``import sparktrack`` starts no JVM and imports neither pyspark nor delta-rs: the store is opened
on first use, with delta-rs, and a SparkSession only for what is Spark's own work.
"""

__version__ = "0.1.0"

from sparktrack.client import SparkTrackClient  # noqa: E402
from sparktrack.entities import (  # noqa: E402
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from sparktrack.errors import SparkTrackError  # noqa: E402
from sparktrack.session import spark_session  # noqa: E402
from sparktrack.tracking.client import TrackingClient  # noqa: E402
from sparktrack.tracking.fluent import (  # noqa: E402
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_run,
    get_tracking_uri,
    load_model,
    log_artifact,
    log_artifacts,
    log_batch,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    register_model,
    register_views,
    restore_experiment,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_store,
    set_tag,
    set_tags,
    set_tracking_uri,
    sql,
    start_run,
)

#: Submodules loaded on first attribute access, so that ``import sparktrack`` imports neither
#: pyspark.ml nor scikit-learn: ``sparktrack.spark.log_model(...)``, ``sparktrack.sklearn...``.
_LAZY_SUBMODULES = ("models", "pyfunc", "registry", "sklearn", "spark")


def autolog(**flags):
    """Autologging for every supported flavor whose library is installed (scikit-learn), with
    MLflow's flags: see ``sparktrack.autologging``."""
    from sparktrack.autologging import autolog as turn_on

    return turn_on(**flags)


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"sparktrack.{name}")
    raise AttributeError(f"module 'sparktrack' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "DatasetInput",
    "Experiment",
    "LifecycleStage",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "SparkTrackClient",
    "SparkTrackError",
    "TrackingClient",
    "ViewType",
    "__version__",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_batch",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "load_model",
    "log_text",
    "restore_experiment",
    "restore_run",
    "register_model",
    "register_views",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_store",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "spark_session",
    "sql",
    "start_run",
]
