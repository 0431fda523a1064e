"""``TrackingClient``: MLflow's tracking operations by id, over one store.

Validation and bookkeeping live here, once; the store only writes and reads rows. A client needs
no JVM: it reaches for a SparkSession only for what is Spark's own (``output_format="spark"``,
``log_input`` of a DataFrame, ``client.sql``).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Iterable, Literal, Mapping, Sequence

from sparktrack import defaults, search, settings
from sparktrack.engine.files import ArtifactRepository, check_relative
from sparktrack.engine.location import join_uri
from sparktrack.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
    now_ms,
)
from sparktrack.errors import ExperimentNotFoundError, InvalidValueError
from sparktrack.store import layout
from sparktrack.store.store import Store, open_store
from sparktrack.tracking import context, validation
from sparktrack.tracking.store import DeltaTrackingStore
from sparktrack.tracking.validation import SEARCH_MAX_RESULTS_DEFAULT

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

OutputFormat = Literal["list", "pandas", "spark"]


class TrackingClient:
    """Tracking operations on a store root: ``store``, else the one ``set_tracking_uri`` set,
    else the ``store`` setting (``SPARKTRACK_STORE``)."""

    def __init__(self, store: str | None = None, spark: SparkSession | None = None,
                 database: str | None = None):
        if store is None:
            store, spark = defaults.store(), spark if spark is not None else defaults.spark()
        self.store: Store = open_store(store)
        self._store = self.store.shared(DeltaTrackingStore)
        self._spark = spark
        self._database = settings.DATABASE.get(database)
        self._artifact_uris: dict[str, str] = {}

    @property
    def spark(self) -> SparkSession:
        """The client's SparkSession (the one passed in, else the active one, else a new local
        session with Delta), started on first use."""
        from sparktrack.session import resolve_session

        self._spark = resolve_session(self._spark)
        return self._spark

    def sql(self, statement: str) -> DataFrame:
        """A Spark SQL statement in the client's session, with the store's tables and views
        registered in its database (``sparktrack.runs``...): registered on the first call."""
        from sparktrack.views import register_views

        if not isinstance(statement, str) or not statement.strip():
            raise InvalidValueError("sql statement", statement,
                                    "a Spark SQL statement, e.g. 'SELECT * FROM sparktrack.runs'")
        self.flush()
        register_views(self.spark, self.store, self._database)
        return self.spark.sql(statement)

    @property
    def store_root(self) -> str:
        return self.store.root

    @property
    def database(self) -> str:
        return self._database

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: Mapping[str, Any] | None = None) -> str:
        validation.validate_experiment_name(name)
        return self._store.create_experiment(name, artifact_location, validation.validate_tags(tags))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(validation.validate_id(experiment_id, "experiment"))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(validation.validate_experiment_name(name))

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment named ``name``, created if missing; safe under concurrency."""
        from sparktrack.errors import AlreadyExistsError

        experiment = self.get_experiment_by_name(name)
        if experiment is None:
            try:
                experiment_id = self.create_experiment(name)
            except AlreadyExistsError:  # another process created it first
                experiment = self.get_experiment_by_name(name)
            else:
                experiment = self.get_experiment(experiment_id)
        assert experiment is not None
        return experiment

    def search_experiments(self, view_type: ViewType | str = ViewType.ACTIVE_ONLY,
                           max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None) -> list[Experiment]:
        return self._store.search_experiments(
            _view_type(view_type, "view_type"), validation.validate_filter(filter_string),
            validation.validate_order_by(order_by), validation.validate_max_results(max_results),
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.set_experiment_lifecycle(validation.validate_id(experiment_id, "experiment"),
                                             LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.set_experiment_lifecycle(validation.validate_id(experiment_id, "experiment"),
                                             LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        validation.validate_key(key, "tag")
        self._store.set_experiment_tag(validation.validate_id(experiment_id, "experiment"), key,
                                       validation.tag_value(key, value))

    # -- runs ---------------------------------------------------------------------------------
    def create_run(self, experiment_id: str, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None,
                   parent_run_id: str | None = None) -> Run:
        validation.validate_run_name(run_name)
        if parent_run_id is not None:
            self.get_run(parent_run_id)  # the parent must exist
        run_name = run_name or context.generate_run_name()
        user_tags = validation.validate_tags(tags)
        app_id = self._spark_app_id()
        all_tags = {**context.system_tags(app_id),
                    context.RUN_NAME: run_name, **user_tags}
        if parent_run_id:
            all_tags[context.PARENT_RUN_ID] = parent_run_id
        run = self._store.create_run(
            validation.validate_id(experiment_id, "experiment"),
            user_id=all_tags.get(context.USER),
            start_time=now_ms() if start_time is None else validation.validate_timestamp(start_time, "start_time"),
            tags=[RunTag(key=k, value=v) for k, v in all_tags.items()],
            run_name=run_name,
            parent_run_id=parent_run_id,
            spark_app_id=app_id,
        )
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri
        return run

    def _spark_app_id(self) -> str | None:
        """The Spark application this process runs, if one is running: never starts one."""
        if self._spark is not None:
            return self._spark.sparkContext.applicationId
        if "pyspark.sql" not in sys.modules:  # no session can exist
            return None
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        return active.sparkContext.applicationId if active is not None else None

    def get_run(self, run_id: str) -> Run:
        return self._store.get_run(validation.validate_id(run_id, "run"))

    def set_terminated(self, run_id: str, status: str | RunStatus = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        status = _status(status)
        end = now_ms() if end_time is None else validation.validate_timestamp(end_time, "end_time")
        self._store.update_run(run_id, status, end)
        self._store.flush()

    def update_run(self, run_id: str, status: str | RunStatus) -> None:
        status = _status(status)
        end = now_ms() if RunStatus.is_terminated(status) else None
        self._store.update_run(run_id, status, end)

    def delete_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(validation.validate_id(run_id, "run"), LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(validation.validate_id(run_id, "run"), LifecycleStage.ACTIVE)

    # -- logging ------------------------------------------------------------------------------
    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        metric = validation.validate_metric(key, value, now_ms() if timestamp is None else timestamp, step)
        self._store.log_metric(run_id, metric)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self.log_batch(run_id, params=[Param(key=key, value=value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[RunTag(key=key, value=value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, validation.validate_key(key, "tag"))

    def log_batch(self, run_id: str, metrics: Iterable[Metric] = (), params: Iterable[Param] = (),
                  tags: Iterable[RunTag] = ()) -> None:
        """Log many records at once; all are validated before any is written."""
        metrics, params, tags = validation.validate_batch(metrics, params, tags)
        self._store.log_batch(validation.validate_id(run_id, "run"), metrics, params, tags)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        if isinstance(datasets, (str, bytes, DatasetInput)) or not all(isinstance(d, DatasetInput) for d in datasets):
            raise InvalidValueError("log_inputs datasets", datasets, "a list of sparktrack.DatasetInput")
        self._store.log_inputs(validation.validate_id(run_id, "run"), datasets)

    def log_input(self, run_id: str, data: Any, context: str | None = None,
                  name: str | None = None) -> DatasetInput:
        """Record a dataset the run used: a Delta table's path (no Spark needed), a Spark
        DataFrame (a Delta scan records the table and the version it read), or a DatasetInput."""
        from sparktrack.tracking.datasets import dataset_input

        dataset = dataset_input(data, context, name, self.store.location.storage_options)
        self.log_inputs(run_id, [dataset])
        return dataset

    def get_run_inputs(self, run_id: str) -> list[DatasetInput]:
        """The datasets the run logged as inputs, oldest first."""
        return self._store.run_inputs(validation.validate_id(run_id, "run"))

    def flush(self) -> None:
        """Commit everything logged so far to the store."""
        self._store.flush()

    # -- artifacts ----------------------------------------------------------------------------
    def _artifacts(self, run_id: str) -> ArtifactRepository:
        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self.get_run(run_id).info.artifact_uri
            self._artifact_uris[run_id] = uri
        return ArtifactRepository(uri, self.store.location.storage_options)

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        return join_uri(self._artifacts(run_id).root, check_relative(artifact_path))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        return self._artifacts(run_id).log_artifact(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> str:
        return self._artifacts(run_id).log_artifacts(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        if not isinstance(text, str):
            raise InvalidValueError("log_text text", text, "a str")
        return self._artifacts(run_id).write_text(text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> str:
        """A matplotlib figure as an image (the file's extension says the format: png, svg,
        pdf...), or a plotly figure as a self-contained .html page, as MLflow's log_figure."""
        import io

        relative = check_relative(artifact_file)
        extension = relative.rpartition(".")[2].lower() if "." in relative else ""
        if callable(getattr(figure, "savefig", None)):  # matplotlib
            buffer = io.BytesIO()
            try:
                figure.savefig(buffer, format=extension or None)
            except ValueError as error:
                raise InvalidValueError("log_figure artifact_file", artifact_file,
                                        f"a file name with an extension matplotlib writes, e.g. plot.png ({error})") from None
            return self._artifacts(run_id).write_bytes(buffer.getvalue(), relative)
        if callable(getattr(figure, "to_html", None)):  # plotly
            if extension != "html":
                raise InvalidValueError("log_figure artifact_file", artifact_file,
                                        "a .html file for a plotly figure (written with plotly.js inlined)")
            return self.log_text(run_id, figure.to_html(include_plotlyjs=True, full_html=True), relative)
        raise InvalidValueError("log_figure figure", figure, "a matplotlib or plotly figure")

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> str:
        if isinstance(artifact_file, str) and artifact_file.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise InvalidValueError(
                    "log_dict artifact_file", artifact_file, "a .json file (install PyYAML for .yaml)"
                ) from None
            text = yaml.safe_dump(dict(dictionary), sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
        return self.log_text(run_id, text, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[dict]:
        return self._artifacts(run_id).list(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str) -> str:
        return self._artifacts(run_id).download(path, dst_path)

    def load_text(self, run_id: str, artifact_file: str) -> str:
        return self._artifacts(run_id).read_text(artifact_file)

    def load_bytes(self, run_id: str, artifact_file: str) -> bytes:
        return self._artifacts(run_id).read_bytes(artifact_file)

    # -- search -------------------------------------------------------------------------------
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._store.get_metric_history(validation.validate_id(run_id, "run"),
                                              validation.validate_key(key, "metric"))

    def get_metric_summaries(self, run_id: str) -> dict[str, dict[str, float | int]]:
        """Per metric of the run: the ``min`` and ``max`` of its history and its ``points``."""
        return self._store.metric_summaries(validation.validate_id(run_id, "run"))

    def get_metric_history_table(self, run_id: str, key: str) -> pa.Table:
        """The history as Arrow (``value``, ``timestamp``, ``step``; by step, then time): for a
        long history, a table rather than a Metric per point."""
        return self._store.metric_history_table(validation.validate_id(run_id, "run"),
                                                validation.validate_key(key, "metric"))

    def get_metric_histories_table(self, run_ids: Sequence[str], keys: Sequence[str]) -> pa.Table:
        """The histories of several runs' metrics in one read, as Arrow (``run_id``, ``key``,
        ``value``, ``timestamp``, ``step``; by run, key, then step): what a page of charts draws.
        A run or key without points has no rows."""
        return self._store.metric_histories_table([validation.validate_id(i, "run") for i in run_ids],
                                                  [validation.validate_key(k, "metric") for k in keys])

    def search_runs(self, experiment_ids: str | Sequence[str] | None = None,
                    filter_string: str | None = None,
                    run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
                    max_results: int | None = SEARCH_MAX_RESULTS_DEFAULT,
                    order_by: Sequence[str] | None = None,
                    output_format: OutputFormat = "list",
                    experiment_names: Sequence[str] | None = None) -> list[Run] | pd.DataFrame | DataFrame:
        """Runs of the given experiments that match ``filter_string`` (MLflow's grammar)."""
        ids = self._experiment_ids(experiment_ids, experiment_names)
        if output_format not in ("list", "pandas", "spark"):
            raise InvalidValueError("output_format", output_format, "one of 'list', 'pandas', 'spark'")
        filter_string, order_by = validation.validate_filter(filter_string), validation.validate_order_by(order_by)
        view_type = _view_type(run_view_type)
        limit = None if max_results is None else validation.validate_max_results(max_results)
        if output_format == "spark":
            return self._runs_frame(ids, filter_string, order_by, view_type, limit)
        run_ids = self._store.search_runs(ids, filter_string, view_type, limit, order_by)
        found = self._store.run_rows(run_ids)
        return found.pandas() if output_format == "pandas" else found.runs()

    def search_runs_page(self, experiment_ids: Sequence[str], filter_string: str | None, run_view_type: ViewType | str,
                         order_by: Sequence[str] | None, offset: int, size: int) -> tuple[list[Run], bool]:
        """One page of ``search_runs``: the ``size`` runs after the first ``offset`` matches, and
        whether more follow. Only the page's runs are assembled."""
        filter_string, order_by = validation.validate_filter(filter_string), validation.validate_order_by(order_by)
        ids = [validation.validate_id(i, "experiment") for i in experiment_ids]
        run_ids = self._store.search_runs(ids, filter_string, _view_type(run_view_type), offset + size + 1, order_by)
        return self._store.run_rows(run_ids[offset:offset + size]).runs(), len(run_ids) > offset + size

    def _runs_frame(self, experiment_ids: list[str], filter_string: str | None, order_by: list[str],
                    view_type: ViewType, limit: int | None) -> DataFrame:
        """The search as a lazily evaluated Spark query over the ``runs`` view (the filter
        compiled to Spark Columns, with the semantics of the search in the driver)."""
        from pyspark.sql import functions as F

        from sparktrack.views import view_sql

        query = search.bind(filter_string, order_by, search.RUNS)  # a bad filter fails before Spark starts
        self.flush()
        spark = self.spark
        frame = spark.sql(view_sql(self.store, "runs_current")).filter(
            F.col("experiment_id").isin(*experiment_ids) & F.col("lifecycle_stage").isin(*view_type.stages()))
        if "datasets" in query.keys:  # a run's datasets, as an array the filter looks into
            inputs = spark.read.format("delta").load(self.store.table_uri(layout.INPUTS, for_spark=True))
            datasets = inputs.groupBy("run_id").agg(
                F.collect_list(F.struct("name", "digest", "context")).alias("datasets"))
            frame = search.spark.apply(frame.join(datasets, "run_id", "left"), query).drop("datasets")
        else:
            frame = search.spark.apply(frame, query)
        return frame if limit is None else frame.limit(limit)

    def _experiment_ids(self, experiment_ids: str | Sequence[str] | None,
                        experiment_names: Sequence[str] | None) -> list[str]:
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids or [])
        for name in [experiment_names] if isinstance(experiment_names, str) else (experiment_names or []):
            experiment = self.get_experiment_by_name(name)
            if experiment is None:
                raise ExperimentNotFoundError(name, by="name")
            ids.append(experiment.experiment_id)
        if not ids:
            raise InvalidValueError(
                "search_runs experiments", experiment_ids,
                "at least one experiment id or name (experiment_ids=[...] or experiment_names=[...])",
            )
        return [validation.validate_id(i, "experiment") for i in ids]


def _view_type(value: ViewType | str, argument: str = "run_view_type") -> ViewType:
    try:
        return value if isinstance(value, ViewType) else ViewType(str(value).upper())
    except ValueError:
        raise InvalidValueError(argument, value, "ACTIVE_ONLY, DELETED_ONLY or ALL") from None


def _status(value: str | RunStatus) -> str:
    try:
        return RunStatus(value.value if isinstance(value, RunStatus) else str(value).upper()).value
    except ValueError:
        raise InvalidValueError("Run status", value, "one of " + ", ".join(s.value for s in RunStatus)) from None
