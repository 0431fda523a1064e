"""The tracking store: experiments and runs as rows of the store's Delta tables.

``AbstractTrackingStore`` is the small interface (a batch write and reads); the single-item helpers
are written once on it. ``DeltaTrackingStore`` is the implementation on a ``DeltaStore``.
"""

from __future__ import annotations

import abc
import itertools
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from sparktrack.entities import (
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
from sparktrack.errors import (
    AlreadyExistsError,
    ExperimentNotFoundError,
    NotFoundError,
    ParamOverwriteError,
    RunNotFoundError,
    RunStateError,
)
from sparktrack.store import tables
from sparktrack.tracking import run_rows
from sparktrack.tracking.run_rows import RunRows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparktrack.store.delta_store import DeltaStore


@dataclass(frozen=True, kw_only=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str
    delta_version: int | None = None
    schema_json: str | None = None
    context: str | None = None


class AbstractTrackingStore(abc.ABC):
    @abc.abstractmethod
    def create_experiment(self, name: str, artifact_location: str | None, tags: dict[str, str]) -> str: ...

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abc.abstractmethod
    def search_experiments(self, view_type: ViewType, filter_string: str | None,
                           order_by: Sequence[str] | None, max_results: int) -> list[Experiment]: ...

    @abc.abstractmethod
    def set_experiment_lifecycle(self, experiment_id: str, stage: LifecycleStage) -> None: ...

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def create_run(self, experiment_id: str, *, user_id: str | None, start_time: int,
                   tags: Sequence[RunTag], run_name: str | None, parent_run_id: str | None) -> Run: ...

    @abc.abstractmethod
    def update_run(self, run_id: str, status: str, end_time: int | None) -> None: ...

    @abc.abstractmethod
    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None: ...

    @abc.abstractmethod
    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
                  tags: Sequence[RunTag] = ()) -> None: ...

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abc.abstractmethod
    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None: ...

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    @abc.abstractmethod
    def search_runs(self, experiment_ids: Sequence[str], filter_string: str | None,
                    view_type: ViewType, max_results: int | None,
                    order_by: Sequence[str] | None) -> list[str]: ...

    @abc.abstractmethod
    def run_rows(self, run_ids: Sequence[str]) -> RunRows: ...

    @abc.abstractmethod
    def runs_frame(self, run_ids: Sequence[str] | None = None) -> DataFrame: ...

    @abc.abstractmethod
    def flush(self) -> None: ...

    # Single-item helpers, written once over log_batch.
    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=(metric,))

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=(param,))

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=(tag,))


@dataclass
class _KnownRun:
    """What this process knows of a run, so the hot path needs no read."""

    experiment_id: str
    lifecycle_stage: str
    params: dict[str, str] = field(default_factory=dict)


class DeltaTrackingStore(AbstractTrackingStore):
    def __init__(self, delta: DeltaStore):
        self.delta = delta
        self._buffer = delta.buffer
        self._runs: dict[str, _KnownRun] = {}
        self._experiments: dict[str, Experiment] = {}
        self._seq = itertools.count(1)

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None, tags: dict[str, str]) -> str:
        experiment_id = uuid.uuid4().hex
        location = artifact_location or f"{self.delta.artifact_root}/{experiment_id}"
        row = (experiment_id, name, location, now_ms())
        self.delta.insert_if_absent(tables.EXPERIMENTS, [row], key="name")
        winner = self._experiment_ids_by_name(name)
        if winner != experiment_id:
            raise AlreadyExistsError(
                "Experiment", name,
                "Use set_experiment() to get it or create it, or pick another name.",
            )
        if tags:
            now = now_ms()
            self.delta.append(
                tables.EXPERIMENT_EVENTS,
                [(experiment_id, "tag", key, value, now) for key, value in tags.items()],
            )
        return experiment_id

    def _experiment_ids_by_name(self, name: str) -> str | None:
        (rows,) = self.delta.read_rows((tables.EXPERIMENTS, {"name": [name]}))
        return rows["experiment_id"][0].as_py() if rows.num_rows else None

    def _experiments_frame(self) -> DataFrame:
        return self.delta.view("experiments_current")

    def _read_experiment(self, column: str, value: str) -> Experiment | None:
        """The experiment whose ``column`` is ``value``, folded from its rows (see
        tracking.experiments), and remembered."""
        from sparktrack.tracking import experiments

        rows, events = self.delta.read_rows((tables.EXPERIMENTS, {column: [value]}), (tables.EXPERIMENT_EVENTS, {}))
        found = experiments.fold(rows, events)
        if not found:
            return None
        self._experiments[found[0].experiment_id] = found[0]
        return found[0]

    def get_experiment(self, experiment_id: str) -> Experiment:
        experiment = self._read_experiment("experiment_id", experiment_id)
        if experiment is None:
            raise ExperimentNotFoundError(experiment_id)
        return experiment

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._read_experiment("name", name)

    def search_experiments(self, view_type: ViewType, filter_string: str | None,
                           order_by: Sequence[str] | None, max_results: int) -> list[Experiment]:
        from pyspark.sql import functions as F

        from sparktrack.tracking import filters

        frame = self._experiments_frame().filter(F.col("lifecycle_stage").isin(*view_type.stages()))
        frame = filters.apply(frame, filter_string, list(order_by or []), filters.EXPERIMENTS)
        return [Experiment.from_row(row) for row in frame.limit(max_results).collect()]

    def set_experiment_lifecycle(self, experiment_id: str, stage: LifecycleStage) -> None:
        self.get_experiment(experiment_id)
        self.delta.append(
            tables.EXPERIMENT_EVENTS, [(experiment_id, "lifecycle", None, stage.value, now_ms())]
        )
        self._experiments.pop(experiment_id, None)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.get_experiment(experiment_id)
        self.delta.append(tables.EXPERIMENT_EVENTS, [(experiment_id, "tag", key, value, now_ms())])

    def _active_experiment(self, experiment_id: str) -> Experiment:
        experiment = self._experiments.get(experiment_id) or self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise RunStateError(
                f"Experiment {experiment.name!r} ({experiment_id}) is deleted; restore it with "
                "restore_experiment() before starting runs in it."
            )
        return experiment

    # -- runs: writes -------------------------------------------------------------------------
    def create_run(self, experiment_id: str, *, user_id: str | None, start_time: int,
                   tags: Sequence[RunTag], run_name: str | None, parent_run_id: str | None) -> Run:
        from sparktrack.entities import RunData, RunInfo

        experiment = self._active_experiment(experiment_id)
        run_id = uuid.uuid4().hex
        artifact_uri = f"{experiment.artifact_location}/{run_id}/artifacts"
        app_id = self.delta.spark.sparkContext.applicationId
        self._buffer.add("runs", (run_id, experiment_id, run_name, user_id, start_time, artifact_uri,
                                  parent_run_id, app_id))
        self._buffer.add("run_events", (run_id, RunStatus.RUNNING.value, None,
                                        LifecycleStage.ACTIVE.value, start_time, next(self._seq)))
        self._runs[run_id] = _KnownRun(experiment_id=experiment_id,
                                       lifecycle_stage=LifecycleStage.ACTIVE.value)
        self._add_tags(run_id, tags)
        info = RunInfo(run_id=run_id, experiment_id=experiment_id, run_name=run_name,
                       user_id=user_id, status=RunStatus.RUNNING.value, start_time=start_time,
                       end_time=None, artifact_uri=artifact_uri, parent_run_id=parent_run_id,
                       spark_app_id=app_id)
        return Run(info=info, data=RunData(tags={t.key: t.value for t in tags}))

    def update_run(self, run_id: str, status: str, end_time: int | None) -> None:
        self.known_run(run_id)
        self._buffer.add("run_events", (run_id, status, end_time, None, now_ms(), next(self._seq)))

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        known = self.known_run(run_id, allow_deleted=True)
        self._buffer.add("run_events", (run_id, None, None, stage.value, now_ms(), next(self._seq)))
        known.lifecycle_stage = stage.value
        self.flush()

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
                  tags: Sequence[RunTag] = ()) -> None:
        known = self._runs.get(run_id)
        if known is None or known.lifecycle_stage != "active":
            known = self.known_run(run_id)
        if params:
            self._check_params(run_id, known, params)
        if metrics:
            self._buffer.add_many("metrics", ((run_id, m.key, m.value, m.step, m.timestamp) for m in metrics))
        if params:
            now = now_ms()
            self._buffer.add_many("params", ((run_id, p.key, p.value, now, next(self._seq)) for p in params))
            known.params.update((p.key, p.value) for p in params)
        self._add_tags(run_id, tags)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        """The hot path: log_batch of one metric, whose key and run id are validated."""
        known = self._runs.get(run_id)
        if known is None or known.lifecycle_stage != "active":
            self.known_run(run_id)
        self._buffer.add_metric(run_id, metric.key, metric.value, metric.step, metric.timestamp)

    def _check_params(self, run_id: str, known: _KnownRun, params: Sequence[Param]) -> None:
        seen: dict[str, str] = {}
        for param in params:
            old = known.params.get(param.key, seen.get(param.key))
            if old is not None and old != param.value:
                raise ParamOverwriteError(run_id, param.key, old, param.value)
            seen[param.key] = param.value

    def _add_tags(self, run_id: str, tags: Sequence[RunTag]) -> None:
        if tags:
            now = now_ms()
            self._buffer.add_many(
                "tags", ((run_id, t.key, t.value, False, now, next(self._seq)) for t in tags)
            )

    def delete_tag(self, run_id: str, key: str) -> None:
        run = self.get_run(run_id)
        if key not in run.data.tags:
            raise NotFoundError(
                f"Run {run_id} has no tag {key!r}; its tags are {sorted(run.data.tags)}."
            )
        self._buffer.add("tags", (run_id, key, None, True, now_ms(), next(self._seq)))

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self.known_run(run_id)
        now = now_ms()
        self._buffer.add_many("inputs", (
            (run_id, d.name, d.digest, d.source_type, d.source, d.delta_version, d.schema_json,
             d.context, now) for d in datasets
        ))

    def known_run(self, run_id: str, allow_deleted: bool = False) -> _KnownRun:
        """The run's cached state, read from the store the first time this process meets it."""
        known = self._runs.get(run_id)
        if known is None:
            run = self.get_run(run_id)
            known = _KnownRun(experiment_id=run.info.experiment_id,
                              lifecycle_stage=run.info.lifecycle_stage, params=dict(run.data.params))
            self._runs[run_id] = known
        if not allow_deleted and known.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise RunStateError(
                f"Run {run_id} is deleted; restore it with restore_run({run_id!r}) to log to it."
            )
        return known

    # -- runs: reads --------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """One run, read from each table side by side; the latest event wins, as in the views."""
        self.flush()
        found = self.run_rows([run_id]).runs()
        if not found:
            raise RunNotFoundError(run_id)
        return found[0]

    def run_rows(self, run_ids: Sequence[str]) -> RunRows:
        """The current state of these runs, in this order (unknown ids are left out): their raw
        rows (see DeltaStore.read_rows) folded with Arrow."""
        ids = list(run_ids)
        read = self.delta.read_rows(*((table, {"run_id": ids}) for table in run_rows.SOURCES))
        return run_rows.fold({table.name: rows for table, rows in zip(run_rows.SOURCES, read)}, ids)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """The run's points of a metric by step. On a local store, read with pyarrow from the
        metric files whose statistics admit the run (see LocalSnapshots.read_matching), where
        Spark's read of the same rows costs a snapshot and a job (0.5 s at 10M points)."""
        from pyspark.sql import functions as F

        from sparktrack.entities import to_millis

        self.flush()
        found = None
        if self.delta.snapshots is not None:
            found = self.delta.snapshots.read_matching(tables.METRICS, "run_id", run_id, key=key)
        if found is not None:
            rows = found.select(["key", "value", "timestamp", "step"]).to_pylist()
        else:
            rows = (self.delta.table(tables.METRICS)
                    .filter((F.col("run_id") == F.lit(run_id)) & (F.col("key") == F.lit(key)))
                    .select("key", "value", "timestamp", "step")
                    .collect())
        rows.sort(key=lambda r: (r["step"], r["timestamp"]))  # a Spark sort would add a sampling job
        if not rows:
            self.get_run(run_id)  # an unknown run is an error, an unknown key an empty history
        return [Metric(key=r["key"], value=r["value"], timestamp=to_millis(r["timestamp"]), step=r["step"])
                for r in rows]

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str | None,
                    view_type: ViewType, max_results: int | None,
                    order_by: Sequence[str] | None) -> list[str]:
        """The ids of the runs matching a filter, in order.

        The candidates are read narrowly (see DeltaStore.read_rows): the experiments' runs, the
        run events, and only the rows of the keys that the filter and ``order_by`` name
        (``metrics.acc`` reads the ``acc`` rows of metrics_latest, not every metric of every
        run). They are folded and filtered in the driver (:func:`filters.apply_arrow`, Spark's
        semantics): a Spark query planning joins and aggregations over the same rows costs
        seconds more. Full rows come from :meth:`run_rows` or :meth:`runs_frame`."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from sparktrack.tracking import filters

        order_by = list(order_by or [])
        keys = filters.map_keys(filter_string, order_by, filters.RUNS)  # a bad filter fails before any I/O
        self.flush()
        reads = {tables.RUNS: {"experiment_id": list(experiment_ids)}, tables.RUN_EVENTS: {}}
        for column, table in run_rows.ENTRIES.items():
            if keys.get(column):
                reads[table] = {"key": sorted(keys[column])}
        stages = sorted(view_type.stages())

        def candidates() -> pa.Table:
            read = self.delta.read_rows(*reads.items())
            state = run_rows.fold({table.name: rows for table, rows in zip(reads, read)})
            found = state.attributes.filter(pc.is_in(state.attributes["lifecycle_stage"], value_set=pa.array(stages)))
            for column, names in keys.items():
                for key in names:
                    found = found.append_column(f"{column}.{key}", state.column_of(column, key, found["run_id"]))
            return found

        memo_key = ("search candidates", tuple(sorted(experiment_ids)), tuple(stages),
                    tuple((column, tuple(sorted(names))) for column, names in sorted(keys.items())))
        candidates = self.delta.memo(memo_key, list(reads), candidates)
        matches = filters.apply_arrow(candidates, filter_string, order_by, filters.RUNS)
        return matches.column("run_id").slice(0, max_results).to_pylist()

    def runs_frame(self, run_ids: Sequence[str] | None = None) -> DataFrame:
        """The ``runs`` view, or its rows of ``run_ids`` in that order."""
        import pyarrow as pa

        if run_ids is None:
            return self.delta.view("runs_current")
        spark = self.delta.spark
        wanted = spark.createDataFrame(pa.table({"run_id": pa.array(list(run_ids), pa.string()),
                                                 "rank": pa.array(range(len(run_ids)), pa.int64())}))
        name = f"sparktrack_runs_{uuid.uuid4().hex}"
        wanted.createOrReplaceTempView(name)
        try:  # the plan is resolved here, so the view can go right after
            rows = spark.sql(self.delta.view_sql("runs_current", runs=name))
        finally:
            spark.catalog.dropTempView(name)
        return rows.join(wanted, "run_id").orderBy("rank").drop("rank")

    def flush(self) -> None:
        self._buffer.flush()
