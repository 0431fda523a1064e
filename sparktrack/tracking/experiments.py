"""Experiments' current state folded from their rows in the driver, and laid out for a search.

The ``experiments`` view computes the same in Spark; the rules are the view's: the latest
lifecycle event gives the stage (``active`` without one) and the last update time, and the latest
event of each tag key gives its value (a null value removes the tag)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparktrack.store.bootstrap import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME  # noqa: F401

if TYPE_CHECKING:
    import pyarrow as pa

    from sparktrack.entities import Experiment


def fold(experiments: pa.Table, events: pa.Table) -> list[Experiment]:
    """The experiments in ``experiments`` (rows of that table), from their events (rows of
    ``experiment_events``; other experiments' events may be there)."""
    from sparktrack.entities import Experiment, LifecycleStage, to_millis

    stage: dict[str, tuple] = {}  # experiment id -> (event time, stage)
    tags: dict[str, dict[str, tuple]] = {}  # experiment id -> key -> (event time, value)
    for event in sorted(events.to_pylist(), key=lambda e: e["event_time"]):
        if event["kind"] == "lifecycle":
            stage[event["experiment_id"]] = (event["event_time"], event["value"])
        elif event["kind"] == "tag":
            tags.setdefault(event["experiment_id"], {})[event["key"]] = (event["event_time"], event["value"])
    found = []
    for row in experiments.to_pylist():
        eid = row["experiment_id"]
        last_event, lifecycle = stage.get(eid, (None, LifecycleStage.ACTIVE.value))
        found.append(Experiment(
            experiment_id=eid, name=row["name"], artifact_location=row["artifact_location"],
            lifecycle_stage=lifecycle, creation_time=to_millis(row["creation_time"]),
            last_update_time=to_millis(max(row["creation_time"], last_event or row["creation_time"])),
            tags={key: value for key, (_, value) in tags.get(eid, {}).items() if value is not None},
        ))
    return found


def search_table(found: list[Experiment], tag_keys: list[str]) -> pa.Table:
    """The experiments as ``search.arrow`` takes them: the attribute columns, times as UTC
    timestamps, and a ``tags.<key>`` column for each key a search names."""
    import pyarrow as pa

    times = pa.timestamp("ms", tz="UTC")
    columns = {
        "experiment_id": pa.array([e.experiment_id for e in found], pa.string()),
        "name": pa.array([e.name for e in found], pa.string()),
        "artifact_location": pa.array([e.artifact_location for e in found], pa.string()),
        "lifecycle_stage": pa.array([e.lifecycle_stage for e in found], pa.string()),
        "creation_time": pa.array([e.creation_time for e in found], times),
        "last_update_time": pa.array([e.last_update_time for e in found], times),
    }
    for key in tag_keys:
        columns[f"tags.{key}"] = pa.array([e.tags.get(key) for e in found], pa.string())
    return pa.table(columns)
