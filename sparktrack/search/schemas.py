"""The searchable entities: which identifiers a filter may name on runs, experiments, registered
models and model versions, and how each is ordered by default."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Each entity's name as a prefix is written in messages.
PLURAL = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}


@dataclass(frozen=True, kw_only=True)
class SearchSchema:
    """The DataFrame a filter or order_by is compiled against."""

    name: str  # "runs" / "experiments", used in messages
    map_columns: dict[str, str]  # entity -> map column, e.g. {"metric": "metrics"}
    string_attributes: dict[str, str]  # attribute key -> string column
    time_attributes: dict[str, str]  # attribute key -> TIMESTAMP column, compared as epoch ms
    numeric_entities: frozenset[str]  # map entities whose values are numbers
    default_order: tuple[tuple[str, str], ...]  # (column, "ASC" | "DESC") tie-breakers, in order
    number_attributes: dict[str, str] = field(default_factory=dict)  # attribute key -> numeric column

    def prefixes(self) -> str:
        names = [f"{PLURAL[e]}.<key>" for e in ("metric", "param", "tag") if e in self.map_columns]
        return ", ".join(names) + " or attributes.<key>"

    def bare_attributes(self) -> frozenset[str]:
        """Attribute names that may be written without the ``attributes.`` prefix."""
        return frozenset(self.string_attributes) | frozenset(self.time_attributes) | frozenset(self.number_attributes)

    def attribute_names(self) -> str:
        return ", ".join(sorted({*self.string_attributes, *self.time_attributes, *self.number_attributes}))


RUNS = SearchSchema(
    name="runs",
    map_columns={"metric": "metrics", "param": "params", "tag": "tags"},
    string_attributes={
        key: key
        for key in ("run_id", "experiment_id", "run_name", "user_id", "status",
                    "lifecycle_stage", "artifact_uri")
    },
    time_attributes={"start_time": "start_time", "end_time": "end_time", "created": "start_time"},
    numeric_entities=frozenset({"metric"}),
    default_order=(("start_time", "DESC"), ("run_id", "ASC")),
)

MODEL_VERSIONS = SearchSchema(
    name="model versions",
    map_columns={"tag": "tags"},
    string_attributes={key: key for key in ("name", "run_id", "source", "current_stage", "user_id")},
    time_attributes={"creation_time": "creation_time", "last_updated_time": "last_updated_time"},
    number_attributes={"version_number": "version", "version": "version"},
    numeric_entities=frozenset(),
    default_order=(("name", "ASC"), ("version", "DESC")),
)

REGISTERED_MODELS = SearchSchema(
    name="registered models",
    map_columns={"tag": "tags"},
    string_attributes={"name": "name", "description": "description"},
    time_attributes={"creation_time": "creation_time", "last_updated_time": "last_updated_time"},
    numeric_entities=frozenset(),
    default_order=(("name", "ASC"),),
)

EXPERIMENTS = SearchSchema(
    name="experiments",
    map_columns={"tag": "tags"},
    string_attributes={
        key: key for key in ("experiment_id", "name", "artifact_location", "lifecycle_stage")
    },
    time_attributes={"creation_time": "creation_time", "last_update_time": "last_update_time"},
    numeric_entities=frozenset(),
    default_order=(("creation_time", "DESC"), ("experiment_id", "ASC")),
)
