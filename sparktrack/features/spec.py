"""A model's feature spec: what its training set looked up, recorded in its descriptor
(``feature_spec``) by ``FeatureEngineeringClient.log_model``, so that scoring looks the same
features up by itself.

It holds each lookup (table, keys, timestamp key, lookback window, features with their output
names, types and defaults) with the Delta version the table had when the training set was built,
and the columns that came from the training data. ``with_features`` joins the lookups onto a
DataFrame to score: every check is made before any Spark job runs, and columns the DataFrame
already has are kept instead of looked up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.errors import InvalidValueError, TableNotFoundError
from sparktrack.features import join, tables
from sparktrack.features.lookup import FeatureLookup

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparktrack.features.client import ResolvedLookup


@dataclass(frozen=True)
class LookupSpec:
    table_name: str
    delta_version: int  # the table's version the training set read
    lookup_key: tuple[str, ...]
    timestamp_lookup_key: str | None
    lookback_window_seconds: float | None
    features: tuple[tuple[str, str, str], ...]  # (table column, output column, Spark SQL type)
    default_values: Mapping[str, Any]  # output column -> value for a missing key

    @classmethod
    def of(cls, resolved: ResolvedLookup) -> LookupSpec:
        plan, table = resolved.plan, resolved.table
        window = plan.lookback.total_seconds() if plan.lookback is not None else None
        return cls(table_name=table.name, delta_version=table.delta_version,
                   lookup_key=tuple(s for s, _ in plan.keys), timestamp_lookup_key=plan.spine_time,
                   lookback_window_seconds=window,
                   features=tuple((c, out, table.schema[c]) for c, out in plan.features),
                   default_values=dict(plan.defaults or {}))

    @property
    def outputs(self) -> list[str]:
        return [out for _, out, _ in self.features]

    def lookup(self, outputs: Sequence[str]) -> FeatureLookup:
        """This lookup, for only the features whose output columns are ``outputs``."""
        chosen = [(c, out) for c, out, _ in self.features if out in outputs]
        window = self.lookback_window_seconds
        return FeatureLookup(
            table_name=self.table_name, lookup_key=list(self.lookup_key),
            feature_names=[c for c, _ in chosen], rename_outputs={c: out for c, out in chosen if c != out},
            timestamp_lookup_key=self.timestamp_lookup_key,
            lookback_window=dt.timedelta(seconds=window) if window is not None else None,
            default_values={c: self.default_values[out] for c, out in chosen if out in self.default_values},
        )

    def to_dict(self) -> dict[str, Any]:
        return {"table_name": self.table_name, "delta_version": self.delta_version,
                "lookup_key": list(self.lookup_key), "timestamp_lookup_key": self.timestamp_lookup_key,
                "lookback_window_seconds": self.lookback_window_seconds,
                "features": [{"name": c, "output": out, "type": kind} for c, out, kind in self.features],
                "default_values": dict(self.default_values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LookupSpec:
        return cls(table_name=data["table_name"], delta_version=int(data["delta_version"]),
                   lookup_key=tuple(data["lookup_key"]), timestamp_lookup_key=data.get("timestamp_lookup_key"),
                   lookback_window_seconds=data.get("lookback_window_seconds"),
                   features=tuple((f["name"], f["output"], f["type"]) for f in data["features"]),
                   default_values=dict(data.get("default_values") or {}))


@dataclass(frozen=True)
class FeatureSpec:
    lookups: tuple[LookupSpec, ...]
    training_columns: tuple[str, ...]  # the training data's columns the model was trained on
    label: str | None
    exclude_columns: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        """The columns a DataFrame to score needs for the lookups: keys, then timestamp keys."""
        found = [k for spec in self.lookups for k in spec.lookup_key]
        found += [spec.timestamp_lookup_key for spec in self.lookups if spec.timestamp_lookup_key]
        return list(dict.fromkeys(found))

    @property
    def table_versions(self) -> dict[str, int]:
        return {spec.table_name: spec.delta_version for spec in self.lookups}

    def to_dict(self) -> dict[str, Any]:
        return {"lookups": [spec.to_dict() for spec in self.lookups], "keys": self.keys,
                "training_columns": list(self.training_columns), "label": self.label,
                "exclude_columns": list(self.exclude_columns)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(lookups=tuple(LookupSpec.from_dict(d) for d in data["lookups"]),
                   training_columns=tuple(data["training_columns"]), label=data.get("label"),
                   exclude_columns=tuple(data.get("exclude_columns") or ()))


def with_features(spark: SparkSession, spec: FeatureSpec, df: DataFrame, model: str,
                  pinned: bool = False) -> tuple[DataFrame, dict[str, int]]:
    """``df`` with the spec's features looked up in each table's latest version (``pinned``: at
    the version the spec recorded, the one the model was trained on), and the version of each
    table read, point in time where the lookup has a timestamp key. Columns ``df`` already has are not looked up. Every
    table, column and key is checked before any Spark job: an error names the table and column."""
    missing = [c for c in spec.training_columns if c not in df.columns]
    if missing:
        raise InvalidValueError(f"The DataFrame to score with {model}", df.columns,
                                f"the columns the model was trained on besides its looked-up features; "
                                f"missing {missing}")
    planned = []
    for lookup_spec in spec.lookups:
        wanted = [out for out in lookup_spec.outputs if out not in df.columns]
        if not wanted:
            continue
        try:
            table = tables.describe(spark, lookup_spec.table_name)
        except TableNotFoundError as error:
            raise TableNotFoundError(lookup_spec.table_name,
                                     f"{model} looks its features {wanted} up there ({error.detail})") from None
        gone = [c for c, out, _ in lookup_spec.features if out in wanted and c not in table.features]
        if pinned:
            table = replace(table, delta_version=lookup_spec.delta_version)
        elif gone:
            raise InvalidValueError(
                f"The feature table {table.name}", f"features {list(table.features)}",
                f"the feature column(s) {gone} that {model} was trained with; restore them in "
                f"{table.name}, or pass them as columns of the DataFrame to score")
        planned.append((table, lookup_spec.lookup(wanted).resolve(table, df)))
    frame = df
    for table, plan in planned:
        frame = join.lookup(frame, tables.read(spark, table.name, table.delta_version), plan)
    return frame, {table.name: table.delta_version for table, _ in planned}
