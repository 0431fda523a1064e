"""The searchable entities: which identifiers a filter may name on runs, experiments, registered
models and model versions, how each is spelled (MLflow's names and aliases), and how each is
ordered by default.

An attribute maps every spelling a user may write to ``(kind, column)``: ``kind`` is ``string``,
``time`` (compared as epoch milliseconds) or ``number``, and ``column`` is the column of the rows
searched (the views' columns). ``order_attributes`` lists what ``order_by`` accepts when it
differs from the filter's (MLflow's registry sorts by ``*_timestamp`` names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Each entity's name as a prefix is written in messages.
PLURAL = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes", "dataset": "datasets"}

#: Every spelling of each entity prefix MLflow accepts for runs (lower case only).
RUN_PREFIXES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}
#: The prefixes MLflow accepts for experiments and the registry.
OTHER_PREFIXES = {"attribute": "attribute", "tag": "tag", "tags": "tag"}

STRING, TIME, NUMBER = "string", "time", "number"


@dataclass(frozen=True, kw_only=True)
class SearchSchema:
    """The rows a filter or order_by is evaluated against."""

    name: str  # "runs", "experiments"...: used in messages
    prefixes: dict[str, str]  # spelling -> entity
    map_columns: dict[str, str]  # entity -> map column, e.g. {"metric": "metrics"}
    attributes: dict[str, tuple[str, str]]  # spelling -> (kind, column)
    numeric_entities: frozenset[str]  # map entities whose values are numbers
    null_entities: frozenset[str]  # entities that take IS NULL / IS NOT NULL
    default_order: tuple[tuple[str, str], ...]  # (column, "ASC" | "DESC") tie-breakers, in order
    order_attributes: dict[str, tuple[str, str]] | None = None  # when order_by's keys differ
    list_entities: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entity -> its keys (datasets)
    quoted_numbers: frozenset[str] = frozenset()  # number attributes that also take a quoted integer

    def prefix_names(self) -> str:
        names = [f"{PLURAL[e]}.<key>" for e in ("metric", "param", "tag", "dataset")
                 if e in self.map_columns or e in self.list_entities]
        return ", ".join(names + ["attributes.<key>" if "attributes" in self.prefixes else "attribute.<key>"])

    def bare_attributes(self) -> frozenset[str]:
        """Attribute names that may be written without a prefix (``status = 'X'``)."""
        return frozenset(self.attributes) | frozenset(self.order_attributes or ())

    def attribute_names(self, ordering: bool = False) -> str:
        found = self.order_attributes if ordering and self.order_attributes is not None else self.attributes
        return ", ".join(sorted(found))

    def sorted_by(self) -> dict[str, tuple[str, str]]:
        return self.order_attributes if self.order_attributes is not None else self.attributes

    def columns(self) -> dict[str, str]:
        """Every column a search of this schema reads (name -> kind), tie-breakers included."""
        found = {column: kind for kind, column in [*self.attributes.values(), *(self.order_attributes or {}).values()]}
        for column, _ in self.default_order:
            found.setdefault(column, STRING)
        return found


def _strings(*names: str) -> dict[str, tuple[str, str]]:
    return {name: (STRING, name) for name in names}


RUNS = SearchSchema(
    name="runs",
    prefixes=RUN_PREFIXES,
    map_columns={"metric": "metrics", "param": "params", "tag": "tags"},
    attributes={
        **_strings("run_id", "run_name", "user_id", "status", "artifact_uri"),
        "run name": (STRING, "run_name"), "Run name": (STRING, "run_name"), "Run Name": (STRING, "run_name"),
        "start_time": (TIME, "start_time"), "end_time": (TIME, "end_time"),
        "created": (TIME, "start_time"), "Created": (TIME, "start_time"),
    },
    order_attributes={
        **_strings("run_id", "run_name", "user_id", "status", "artifact_uri"),
        "start_time": (TIME, "start_time"), "end_time": (TIME, "end_time"),
        "created": (TIME, "start_time"), "Created": (TIME, "start_time"),
    },
    numeric_entities=frozenset({"metric"}),
    null_entities=frozenset({"metric", "param", "tag"}),
    list_entities={"dataset": ("name", "digest", "context")},
    default_order=(("start_time", "DESC"), ("run_id", "ASC")),
)

EXPERIMENTS = SearchSchema(
    name="experiments",
    prefixes=OTHER_PREFIXES,
    map_columns={"tag": "tags"},
    attributes={**_strings("name", "experiment_id"), "creation_time": (TIME, "creation_time"),
                "last_update_time": (TIME, "last_update_time")},
    numeric_entities=frozenset(),
    null_entities=frozenset({"tag"}),
    default_order=(("creation_time", "DESC"), ("experiment_id", "ASC")),
)

REGISTERED_MODELS = SearchSchema(
    name="registered models",
    prefixes=OTHER_PREFIXES,
    map_columns={"tag": "tags"},
    attributes=_strings("name"),
    order_attributes={"name": (STRING, "name"), "timestamp": (TIME, "last_updated_time"),
                      "last_updated_timestamp": (TIME, "last_updated_time")},
    numeric_entities=frozenset(),
    null_entities=frozenset({"tag"}),
    default_order=(("name", "ASC"),),
)

FEATURE_TABLES = SearchSchema(
    name="feature tables",
    prefixes=OTHER_PREFIXES,
    map_columns={"tag": "tags"},
    attributes=_strings("name", "description", "timeseries_column", "location"),
    numeric_entities=frozenset(),
    null_entities=frozenset({"tag"}),
    default_order=(("name", "ASC"),),
)

MODEL_VERSIONS = SearchSchema(
    name="model versions",
    prefixes=OTHER_PREFIXES,
    map_columns={"tag": "tags"},
    attributes={**_strings("name", "run_id"), "source_path": (STRING, "source"),
                "version_number": (NUMBER, "version")},
    order_attributes={"name": (STRING, "name"), "version_number": (NUMBER, "version"),
                      "creation_timestamp": (TIME, "creation_time"),
                      "last_updated_timestamp": (TIME, "last_updated_time")},
    numeric_entities=frozenset(),
    null_entities=frozenset({"tag"}),
    quoted_numbers=frozenset({"version_number"}),
    default_order=(("last_updated_time", "DESC"), ("name", "ASC"), ("version", "DESC")),
)
