"""Runs' current state folded from their raw rows in Arrow, in the driver.

The ``runs_current`` view computes the same in Spark, for every run, with an aggregation and a
shuffle per table. A lookup or a search needs a few runs, or a few keys of many runs, whose raw
rows are a handful of narrow reads (one Spark stage each, side by side); folding those with
Arrow's group-by costs milliseconds where the view's plan costs seconds. The rules are the
view's: the latest run event wins (by event time, then sequence), the first value of a param
wins, the latest tag event wins and a delete removes the tag, and a metric's latest point is its
greatest (step, timestamp, value), NaN above every number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from sparktrack.store import layout

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from sparktrack.entities import Run

#: The tables a run's current state is folded from; ``runs`` and ``run_events`` are required.
SOURCES = (layout.RUNS, layout.RUN_EVENTS, layout.PARAMS, layout.TAGS, layout.METRICS_LATEST)

#: The attribute columns, in the ``runs`` view's order.
ATTRIBUTES = ("run_id", "experiment_id", "run_name", "user_id", "status", "start_time", "end_time",
              "lifecycle_stage", "artifact_uri", "parent_run_id", "spark_app_id")

#: Each kind of entry and the table its current values come from, in the pandas layout's order.
ENTRIES = {"metrics": layout.METRICS_LATEST, "params": layout.PARAMS, "tags": layout.TAGS}


@dataclass(frozen=True)
class RunRows:
    """Runs in a given order: their attributes (Arrow, one row per run) and their current
    metrics, params and tags (Arrow, long: run_id, key, value)."""

    attributes: pa.Table
    entries: dict[str, pa.Table]

    def runs(self) -> list[Run]:
        from sparktrack.entities import Run, RunData, RunInfo, to_millis

        maps: dict[str, dict[str, dict]] = {name: {} for name in ENTRIES}
        for name, table in self.entries.items():
            held = maps[name]
            columns = table.to_pydict()
            for run_id, key, value in zip(columns["run_id"], columns["key"], columns["value"]):
                held.setdefault(run_id, {})[key] = value
        runs = []
        for row in self.attributes.to_pylist():
            times = {name: to_millis(row[name]) for name in ("start_time", "end_time")}
            info = RunInfo(**{name: row[name] for name in ATTRIBUTES if name not in times}, **times)
            data = RunData(**{name: maps[name].get(row["run_id"], {}) for name in ENTRIES})
            runs.append(Run(info=info, data=data))
        return runs

    def column_of(self, name: str, key: str, run_ids: pa.ChunkedArray) -> pa.ChunkedArray:
        """``key``'s values in ``name`` (metrics, params or tags) for ``run_ids``: null where a
        run lacks the key, while a NaN metric stays NaN (as a map lookup in Spark)."""
        import pyarrow.compute as pc

        one = self.entries[name].filter(pc.equal(self.entries[name]["key"], key))
        return one["value"].take(pc.index_in(run_ids, value_set=one["run_id"]))

    def pandas(self) -> pd.DataFrame:
        """MLflow's layout: the attribute columns (times as UTC timestamps), then ``metrics.*``,
        ``params.*`` and ``tags.*`` columns, each group sorted by key; a value a run lacks is
        missing (NaN)."""
        import pandas as pd

        base = self.attributes.to_pandas()
        parts = [base]
        for name in ENTRIES:
            long = self.entries[name].to_pandas()
            wide = long.pivot(index="run_id", columns="key", values="value") if len(long) else pd.DataFrame()
            wide = wide.reindex(index=base["run_id"], columns=sorted(wide.columns))
            wide.columns = [f"{name}.{key}" for key in wide.columns]
            parts.append(wide.reset_index(drop=True))
        return pd.concat(parts, axis=1)


def dataset_column(inputs: pa.Table, key: str, run_ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """For each of ``run_ids``, the ``key`` (name, digest or context) of every dataset the run
    logged (rows of ``inputs``), as a list; null for a run that logged none."""
    import pyarrow.compute as pc

    grouped = inputs.group_by("run_id", use_threads=False).aggregate([(key, "list")])
    at = pc.index_in(run_ids, value_set=grouped["run_id"])
    return grouped[f"{key}_list"].take(at)


def fold(raw: dict[str, pa.Table], order: Sequence[str] | None = None) -> RunRows:
    """The current state of the runs ``order`` names, in that order (default: every run in
    ``raw["runs"]``, in no particular order), from their rows in :data:`SOURCES`. ``raw`` maps a
    table's name to rows that include those runs' (other runs' rows may be there); a long table
    left out counts as empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    events = _sorted(raw["run_events"], "event_time", "seq")
    status = _last(events.filter(pc.is_valid(events["status"])), ["run_id"], ["status", "end_time"])
    stage = _last(events.filter(pc.is_valid(events["lifecycle_stage"])), ["run_id"], ["lifecycle_stage"])
    runs = raw["runs"]
    if order is not None:  # the runs in that order; an id not found is left out
        found = pc.index_in(pa.array(list(order), pa.string()), value_set=runs["run_id"])
        runs = runs.take(pc.drop_null(found))
        runs = runs.append_column("_rank", pa.array(range(runs.num_rows), pa.int64()))
    attributes = (runs.join(status, "run_id", join_type="left outer")
                  .join(stage, "run_id", join_type="left outer"))
    if order is not None:  # a join does not keep the order
        attributes = attributes.sort_by("_rank")
    attributes = attributes.select(list(ATTRIBUTES))
    attributes = attributes.set_column(ATTRIBUTES.index("status"), "status",
                                       pc.fill_null(attributes["status"], "RUNNING"))
    attributes = attributes.set_column(ATTRIBUTES.index("lifecycle_stage"), "lifecycle_stage",
                                       pc.fill_null(attributes["lifecycle_stage"], "active"))

    current = {}
    if "params" in raw:
        current["params"] = _first(_sorted(raw["params"], "logged_at", "seq"), ["run_id", "key"], ["value"])
    if "tags" in raw:
        tags = _last(_sorted(raw["tags"], "logged_at", "seq"), ["run_id", "key"], ["value", "deleted"])
        current["tags"] = tags.filter(pc.invert(tags["deleted"])).drop_columns(["deleted"])
    if "metrics_latest" in raw:  # Arrow sorts NaN after every number
        current["metrics"] = _last(_sorted(raw["metrics_latest"], "step", "timestamp", "value"),
                                   ["run_id", "key"], ["value"])
    entries = {}
    for name in ENTRIES:
        kind = pa.float64() if name == "metrics" else pa.string()
        table = current[name] if name in current else pa.table(
            {"run_id": pa.array([], pa.string()), "key": pa.array([], pa.string()), "value": pa.array([], kind)})
        table = table.filter(pc.is_in(table["run_id"], value_set=attributes["run_id"].combine_chunks()))
        entries[name] = table.select(["run_id", "key", "value"]).sort_by([("run_id", "ascending"),
                                                                          ("key", "ascending")])
    return RunRows(attributes=attributes, entries=entries)


def _sorted(table: pa.Table, *columns: str) -> pa.Table:
    return table.sort_by([(column, "ascending") for column in columns])


def _last(table: pa.Table, keys: list[str], columns: list[str]) -> pa.Table:
    """Per group of ``keys``, the values of ``columns`` in the group's last row (nulls kept)."""
    return _pick(table, keys, columns, "last")


def _first(table: pa.Table, keys: list[str], columns: list[str]) -> pa.Table:
    return _pick(table, keys, columns, "first")


def _pick(table: pa.Table, keys: list[str], columns: list[str], which: str) -> pa.Table:
    import pyarrow.compute as pc

    options = pc.ScalarAggregateOptions(skip_nulls=False)
    picked = table.group_by(keys, use_threads=False).aggregate([(c, which, options) for c in columns])
    return picked.rename_columns([name.removesuffix(f"_{which}") for name in picked.column_names])
