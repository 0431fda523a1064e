"""Datasets as run inputs (a Delta table by path with delta-rs, or a Spark DataFrame), and the
tables jobs read: by Delta path or catalog name, pinned to a version."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from sparktrack.engine.location import SQL_IDENTIFIER, URI_SCHEME, delta_path_sql, spark_uri
from sparktrack.entities import DatasetInput
from sparktrack.errors import InvalidValueError, TableNotFoundError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


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


def dataset_input(data: object, context: str | None = None, name: str | None = None,
                  storage_options: Mapping[str, str] | None = None) -> DatasetInput:
    """A ``DatasetInput`` for a Delta table path (read with delta-rs, no JVM), a Spark DataFrame
    (Delta path and version when it scans a Delta table), or a DatasetInput (as it is)."""
    if context is not None and not isinstance(context, str):
        raise InvalidValueError("log_input context", context, "a string such as 'training', or None")
    if name is not None and not isinstance(name, str):
        raise InvalidValueError("log_input name", name, "a string, or None")
    if isinstance(data, DatasetInput):
        return data
    if isinstance(data, str):
        return _path_input(data, context, name, storage_options)
    if not hasattr(data, "_jdf") or not hasattr(data, "schema"):
        raise InvalidValueError("log_input data", data, "a Delta table path, a Spark DataFrame or a DatasetInput")
    return _frame_input(data, context, name)


def _path_input(path: str, context: str | None, name: str | None,
                storage_options: Mapping[str, str] | None) -> DatasetInput:
    """A Delta table at ``path``: its current version and schema, read from its log by delta-rs."""
    from sparktrack.engine.delta import open_table

    if not path.strip():
        raise InvalidValueError("log_input data", path, "a Delta table path, a Spark DataFrame or a DatasetInput")
    source = spark_uri(path) if URI_SCHEME.match(path) is None else path
    table = open_table(path, storage_options)
    schema_json = table.schema().to_json()
    return _described(source, table.version(), schema_json, "delta", context, name)


def _described(source: str, version: int | None, schema_json: str, source_type: str,
               context: str | None, name: str | None) -> DatasetInput:
    digest = hashlib.sha256(f"{source}|{version}|{schema_json}".encode()).hexdigest()[:16]
    return DatasetInput(
        name=name or (source.rstrip("/").rsplit("/", 1)[-1] if source_type == "delta" else "dataset"),
        digest=digest, source_type=source_type, source=source, delta_version=version,
        schema_json=schema_json, context=context,
    )


def _frame_input(df: DataFrame, context: str | None, name: str | None) -> DatasetInput:
    schema_json = df.schema.json()
    found = delta_source(df)
    if found is not None:
        source, version = found
        source_type = "delta"
    else:
        files = sorted(df.inputFiles())
        source, version = (",".join(files[:20]) if files else "<in-memory>"), None
        source_type = "files" if files else "dataframe"
    return _described(source, version, schema_json, source_type, context, name)


def pandas_input(frame: object, context: str | None = None, name: str | None = None) -> DatasetInput:
    """A ``DatasetInput`` for an in-memory pandas frame or numpy array (what a scikit-learn fit
    got): its shape and column types, and a digest of those and of its first and last 1,000 rows
    (a fixed cost, whatever the frame's size)."""
    import json

    import numpy as np
    import pandas as pd

    table = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(np.asarray(frame))
    schema_json = json.dumps({"shape": list(table.shape),
                              "columns": [{"name": str(c), "type": str(t)} for c, t in table.dtypes.items()]})
    ends = pd.concat([table.head(1000), table.tail(1000)]) if len(table) > 2000 else table
    hashed = pd.util.hash_pandas_object(ends, index=False).to_numpy().tobytes()
    dataset = _described("<in-memory>", None, schema_json + hashlib.sha256(hashed).hexdigest(), "dataframe",
                         context, name)
    return dataclasses.replace(dataset, schema_json=schema_json)


@dataclass(frozen=True)
class TableRef:
    """A table a job reads or writes: a Delta path (``path``) or a catalog name (``name``)."""

    ref: str  # as the user gave it
    path: str | None = None
    name: str | None = None

    @classmethod
    def parse(cls, ref: object, what: str = "table") -> TableRef:
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidValueError(what, ref, "a Delta table path or a catalog table name (db.table)")
        ref = ref.strip()
        if URI_SCHEME.match(ref) or "/" in ref or ref.startswith("."):
            return cls(ref, path=ref)
        parts = ref.split(".")
        if not all(SQL_IDENTIFIER.match(part) for part in parts) or len(parts) > 3:
            raise InvalidValueError(
                what, ref, "a Delta table path (with a '/', e.g. ./churn) or a catalog name of up to "
                "three dot-separated identifiers (letters, digits, underscores), e.g. ml.churn")
        return cls(ref, name=ref)

    @property
    def sql(self) -> str:
        """How SQL names the table: delta.`path`, or the quoted catalog name."""
        if self.path is not None:
            return delta_path_sql(self.path)
        return ".".join(f"`{part}`" for part in self.name.split("."))

    def exists(self, spark: SparkSession) -> bool:
        if self.path is not None:
            from delta.tables import DeltaTable

            return DeltaTable.isDeltaTable(spark, self.path)
        return spark.catalog.tableExists(self.name)

    def read(self, spark: SparkSession, version: int | None = None) -> DataFrame:
        """The table (at ``version`` when given); TableNotFoundError when there is none."""
        if not self.exists(spark):
            detail = ("there is no Delta table at that path" if self.path is not None
                      else "the catalog has no table of that name")
            raise TableNotFoundError(self.ref, detail)
        if version is None:
            return spark.read.table(self.sql) if self.name else spark.read.format("delta").load(self.path)
        return spark.sql(f"SELECT * FROM {self.sql} VERSION AS OF {int(version)}")


def read_pinned(spark: SparkSession, table: TableRef) -> tuple[DataFrame, int | None]:
    """The table read at its current version, and that version (None when it is not Delta), so
    that what a job logs as its input is exactly what it read."""
    latest = table.read(spark)
    found = delta_source(latest)
    if found is None:
        return latest, None
    version = found[1]
    return table.read(spark, version), version
