"""``FeatureLookup``: which features of which table a training set joins, on which keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from sparktrack.errors import InvalidValueError


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
