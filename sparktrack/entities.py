"""The things sparktrack tracks, as frozen keyword-only dataclasses shaped like MLflow's.

Times are epoch milliseconds (as in MLflow); in the Delta tables they are TIMESTAMP columns.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping


class RunStatus(str, Enum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @classmethod
    def is_terminated(cls, status: str) -> bool:
        return status in (cls.FINISHED, cls.FAILED, cls.KILLED)


class LifecycleStage(str, Enum):
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(str, Enum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[str, ...]:
        return {
            ViewType.ACTIVE_ONLY: (LifecycleStage.ACTIVE.value,),
            ViewType.DELETED_ONLY: (LifecycleStage.DELETED.value,),
            ViewType.ALL: (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value),
        }[self]


def now_ms() -> int:
    return int(time.time() * 1000)


def to_millis(value: _dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:  # Spark hands back naive datetimes in the session time zone (UTC)
        value = value.replace(tzinfo=_dt.timezone.utc)
    return int(value.timestamp() * 1000)


def from_millis(millis: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(millis / 1000, tz=_dt.timezone.utc)


@dataclass(frozen=True, kw_only=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True, kw_only=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True, kw_only=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True, kw_only=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any) -> Experiment:
        return cls(
            experiment_id=row["experiment_id"],
            name=row["name"],
            artifact_location=row["artifact_location"],
            lifecycle_stage=row["lifecycle_stage"],
            creation_time=to_millis(row["creation_time"]),
            last_update_time=to_millis(row["last_update_time"]),
            tags=dict(row["tags"] or {}),
        )


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    parent_run_id: str | None = None
    spark_app_id: str | None = None

    @property
    def run_uuid(self) -> str:  # MLflow's older name
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class RunData:
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Run:
    info: RunInfo
    data: RunData


@dataclass(frozen=True, kw_only=True)
class DatasetInput:
    """A dataset a run used: for a Delta table, its path (or name) and the version read."""

    name: str
    digest: str
    source_type: str  # "delta", "files", "dataframe"
    source: str
    delta_version: int | None = None
    schema_json: str | None = None
    context: str | None = None  # "training", "validation"...
