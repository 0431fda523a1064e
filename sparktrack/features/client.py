"""``FeatureEngineeringClient``: create, write and read feature tables, and build point-in-time
training sets from them. Keyword arguments, as Databricks' client takes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.errors import InvalidValueError
from sparktrack.features import join, tables
from sparktrack.features.lookup import FeatureLookup
from sparktrack.features.tables import TIME_TYPES, FeatureTable

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType


@dataclass(frozen=True)
class ResolvedLookup:
    """A lookup with its table as it was when the training set was built."""

    lookup: FeatureLookup
    table: FeatureTable  # its delta_version is the version the training set reads
    plan: join.JoinPlan


class TrainingSet:
    """Labels (``df``) and the lookups that add features to them; ``load_df()`` joins them, each
    table read at the Delta version it had when the training set was created."""

    def __init__(self, spark: SparkSession, df: DataFrame, lookups: Sequence[ResolvedLookup],
                 label: str | None, exclude_columns: Sequence[str]):
        self._spark = spark
        self._df = df
        self.lookups = tuple(lookups)
        self.label = label
        self.exclude_columns = tuple(exclude_columns)

    @property
    def feature_table_versions(self) -> dict[str, int]:
        return {resolved.table.name: resolved.table.delta_version for resolved in self.lookups}

    def load_df(self) -> DataFrame:
        frame = self._df
        for resolved in self.lookups:
            table = tables.read(self._spark, resolved.table.name, resolved.table.delta_version)
            frame = join.lookup(frame, table, resolved.plan)
        return frame.drop(*self.exclude_columns) if self.exclude_columns else frame


class FeatureEngineeringClient:
    """Feature tables and training sets on ``spark`` (default: the session sparktrack resolves)."""

    def __init__(self, *, spark: SparkSession | None = None):
        from sparktrack.session import resolve_session

        self.spark = resolve_session(spark)

    def create_table(self, *, name: str, primary_keys: str | Sequence[str], df: DataFrame | None = None,
                     schema: StructType | None = None, timeseries_column: str | None = None,
                     partition_columns: Sequence[str] | None = None, description: str | None = None,
                     tags: Mapping[str, str] | None = None) -> FeatureTable:
        """Create a feature table from ``df`` (written as its first version) or ``schema``."""
        if df is None and schema is None:
            raise InvalidValueError("create_table", "neither df nor schema", "df or schema, to give the columns")
        if df is not None and schema is not None and df.schema != schema:
            raise InvalidValueError("create_table schema", schema.simpleString(),
                                    f"df's schema ({df.schema.simpleString()}), or leave schema out")
        tables.create(self.spark, name, primary_keys, df.schema if df is not None else schema,
                      timeseries_column, partition_columns, description, tags)
        table = tables.describe(self.spark, name)
        if df is not None:
            tables.merge(self.spark, table, df)
            table = tables.describe(self.spark, name)
        return table

    def write_table(self, *, name: str, df: DataFrame, mode: str = "merge") -> None:
        """Upsert ``df`` on the table's full primary key (``mode="merge"``, the only mode)."""
        if mode != "merge":
            raise InvalidValueError("write_table mode", mode, "'merge' (an upsert on the primary key)")
        tables.merge(self.spark, tables.describe(self.spark, name), df)

    def read_table(self, *, name: str, as_of: Any = None) -> DataFrame:
        tables.describe(self.spark, name)  # a clear error for a table that is not a feature table
        return tables.read(self.spark, name, as_of)

    def get_table(self, *, name: str) -> FeatureTable:
        return tables.describe(self.spark, name)

    def create_training_set(self, *, df: DataFrame, feature_lookups: Sequence[FeatureLookup],
                            label: str | None, exclude_columns: Sequence[str] | None = None) -> TrainingSet:
        """Check every lookup against ``df`` and its table now, pin each table's Delta version,
        and return the training set (nothing is joined until ``load_df``)."""
        if label is not None and label not in df.columns:
            raise InvalidValueError("create_training_set label", label, f"a column of df; df has {df.columns}")
        resolved: list[ResolvedLookup] = []
        outputs: dict[str, str] = {c: "df" for c in df.columns}
        for lookup in feature_lookups:
            if not isinstance(lookup, FeatureLookup):
                raise InvalidValueError("create_training_set feature_lookups", lookup, "a list of FeatureLookup")
            table = tables.describe(self.spark, lookup.table_name)
            plan = _plan(lookup, table, df)
            for _, out in plan.features:
                if out in outputs:
                    raise InvalidValueError(
                        "create_training_set feature_lookups", out,
                        f"distinct output columns; {out!r} comes from both {outputs[out]} and "
                        f"{table.name}. Rename one with rename_outputs")
                outputs[out] = table.name
            resolved.append(ResolvedLookup(lookup, table, plan))
        excluded = list(exclude_columns or ())
        unknown = [c for c in excluded if c not in outputs]
        if unknown:
            raise InvalidValueError("create_training_set exclude_columns", excluded,
                                    f"columns of the training set; unknown {unknown}")
        return TrainingSet(self.spark, df, resolved, label, excluded)


def _plan(lookup: FeatureLookup, table: FeatureTable, df: DataFrame) -> join.JoinPlan:
    spine = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    keys = table.lookup_keys
    if len(lookup.keys) != len(keys):
        raise InvalidValueError("FeatureLookup lookup_key", list(lookup.keys),
                                f"{len(keys)} column(s) of df, matching {table.name}'s keys {list(keys)}")
    for spine_key, table_key in zip(lookup.keys, keys):
        if spine_key not in spine:
            raise InvalidValueError("FeatureLookup lookup_key", spine_key, f"a column of df; df has {list(spine)}")
        if spine[spine_key] != table.schema[table_key]:
            raise InvalidValueError(
                "FeatureLookup lookup_key", spine_key,
                f"a column of the type of {table.name}.{table_key} ({table.schema[table_key]}); "
                f"it is {spine[spine_key]}. Cast it in df")
    names = lookup.feature_names if lookup.feature_names is not None else table.features
    features = [n for n in names if n != table.timeseries_column] if lookup.feature_names is None else list(names)
    unknown = [n for n in features if n not in table.features]
    if unknown:
        raise InvalidValueError("FeatureLookup feature_names", list(names),
                                f"features of {table.name}; unknown {unknown}, known {list(table.features)}")
    for what, mapping in (("rename_outputs", lookup.rename_outputs), ("default_values", lookup.default_values)):
        stray = [k for k in (mapping or {}) if k not in features]
        if stray:
            raise InvalidValueError(f"FeatureLookup {what}", dict(mapping or {}),
                                    f"keys among the looked-up features {features}; unknown {stray}")
    spine_time = None
    if table.timeseries_column is not None:
        spine_time = lookup.timestamp_lookup_key
        if spine_time is None:
            raise InvalidValueError("FeatureLookup timestamp_lookup_key", None,
                                    f"a timestamp column of df: {table.name} is a time-series table "
                                    f"(on {table.timeseries_column})")
        if spine_time not in spine or spine[spine_time] not in TIME_TYPES:
            raise InvalidValueError("FeatureLookup timestamp_lookup_key", spine_time,
                                    f"a timestamp or date column of df; df has {spine}")
    elif lookup.lookback_window is not None:
        raise InvalidValueError("FeatureLookup lookback_window", lookup.lookback_window,
                                f"None: {table.name} has no timeseries column to look back on")
    defaults = {lookup.output_name(k): v for k, v in (lookup.default_values or {}).items()}
    return join.JoinPlan(
        keys=tuple(zip(lookup.keys, keys)),
        features=tuple((f, lookup.output_name(f)) for f in features),
        spine_time=spine_time, table_time=table.timeseries_column,
        lookback=lookup.lookback_window, defaults=defaults or None,
    )
