"""The tracking store: experiments and runs as rows of the store's Delta tables.

``AbstractTrackingStore`` is the small interface a backend implements (a batch write and reads);
the single-item helpers are written once on it. ``DeltaTrackingStore`` implements it on a
``Store`` (see store.store): writes go to the record buffer or straight to delta-rs, reads fold
the tables' rows in Arrow.
"""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from sparktrack import search
from sparktrack.entities import (
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
    now_ms,
    to_millis,
)
from sparktrack.errors import (
    AlreadyExistsError,
    ExperimentNotFoundError,
    NotFoundError,
    ParamOverwriteError,
    RunNotFoundError,
    RunStateError,
)
from sparktrack.store import layout
from sparktrack.tracking import experiments, run_rows
from sparktrack.tracking.run_rows import RunRows

if TYPE_CHECKING:
    from sparktrack.store.store import Store


class AbstractTrackingStore(abc.ABC):
    """What a tracking backend implements. Arguments arrive validated (see TrackingClient)."""

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
                   tags: Sequence[RunTag], run_name: str | None, parent_run_id: str | None,
                   spark_app_id: str | None) -> Run: ...

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
    def run_inputs(self, run_id: str) -> list[DatasetInput]: ...

    @abc.abstractmethod
    def flush(self) -> None: ...

    # Single-item helpers, written once over log_batch.
    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=(metric,))

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=(param,))

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=(tag,))


def _deleted(run_id: str) -> str:
    return f"Run {run_id} is deleted; restore it with restore_run({run_id!r}) to log to it."


@dataclass
class _KnownRun:
    """What this process knows of a run, so the hot path needs no read."""

    experiment_id: str
    lifecycle_stage: str
    params: dict[str, str] = field(default_factory=dict)


class DeltaTrackingStore(AbstractTrackingStore):
    def __init__(self, store: Store):
        self.store = store
        self._buffer = store.buffer
        self._runs: dict[str, _KnownRun] = {}
        self._experiments: dict[str, Experiment] = {}

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None, tags: dict[str, str]) -> str:
        experiment_id = uuid.uuid4().hex
        row = layout.EXPERIMENTS.row(
            experiment_id=experiment_id, name=name, creation_time=now_ms(),
            artifact_location=artifact_location or f"{self.store.artifact_root}/{experiment_id}")
        if not self.store.commits.claim(layout.EXPERIMENTS, row, {"name": name}):
            raise AlreadyExistsError(
                "Experiment", name, "Use set_experiment() to get it or create it, or pick another name.")
        if tags:
            now = now_ms()
            self.store.commits.append(layout.EXPERIMENT_EVENTS, [
                layout.EXPERIMENT_EVENTS.row(experiment_id=experiment_id, kind="tag", key=key, value=value,
                                             event_time=now) for key, value in tags.items()])
        return experiment_id

    def _read_experiment(self, column: str, value: str) -> Experiment | None:
        """The experiment whose ``column`` is ``value``, folded from its rows, and remembered."""
        rows, events = self.store.reads.read((layout.EXPERIMENTS, {column: [value]}), (layout.EXPERIMENT_EVENTS, {}))
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
        query = search.bind(filter_string, list(order_by or []), search.EXPERIMENTS)
        sources = (layout.EXPERIMENTS, layout.EXPERIMENT_EVENTS)
        every = self.store.reads.memo(("experiments",), sources, lambda: experiments.fold(
            *self.store.reads.read(*((table, {}) for table in sources))))
        candidates = [e for e in every if e.lifecycle_stage in view_type.stages()]
        table = experiments.search_table(candidates, query.keys.get("tags", []))
        by_id = {e.experiment_id: e for e in candidates}
        matches = search.arrow.apply(table, query).column("experiment_id").slice(0, max_results)
        return [by_id[i] for i in matches.to_pylist()]

    def set_experiment_lifecycle(self, experiment_id: str, stage: LifecycleStage) -> None:
        self.get_experiment(experiment_id)
        self._experiment_event(experiment_id, "lifecycle", None, stage.value)
        self._experiments.pop(experiment_id, None)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.get_experiment(experiment_id)
        self._experiment_event(experiment_id, "tag", key, value)

    def _experiment_event(self, experiment_id: str, kind: str, key: str | None, value: str) -> None:
        self.store.commits.append(layout.EXPERIMENT_EVENTS, [layout.EXPERIMENT_EVENTS.row(
            experiment_id=experiment_id, kind=kind, key=key, value=value, event_time=now_ms())])

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
                   tags: Sequence[RunTag], run_name: str | None, parent_run_id: str | None,
                   spark_app_id: str | None) -> Run:
        experiment = self._active_experiment(experiment_id)
        run_id = uuid.uuid4().hex
        artifact_uri = f"{experiment.artifact_location}/{run_id}/artifacts"
        self._buffer.add("runs", layout.RUNS.row(
            run_id=run_id, experiment_id=experiment_id, run_name=run_name, user_id=user_id,
            start_time=start_time, artifact_uri=artifact_uri, parent_run_id=parent_run_id,
            spark_app_id=spark_app_id))
        self._buffer.add("run_events", layout.RUN_EVENTS.row(
            run_id=run_id, status=RunStatus.RUNNING.value, lifecycle_stage=LifecycleStage.ACTIVE.value,
            event_time=start_time, seq=next(self.store.seq)))
        self._runs[run_id] = _KnownRun(experiment_id=experiment_id, lifecycle_stage=LifecycleStage.ACTIVE.value)
        self._add_tags(run_id, tags)
        info = RunInfo(run_id=run_id, experiment_id=experiment_id, run_name=run_name,
                       user_id=user_id, status=RunStatus.RUNNING.value, start_time=start_time,
                       end_time=None, artifact_uri=artifact_uri, parent_run_id=parent_run_id,
                       spark_app_id=spark_app_id)
        return Run(info=info, data=RunData(tags={t.key: t.value for t in tags}))

    def update_run(self, run_id: str, status: str, end_time: int | None) -> None:
        self._known(run_id)
        self._buffer.add("run_events", layout.RUN_EVENTS.row(
            run_id=run_id, status=status, end_time=end_time, event_time=now_ms(), seq=next(self.store.seq)))

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        known = self._known(run_id, allow_deleted=True)
        self._buffer.add("run_events", layout.RUN_EVENTS.row(
            run_id=run_id, lifecycle_stage=stage.value, event_time=now_ms(), seq=next(self.store.seq)))
        known.lifecycle_stage = stage.value
        self.flush()

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
                  tags: Sequence[RunTag] = ()) -> None:
        known = self._runs.get(run_id)
        if known is None or known.lifecycle_stage != "active":
            known = self._known(run_id)
        if params:
            self._check_params(run_id, known, params)
        if metrics:
            self._buffer.add_many("metrics", (layout.METRICS.row(
                run_id=run_id, key=m.key, value=m.value, step=m.step, timestamp=m.timestamp) for m in metrics))
        if params:
            now = now_ms()
            self._buffer.add_many("params", (layout.PARAMS.row(
                run_id=run_id, key=p.key, value=p.value, logged_at=now, seq=next(self.store.seq)) for p in params))
            known.params.update((p.key, p.value) for p in params)
        self._add_tags(run_id, tags)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        """The hot path: log_batch of one metric, whose key and run id are validated."""
        known = self._runs.get(run_id)
        if known is None or known.lifecycle_stage != "active":
            self._known(run_id)
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
            self._buffer.add_many("tags", (layout.TAGS.row(
                run_id=run_id, key=t.key, value=t.value, deleted=False, logged_at=now, seq=next(self.store.seq))
                for t in tags))

    def delete_tag(self, run_id: str, key: str) -> None:
        run = self.get_run(run_id)
        if key not in run.data.tags:
            raise NotFoundError(f"Run {run_id} has no tag {key!r}; its tags are {sorted(run.data.tags)}.")
        self._buffer.add("tags", layout.TAGS.row(run_id=run_id, key=key, deleted=True, logged_at=now_ms(),
                                                 seq=next(self.store.seq)))

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self._known(run_id)
        now = now_ms()
        self._buffer.add_many("inputs", (layout.INPUTS.row(
            run_id=run_id, name=d.name, digest=d.digest, source_type=d.source_type, source=d.source,
            delta_version=d.delta_version, schema_json=d.schema_json, context=d.context, logged_at=now)
            for d in datasets))

    def _known(self, run_id: str, allow_deleted: bool = False) -> _KnownRun:
        """The run's cached state, read from the store the first time this process meets it."""
        known = self._runs.get(run_id)
        if known is None:
            run = self.get_run(run_id)
            known = _KnownRun(experiment_id=run.info.experiment_id,
                              lifecycle_stage=run.info.lifecycle_stage, params=dict(run.data.params))
            self._runs[run_id] = known
        if not allow_deleted and known.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise RunStateError(_deleted(run_id))
        return known

    # -- runs: reads --------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """One run; the latest event wins, as in the views."""
        self.flush()
        found = self.run_rows([run_id]).runs()
        if not found:
            raise RunNotFoundError(run_id)
        return found[0]

    def run_rows(self, run_ids: Sequence[str]) -> RunRows:
        """The current state of these runs, in this order (unknown ids are left out)."""
        ids = list(run_ids)
        read = self.store.reads.read(*((table, {"run_id": ids}) for table in run_rows.SOURCES))
        return run_rows.fold({table.name: rows for table, rows in zip(run_rows.SOURCES, read)}, ids)

    def run_inputs(self, run_id: str) -> list[DatasetInput]:
        self.flush()
        (rows,) = self.store.reads.read((layout.INPUTS, {"run_id": [run_id]}))
        fields = ("name", "digest", "source_type", "source", "delta_version", "schema_json", "context")
        return [DatasetInput(**{f: row[f] for f in fields}) for row in rows.sort_by("logged_at").to_pylist()]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        rows = self.metric_history_table(run_id, key)
        return [Metric(key=key, value=value, timestamp=to_millis(ts), step=step) for value, ts, step in zip(
            rows["value"].to_pylist(), rows["timestamp"].to_pylist(), rows["step"].to_pylist())]

    def metric_summaries(self, run_id: str) -> dict[str, dict[str, float | int]]:
        """Per metric key of the run: its ``min``, ``max`` and ``points``, in one read."""
        self.flush()
        rows = self.store.reads.matching(layout.METRICS, "run_id", run_id)
        grouped = rows.group_by("key").aggregate([("value", "min"), ("value", "max"), ([], "count_all")])
        return {key: {"min": low, "max": high, "points": count} for key, low, high, count in zip(
            grouped["key"].to_pylist(), grouped["value_min"].to_pylist(), grouped["value_max"].to_pylist(),
            grouped["count_all"].to_pylist())}

    def metric_history_table(self, run_id: str, key: str) -> pa.Table:
        """The run's points of a metric by step (then time), as Arrow (``value``, ``timestamp``,
        ``step``), read from only the metric files whose Delta statistics admit the run."""
        import pyarrow.compute as pc

        self.flush()
        rows = self.store.reads.matching(layout.METRICS, "run_id", run_id)
        rows = rows.filter(pc.equal(rows["key"], key)).sort_by([("step", "ascending"), ("timestamp", "ascending")])
        if not rows.num_rows:
            self.get_run(run_id)  # an unknown run is an error, an unknown key an empty history
        return rows.select(["value", "timestamp", "step"])

    def metric_histories_table(self, run_ids: Sequence[str], keys: Sequence[str]) -> pa.Table:
        """Every point of ``keys`` of ``run_ids``, as Arrow (``run_id``, ``key``, ``value``,
        ``timestamp``, ``step``; by run, key, step, then time), in one read of the metric files
        whose Delta statistics admit one of the runs. Unknown runs and keys have no points."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self.flush()
        rows = self.store.reads.matching_any(layout.METRICS, "run_id", run_ids)
        rows = rows.filter(pc.is_in(rows["key"], value_set=pa.array(list(keys), pa.string())))
        return rows.select(["run_id", "key", "value", "timestamp", "step"]).sort_by(
            [("run_id", "ascending"), ("key", "ascending"), ("step", "ascending"), ("timestamp", "ascending")])

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str | None,
                    view_type: ViewType, max_results: int | None,
                    order_by: Sequence[str] | None) -> list[str]:
        """The ids of the runs matching a filter, in order.

        The candidates are the experiments' runs, the run events, and only the rows of the keys
        that the filter and ``order_by`` name (``metrics.acc`` reads the ``acc`` rows of
        metrics_latest, not every metric of every run), folded in Arrow and remembered until one
        of those tables has a new version; the filter and order are applied to them in Arrow."""
        import pyarrow as pa
        import pyarrow.compute as pc

        query = search.bind(filter_string, list(order_by or []), search.RUNS)  # fails before any I/O
        keys = query.keys
        self.flush()
        reads = {layout.RUNS: {"experiment_id": list(experiment_ids)}, layout.RUN_EVENTS: {}}
        for column, table in run_rows.ENTRIES.items():
            if keys.get(column):
                reads[table] = {"key": sorted(keys[column])}
        if keys.get("datasets"):
            reads[layout.INPUTS] = {}
        stages = sorted(view_type.stages())

        def candidates() -> pa.Table:
            read = dict(zip(reads, self.store.reads.read(*reads.items())))
            state = run_rows.fold({table.name: rows for table, rows in read.items()})
            found = state.attributes.filter(pc.is_in(state.attributes["lifecycle_stage"], value_set=pa.array(stages)))
            for column, names in keys.items():
                for key in names:
                    values = (run_rows.dataset_column(read[layout.INPUTS], key, found["run_id"]) if column == "datasets"
                              else state.column_of(column, key, found["run_id"]))
                    found = found.append_column(f"{column}.{key}", values)
            return found

        memo_key = ("search candidates", tuple(sorted(experiment_ids)), tuple(stages),
                    tuple((column, tuple(sorted(names))) for column, names in sorted(keys.items())))
        found = self.store.reads.memo(memo_key, list(reads), candidates)
        matches = search.arrow.apply(found, query).column("run_id")
        return (matches if max_results is None else matches.slice(0, max_results)).to_pylist()

    def flush(self) -> None:
        self.store.flush()
