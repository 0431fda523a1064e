"""``FeatureLookup``: which features of which table a training set joins, on which keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.errors import InvalidValueError
from sparktrack.features.join import JoinPlan
from sparktrack.features.tables import TIME_TYPES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparktrack.features.tables import FeatureTable


@dataclass(frozen=True)
class FeatureLookup:
    """Look up ``feature_names`` (default: every feature) of ``table_name`` for each row of a
    training set's ``df``, matching ``lookup_key`` (the df's columns, in the order of the table's
    primary keys without its timeseries column) and, for a time-series table, taking the latest
    feature row at or before ``timestamp_lookup_key`` (inclusive), and at most
    ``lookback_window`` older than it. ``rename_outputs`` maps a feature to its output column;
    ``default_values`` gives a feature's value where the key has no feature row."""

    table_name: str
    lookup_key: str | Sequence[str]
    feature_names: str | Sequence[str] | None = None
    rename_outputs: Mapping[str, str] | None = None
    timestamp_lookup_key: str | None = None
    lookback_window: dt.timedelta | None = None
    default_values: Mapping[str, Any] | None = None
    keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.table_name, str) or not self.table_name.strip():
            raise InvalidValueError("FeatureLookup table_name", self.table_name,
                                    "a feature table's Delta path or catalog name")
        keys = (self.lookup_key,) if isinstance(self.lookup_key, str) else tuple(self.lookup_key or ())
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise InvalidValueError("FeatureLookup lookup_key", self.lookup_key,
                                    "a column name of df, or a list of them")
        object.__setattr__(self, "keys", keys)
        names = self.feature_names
        if names is not None:
            names = (names,) if isinstance(names, str) else tuple(names)
            if not names or not all(isinstance(n, str) and n for n in names):
                raise InvalidValueError("FeatureLookup feature_names", self.feature_names,
                                        "a list of feature names")
            object.__setattr__(self, "feature_names", names)
        if self.timestamp_lookup_key is not None and (not isinstance(self.timestamp_lookup_key, str)
                                                      or not self.timestamp_lookup_key):
            raise InvalidValueError("FeatureLookup timestamp_lookup_key", self.timestamp_lookup_key,
                                    "a timestamp column of df")
        window = self.lookback_window
        if window is not None and (not isinstance(window, dt.timedelta) or window <= dt.timedelta(0)):
            raise InvalidValueError("FeatureLookup lookback_window", window,
                                    "a positive datetime.timedelta, e.g. timedelta(days=7)")
        for what, mapping in (("rename_outputs", self.rename_outputs), ("default_values", self.default_values)):
            if mapping is not None and (not isinstance(mapping, Mapping)
                                        or not all(isinstance(k, str) for k in mapping)):
                raise InvalidValueError(f"FeatureLookup {what}", mapping, "a dict keyed by feature name")
        if self.rename_outputs and not all(isinstance(v, str) and v for v in self.rename_outputs.values()):
            raise InvalidValueError("FeatureLookup rename_outputs", self.rename_outputs,
                                    "a dict of feature name -> output column name")

    def output_name(self, feature: str) -> str:
        return (self.rename_outputs or {}).get(feature, feature)

    def resolve(self, table: FeatureTable, df: DataFrame) -> JoinPlan:
        """Check this lookup against ``table`` (as it is now) and ``df``'s columns, and say how
        to join it."""
        spine = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        keys = table.lookup_keys
        if len(self.keys) != len(keys):
            raise InvalidValueError("FeatureLookup lookup_key", list(self.keys),
                                    f"{len(keys)} column(s) of df, matching {table.name}'s keys {list(keys)}")
        for spine_key, table_key in zip(self.keys, keys):
            if spine_key not in spine:
                raise InvalidValueError("FeatureLookup lookup_key", spine_key, f"a column of df; df has {list(spine)}")
            if spine[spine_key] != table.schema[table_key]:
                raise InvalidValueError(
                    "FeatureLookup lookup_key", spine_key,
                    f"a column of the type of {table.name}.{table_key} ({table.schema[table_key]}); "
                    f"it is {spine[spine_key]}. Cast it in df")
        names = self.feature_names if self.feature_names is not None else table.features
        features = [n for n in names if n != table.timeseries_column] if self.feature_names is None else list(names)
        unknown = [n for n in features if n not in table.features]
        if unknown:
            raise InvalidValueError("FeatureLookup feature_names", list(names),
                                    f"features of {table.name}; unknown {unknown}, known {list(table.features)}")
        for what, mapping in (("rename_outputs", self.rename_outputs), ("default_values", self.default_values)):
            stray = [k for k in (mapping or {}) if k not in features]
            if stray:
                raise InvalidValueError(f"FeatureLookup {what}", dict(mapping or {}),
                                        f"keys among the looked-up features {features}; unknown {stray}")
        spine_time = None
        if table.timeseries_column is not None:
            spine_time = self.timestamp_lookup_key
            if spine_time is None:
                raise InvalidValueError("FeatureLookup timestamp_lookup_key", None,
                                        f"a timestamp column of df: {table.name} is a time-series table "
                                        f"(on {table.timeseries_column})")
            if spine_time not in spine or spine[spine_time] not in TIME_TYPES:
                raise InvalidValueError("FeatureLookup timestamp_lookup_key", spine_time,
                                        f"a timestamp or date column of df; df has {spine}")
        elif self.lookback_window is not None:
            raise InvalidValueError("FeatureLookup lookback_window", self.lookback_window,
                                    f"None: {table.name} has no timeseries column to look back on")
        defaults = {self.output_name(k): v for k, v in (self.default_values or {}).items()}
        return JoinPlan(
            keys=tuple(zip(self.keys, keys)),
            features=tuple((f, self.output_name(f)) for f in features),
            spine_time=spine_time, table_time=table.timeseries_column,
            lookback=self.lookback_window, defaults=defaults or None,
        )
