"""Registry entities, shaped like MLflow's RegisteredModel and ModelVersion."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from sparktrack.entities import to_millis


class Stage(str, Enum):
    """MLflow's legacy stages."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"


@dataclass(frozen=True, kw_only=True)
class RegisteredModel:
    name: str
    model_id: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)
    deleted: bool = False

    @classmethod
    def from_row(cls, row: Any) -> RegisteredModel:
        return cls(
            name=row["name"], model_id=row["model_id"],
            creation_timestamp=to_millis(row["creation_time"]),
            last_updated_timestamp=to_millis(row["last_updated_time"]),
            description=row["description"], tags=dict(row["tags"] or {}),
            aliases=dict(row["aliases"] or {}), deleted=bool(row["deleted"]),
        )


@dataclass(frozen=True, kw_only=True)
class ModelVersion:
    name: str
    version: int
    source: str
    run_id: str | None
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str = Stage.NONE.value
    description: str | None = None
    status: str = "READY"
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    user_id: str | None = None
    deleted: bool = False

    @classmethod
    def from_row(cls, row: Any) -> ModelVersion:
        return cls(
            name=row["name"], version=int(row["version"]), source=row["source"],
            run_id=row["run_id"], creation_timestamp=to_millis(row["creation_time"]),
            last_updated_timestamp=to_millis(row["last_updated_time"]),
            current_stage=row["current_stage"], description=row["description"],
            status=row["status"], tags=dict(row["tags"] or {}), aliases=tuple(row["aliases"] or ()),
            user_id=row["user_id"], deleted=bool(row["deleted"]),
        )
