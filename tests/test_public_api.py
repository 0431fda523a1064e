"""The public surface is pinned, and importing sparktrack is cheap."""

from __future__ import annotations

import subprocess
import sys

import sparktrack

EXPECTED = {
    "ActiveRun", "DatasetInput", "Experiment", "LifecycleStage", "Metric", "Param", "Run", "RunData",
    "RunInfo", "RunStatus", "RunTag", "SparkTrackClient", "SparkTrackError", "TrackingClient", "ViewType",
    "__version__",
    "active_run", "autolog", "create_experiment", "delete_experiment", "delete_run", "delete_tag", "end_run",
    "flush", "get_artifact_uri", "get_experiment", "get_experiment_by_name", "get_metric_history",
    "get_run", "get_tracking_uri", "log_artifact", "log_artifacts", "log_batch", "log_dict", "log_figure",
    "load_model", "log_input", "log_metric", "log_metrics", "log_param", "log_params", "log_text",
    "register_model", "register_views", "restore_experiment", "restore_run", "search_experiments", "search_runs",
    "set_experiment", "set_store", "set_tag", "set_tags", "set_tracking_uri", "spark_session", "sql", "start_run",
}


def test_exported_members_are_pinned():
    assert set(sparktrack.__all__) == EXPECTED
    for name in sparktrack.__all__:
        assert hasattr(sparktrack, name), name


def test_import_starts_no_jvm_and_loads_no_optional_flavor():
    code = (
        "import sys, sparktrack\n"
        "loaded = [m for m in ('pyspark', 'deltalake', 'pyarrow', 'pandas', 'sklearn', 'mlflow') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "assert callable(sparktrack.spark.log_model) and callable(sparktrack.load_model)\n"
        "assert 'sklearn' not in sys.modules and 'pyspark' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_scoring_surface_is_pinned():
    import sparktrack.scoring

    assert sparktrack.scoring.__all__ == [
        "LINEAGE_COLUMNS", "MODES", "ScoreResult", "batch_score", "prepare_batch", "write_batch"]
    assert sparktrack.scoring.LINEAGE_COLUMNS == (
        "model_name", "model_version", "model_run_id", "batch_id", "scored_at")
