"""Tables jobs read: by Delta path or catalog name, pinned to a version, described as run inputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparktrack.errors import InvalidValueError, TableNotFoundError
from sparktrack.store.artifacts import URI_SCHEME
from sparktrack.store.delta_store import SQL_IDENTIFIER
from sparktrack.tracking.store import DatasetInput

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
            return f"delta.`{self.path.replace('`', '``')}`"
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
