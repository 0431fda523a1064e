"""The fluent API (``sparktrack.log_metric`` and friends): thin wrappers over a SparkTrackClient
on the default store (``set_tracking_uri``).

The active run and the active experiment live in ``ContextVar``s, so each thread and each asyncio
task has its own (a new thread starts with no active run). The store set by ``set_tracking_uri``
is the process's (see sparktrack.defaults).
"""

from __future__ import annotations

import atexit
import os
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from sparktrack import defaults
from sparktrack.client import SparkTrackClient
from sparktrack.entities import DatasetInput, Experiment, Metric, Param, Run, RunStatus, RunTag, ViewType, now_ms
from sparktrack.errors import RunStateError
from sparktrack.store.bootstrap import DEFAULT_EXPERIMENT_ID
from sparktrack.tracking import validation
from sparktrack.tracking.client import SEARCH_MAX_RESULTS_DEFAULT, OutputFormat

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparktrack.models.pyfunc import PythonModel
    from sparktrack.models.spark import SparkModel
    from sparktrack.registry.entities import ModelVersion

_active_runs: ContextVar[tuple[ActiveRun, ...]] = ContextVar("sparktrack_active_runs", default=())
_active_experiment: ContextVar[str | None] = ContextVar("sparktrack_active_experiment", default=None)
_exit_hook = threading.Lock()
_exit_hook_set = False


class ActiveRun(Run):
    """The run started by ``start_run``; as a context manager it ends the run on exit,
    FINISHED normally and FAILED when an exception escapes."""

    def __init__(self, run: Run):
        super().__init__(info=run.info, data=run.data)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        if any(run.info.run_id == self.info.run_id for run in _active_runs.get()):
            end_run(status)


def set_tracking_uri(store: str | None, spark: SparkSession | None = None) -> None:
    """Point the fluent API, and every client created without a store, at a store root
    (``None``: back to the ``store`` setting), and optionally at a SparkSession.

    Experiment ids belong to a store, so this also clears the active experiment."""
    defaults.set_default(store, spark)
    _active_experiment.set(None)


set_store = set_tracking_uri


def get_tracking_uri() -> str:
    return client().store_root


_clients: dict[tuple[str | None, int], SparkTrackClient] = {}
_clients_lock = threading.Lock()


def client() -> SparkTrackClient:
    """The client behind the fluent API: one per default store and session."""
    key = (defaults.store(), id(defaults.spark()))
    found = _clients.get(key)
    if found is None:
        with _clients_lock:
            found = _clients.get(key) or SparkTrackClient.default()
            _clients[key] = found
    return found


def forget_clients() -> None:
    """Drop cached clients (their stores were closed)."""
    _clients.clear()


# -- experiments ------------------------------------------------------------------------------
def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it by name if it does not exist."""
    if (experiment_name is None) == (experiment_id is None):
        from sparktrack.errors import InvalidValueError

        raise InvalidValueError("set_experiment arguments", (experiment_name, experiment_id),
                                "exactly one of experiment_name or experiment_id")
    c = client()
    if experiment_id is not None:
        experiment = c.get_experiment(experiment_id)
    else:
        experiment = c.get_or_create_experiment(experiment_name)
    if experiment.lifecycle_stage != "active":
        raise RunStateError(
            f"Experiment {experiment.name!r} is deleted; restore it with "
            f"restore_experiment({experiment.experiment_id!r}) or choose another name."
        )
    _active_experiment.set(experiment.experiment_id)
    return experiment


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: Mapping[str, Any] | None = None) -> str:
    return client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return client().get_experiment_by_name(name)


def search_experiments(view_type: ViewType | str = ViewType.ACTIVE_ONLY,
                       max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                       filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    return client().search_experiments(view_type, max_results, filter_string, order_by)


def delete_experiment(experiment_id: str) -> None:
    client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    client().restore_experiment(experiment_id)


# -- runs ---------------------------------------------------------------------------------------
def start_run(run_id: str | None = None, experiment_id: str | None = None,
              run_name: str | None = None, nested: bool = False,
              tags: Mapping[str, Any] | None = None, description: str | None = None) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active."""
    active = _active_runs.get()
    if active and not nested:
        raise RunStateError(
            f"Run {active[-1].info.run_id} is already active. End it with end_run(), or start a "
            "nested run with start_run(nested=True)."
        )
    c = client()
    if run_id is not None:
        run = c.get_run(run_id)
        c.update_run(run_id, RunStatus.RUNNING)
    else:
        tags = dict(tags or {})
        if description is not None:
            from sparktrack.tracking.context import NOTE

            tags[NOTE] = description
        run = c.create_run(
            experiment_id or current_experiment_id(),
            tags=tags, run_name=run_name,
            parent_run_id=active[-1].info.run_id if active else None,
        )
    active_run_ = ActiveRun(run)
    _active_runs.set(active + (active_run_,))
    _ensure_exit_hook()
    return active_run_


def end_run(status: str | RunStatus = RunStatus.FINISHED) -> None:
    """End the active run, committing everything it logged."""
    active = _active_runs.get()
    if not active:
        return
    run = active[-1]
    _active_runs.set(active[:-1])
    client().set_terminated(run.info.run_id, status)


def active_run() -> ActiveRun | None:
    active = _active_runs.get()
    return active[-1] if active else None


def current_experiment_id() -> str:
    """The experiment new runs go to: the one ``set_experiment`` set, else the default."""
    return _active_experiment.get() or DEFAULT_EXPERIMENT_ID


def logging_run_id(check: Callable[[], object] | None = None) -> str:
    """The active run's id. With none, start one, as MLflow does on the first log call; but run
    ``check`` (the call's validation) first, so that bad input leaves no empty run behind."""
    active = _active_runs.get()
    if active:
        return active[-1].info.run_id
    if check is not None:
        check()
    return start_run().info.run_id


def _check_artifact(local_path: str | None, artifact_path: str | None, text: object = "") -> None:
    from sparktrack.engine.files import check_relative
    from sparktrack.errors import ArtifactNotFoundError, InvalidValueError

    check_relative(artifact_path)
    if local_path is not None and not os.path.exists(local_path):
        raise ArtifactNotFoundError(local_path)
    if not isinstance(text, str):
        raise InvalidValueError("log_text text", text, "a str")


def _ensure_exit_hook() -> None:
    global _exit_hook_set
    with _exit_hook:
        if not _exit_hook_set:
            atexit.register(_end_runs_at_exit)  # registered after the stores: runs before they close
            _exit_hook_set = True


def _end_runs_at_exit() -> None:
    while _active_runs.get():
        end_run(RunStatus.FINISHED)


def get_run(run_id: str) -> Run:
    return client().get_run(run_id)


def delete_run(run_id: str) -> None:
    client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    client().restore_run(run_id)


# -- logging ------------------------------------------------------------------------------------
def log_param(key: str, value: Any) -> Any:
    run_id = logging_run_id(lambda: validation.validate_batch(params=[Param(key=key, value=value)]))
    return client().log_param(run_id, key, value)


def log_params(params: Mapping[str, Any]) -> None:
    batch = [Param(key=k, value=v) for k, v in params.items()]
    client().log_batch(logging_run_id(lambda: validation.validate_batch(params=batch)), params=batch)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    run_id = logging_run_id(lambda: validation.validate_metric(key, value, now_ms() if timestamp is None else timestamp,
                                                        step))
    client().log_metric(run_id, key, value, timestamp, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None,
                timestamp: int | None = None) -> None:
    now = now_ms() if timestamp is None else timestamp
    batch = [Metric(key=k, value=v, timestamp=now, step=0 if step is None else step) for k, v in metrics.items()]
    client().log_batch(logging_run_id(lambda: validation.validate_batch(metrics=batch)), metrics=batch)


def set_tag(key: str, value: Any) -> None:
    client().set_tag(logging_run_id(lambda: validation.validate_batch(tags=[RunTag(key=key, value=value)])), key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    batch = [RunTag(key=k, value=v) for k, v in tags.items()]
    client().log_batch(logging_run_id(lambda: validation.validate_batch(tags=batch)), tags=batch)


def delete_tag(key: str) -> None:
    client().delete_tag(logging_run_id(), key)


def log_batch(metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
              tags: Sequence[RunTag] = ()) -> None:
    checked = validation.validate_batch(metrics, params, tags)  # lists, even if given generators
    client().log_batch(logging_run_id(), *checked)


def log_artifact(local_path: str, artifact_path: str | None = None) -> str:
    return client().log_artifact(logging_run_id(lambda: _check_artifact(local_path, artifact_path)), local_path,
                                 artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None) -> str:
    return client().log_artifacts(logging_run_id(lambda: _check_artifact(local_dir, artifact_path)), local_dir,
                                  artifact_path)


def log_text(text: str, artifact_file: str) -> str:
    return client().log_text(logging_run_id(lambda: _check_artifact(None, artifact_file, text)), text, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> str:
    return client().log_figure(logging_run_id(lambda: _check_artifact(None, artifact_file)), figure, artifact_file)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> str:
    return client().log_dict(logging_run_id(lambda: _check_artifact(None, artifact_file)), dictionary, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    return client().get_artifact_uri(logging_run_id(), artifact_path)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return client().get_metric_history(run_id, key)


def log_input(data: str | DataFrame | DatasetInput, context: str | None = None,
              name: str | None = None) -> DatasetInput:
    """Record a dataset the active run used: a Delta table's path (its current version, read
    without Spark), or a DataFrame (read from a Delta table, it records the table and the exact
    version it read)."""
    from sparktrack.tracking.datasets import dataset_input

    c = client()
    dataset = dataset_input(data, context, name, c.store.location.storage_options)  # checked first
    c.log_inputs(logging_run_id(), [dataset])
    return dataset


def flush() -> None:
    client().flush()


def search_runs(experiment_ids: str | Sequence[str] | None = None, filter_string: str | None = None,
                run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
                max_results: int | None = SEARCH_MAX_RESULTS_DEFAULT,
                order_by: Sequence[str] | None = None, output_format: OutputFormat = "pandas",
                experiment_names: Sequence[str] | None = None):
    """Search runs; with no experiment given, the active experiment (as MLflow does)."""
    if experiment_ids is None and experiment_names is None:
        experiment_ids = [current_experiment_id()]
    return client().search_runs(experiment_ids, filter_string, run_view_type, max_results,
                                order_by, output_format, experiment_names)


# -- models and SQL -----------------------------------------------------------------------------
def register_model(model_uri: str, name: str, tags: Mapping[str, Any] | None = None) -> ModelVersion:
    """Register the model at ``model_uri`` (e.g. ``runs:/<run_id>/model``) as a new version of
    ``name``."""
    return client().register_model(model_uri, name, tags)


def load_model(model_uri: str) -> SparkModel | PythonModel:
    """Load the model at ``model_uri`` (``runs:/``, ``models:/``, or a directory) with its flavor."""
    from sparktrack import models

    return models.load_model(model_uri, client=client())


def register_views(spark: SparkSession | None = None) -> str:
    """Make the default store's tables and views visible to ``spark.sql`` in ``spark`` (default:
    the active session, else a new local one) as ``sparktrack.runs`` and so on. Returns the
    database."""
    from sparktrack.session import resolve_session
    from sparktrack.views import register_views as register

    c = client()
    return register(resolve_session(spark if spark is not None else defaults.spark()), c.store, c.database)


def sql(statement: str) -> DataFrame:
    """Run a Spark SQL statement with the default store's views registered (``sparktrack.runs``,
    ``sparktrack.metrics``, ``sparktrack.model_lineage``...)."""
    return client().sql(statement)
