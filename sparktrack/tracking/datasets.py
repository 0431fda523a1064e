"""Describe a Spark DataFrame as a run input: the Delta table it reads and the version it read."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sparktrack.errors import InvalidValueError
from sparktrack.tracking.store import DatasetInput

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def delta_source(df: DataFrame) -> tuple[str, int] | None:
    """(table path, version) of the Delta table a DataFrame scans, from its analyzed plan."""
    leaves = df._jdf.queryExecution().analyzed().collectLeaves().iterator()
    while leaves.hasNext():
        leaf = leaves.next()
        if leaf.getClass().getSimpleName() != "LogicalRelation":
            continue
        location = leaf.relation().location()
        if not location.getClass().getSimpleName().startswith("Tahoe"):  # Delta's file indexes
            continue
        return location.path().toString(), int(location.getSnapshot().version())
    return None


def dataset_input(df: DataFrame, context: str | None = None, name: str | None = None) -> DatasetInput:
    """A ``DatasetInput`` for a DataFrame: Delta path and version when it reads a Delta table."""
    if not hasattr(df, "_jdf") or not hasattr(df, "schema"):
        raise InvalidValueError("log_input data", df, "a Spark DataFrame")
    schema_json = df.schema.json()
    found = delta_source(df)
    if found is not None:
        source, version = found
        source_type = "delta"
    else:
        files = sorted(df.inputFiles())
        source, version = (",".join(files[:20]) if files else "<in-memory>"), None
        source_type = "files" if files else "dataframe"
    digest = hashlib.sha256(f"{source}|{version}|{schema_json}".encode()).hexdigest()[:16]
    return DatasetInput(
        name=name or (source.rstrip("/").rsplit("/", 1)[-1] if source_type == "delta" else "dataset"),
        digest=digest, source_type=source_type, source=source, delta_version=version,
        schema_json=schema_json, context=context,
    )
