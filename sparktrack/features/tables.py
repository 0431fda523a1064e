"""Feature tables: Delta tables (a path or a catalog name) whose table properties say what they are.

``sparktrack.feature.primary_keys`` (a JSON list), ``sparktrack.feature.timeseries_column`` and
``sparktrack.feature.description`` are set when the table is created, and each tag is a property
``sparktrack.feature.tag.<key>`` (so setting one tag never rewrites another); the features are
the columns that are not primary keys. Writes are Delta MERGEs on the full primary key, through
Spark, so any Delta reader sees a feature table as a plain table.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.engine.location import quote_identifier, sql_string
from sparktrack.errors import ConcurrentWriteError, InvalidValueError, TableNotFoundError
from sparktrack.tracking.datasets import TableRef

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

PREFIX = "sparktrack.feature."
KEYS, TIMESERIES, DESCRIPTION, TAG = (f"{PREFIX}{k}" for k in ("primary_keys", "timeseries_column",
                                                                "description", "tag."))
TAG_KEY_LIMIT, TAG_VALUE_LIMIT = 250, 5000
#: Times a MERGE is run when other writers' commits conflict with it.
MERGE_ATTEMPTS = 5
TIME_TYPES = ("timestamp", "timestamp_ntz", "date")


@dataclass(frozen=True)
class FeatureTable:
    name: str
    primary_keys: tuple[str, ...]
    timeseries_column: str | None
    features: tuple[str, ...]
    schema: dict[str, str]  # column -> Spark SQL type
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    delta_version: int = 0
    location: str = ""  # the Delta table's location, as Spark spells it

    @property
    def lookup_keys(self) -> tuple[str, ...]:
        """The primary keys a lookup matches (all but the timeseries column)."""
        return tuple(k for k in self.primary_keys if k != self.timeseries_column)


def create(spark: SparkSession, name: str, primary_keys: Sequence[str], schema: StructType,
           timeseries_column: str | None, partition_columns: Sequence[str] | None,
           description: str | None, tags: Mapping[str, str] | None) -> TableRef:
    """Create the empty Delta table with its feature properties; an error if one exists."""
    from delta.tables import DeltaTable

    ref = TableRef.parse(name, "feature table name")
    if ref.exists(spark):
        raise InvalidValueError("create_table name", name,
                                "a table that does not exist yet; write to this one with write_table")
    keys = _checked_keys(primary_keys, schema, timeseries_column, name)
    builder = DeltaTable.create(spark)
    builder = builder.location(ref.path) if ref.path is not None else builder.tableName(ref.name)
    builder = builder.addColumns(schema).property(KEYS, json.dumps(list(keys)))
    if timeseries_column is not None:
        builder = builder.property(TIMESERIES, timeseries_column)
    if description is not None:
        builder = builder.property(DESCRIPTION, str(description))
    for key, value in checked_tags(tags).items():
        builder = builder.property(TAG + key, value)
    if partition_columns:
        missing = [c for c in partition_columns if c not in schema.fieldNames()]
        if missing:
            raise InvalidValueError("create_table partition_columns", list(partition_columns),
                                    f"columns of the table; missing {missing}, present {schema.fieldNames()}")
        builder = builder.partitionedBy(*partition_columns)
    builder.execute()
    return ref


def _checked_keys(primary_keys: Sequence[str], schema: StructType, timeseries_column: str | None,
                  name: str) -> tuple[str, ...]:
    keys = (primary_keys,) if isinstance(primary_keys, str) else tuple(primary_keys or ())
    if not keys or not all(isinstance(k, str) and k for k in keys) or len(set(keys)) != len(keys):
        raise InvalidValueError("create_table primary_keys", primary_keys, "a list of distinct column names")
    columns = {f.name: f.dataType.simpleString() for f in schema.fields}
    missing = [k for k in keys if k not in columns]
    if missing:
        raise InvalidValueError("create_table primary_keys", list(keys),
                                f"columns of {name}; missing {missing}, present {list(columns)}")
    if timeseries_column is not None:
        if timeseries_column not in keys:
            raise InvalidValueError("create_table timeseries_column", timeseries_column,
                                    f"one of the primary keys {list(keys)}")
        if columns[timeseries_column] not in TIME_TYPES:
            raise InvalidValueError("create_table timeseries_column", timeseries_column,
                                    f"a timestamp or date column; it is {columns[timeseries_column]}")
        if len(keys) == 1:
            raise InvalidValueError("create_table primary_keys", list(keys),
                                    "the lookup key(s) as well as the timeseries column")
    return keys


def describe(spark: SparkSession, name: str) -> FeatureTable:
    """The feature table ``name`` as its properties and schema say, at its latest version (one
    Spark job: the table's detail; the version comes from the scan's snapshot)."""
    from sparktrack.tracking.datasets import delta_source

    ref = TableRef.parse(name, "feature table name")
    if not ref.exists(spark):
        raise TableNotFoundError(name, "there is no feature table of that name; create it with create_table")
    detail = spark.sql(f"DESCRIBE DETAIL {ref.sql}").select("location", "properties").collect()[0]
    properties = dict(detail.properties or {})
    if KEYS not in properties:
        raise TableNotFoundError(name, "it is a Delta table but not a feature table (it has no "
                                       f"{KEYS} property); create feature tables with create_table")
    keys = tuple(json.loads(properties[KEYS]))
    frame = ref.read(spark)
    found = delta_source(frame)
    return FeatureTable(
        name=name, primary_keys=keys, timeseries_column=properties.get(TIMESERIES),
        features=tuple(f.name for f in frame.schema.fields if f.name not in keys),
        schema={f.name: f.dataType.simpleString() for f in frame.schema.fields},
        description=properties.get(DESCRIPTION),
        tags={k[len(TAG):]: v for k, v in sorted(properties.items()) if k.startswith(TAG)},
        delta_version=found[1] if found is not None else 0, location=detail.location,
    )


def checked_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidValueError("feature table tags", tags, "a dict of tag key -> string value")
    for key, value in tags.items():
        check_tag(key, value)
    return dict(tags)


def check_tag(key: Any, value: Any = "") -> None:
    if not isinstance(key, str) or not key.strip() or len(key) > TAG_KEY_LIMIT or "`" in key:
        raise InvalidValueError("feature table tag key", key,
                                f"a non-empty string of at most {TAG_KEY_LIMIT} characters, without backticks")
    if not isinstance(value, str) or len(value) > TAG_VALUE_LIMIT:
        raise InvalidValueError(f"feature table tag {key!r} value", value,
                                f"a string of at most {TAG_VALUE_LIMIT} characters")


def set_tag(spark: SparkSession, table: FeatureTable, key: str, value: str) -> None:
    check_tag(key, value)
    spark.sql(f"ALTER TABLE {TableRef.parse(table.name).sql} SET TBLPROPERTIES "
              f"({sql_string(TAG + key)} = {sql_string(value)})")


def delete_tag(spark: SparkSession, table: FeatureTable, key: str) -> None:
    check_tag(key)
    if key not in table.tags:
        raise InvalidValueError("delete_feature_table_tag key", key,
                                f"a tag of {table.name}; its tags are {sorted(table.tags) or 'none'}")
    spark.sql(f"ALTER TABLE {TableRef.parse(table.name).sql} UNSET TBLPROPERTIES IF EXISTS ({sql_string(TAG + key)})")


def drop(spark: SparkSession, table: FeatureTable) -> None:
    """Drop the Delta table: a catalog table with DROP TABLE, a path by deleting its directory."""
    ref = TableRef.parse(table.name)
    if ref.name is not None:
        spark.sql(f"DROP TABLE {ref.sql}")
        return
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(table.location or ref.path)
    path.getFileSystem(spark._jsc.hadoopConfiguration()).delete(path, True)


def merge(spark: SparkSession, table: FeatureTable, df: DataFrame) -> None:
    """Upsert ``df`` on the full primary key: matched rows are updated, new rows inserted, new
    columns added as features. Duplicate keys in ``df`` are an error before anything is written.
    A MERGE that conflicts with another writer's commit is run again (``MERGE_ATTEMPTS`` in all),
    then a ``ConcurrentWriteError``."""
    from delta import exceptions
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    missing = [k for k in table.primary_keys if k not in df.columns]
    if missing:
        raise InvalidValueError("write_table df", df.columns,
                                f"a DataFrame with the primary keys of {table.name}; missing {missing}")
    keys = list(table.primary_keys)
    duplicated = df.groupBy(*keys).count().where(F.col("count") > 1).limit(3).collect()
    if duplicated:
        shown = [{k: row[k] for k in keys} for row in duplicated]
        raise InvalidValueError("write_table df", f"duplicate primary keys, e.g. {shown}",
                                "one row per primary key; deduplicate df first (e.g. keep the latest)")
    ref = TableRef.parse(table.name)
    condition = " AND ".join(f"t.{quote_identifier(k)} <=> s.{quote_identifier(k)}" for k in keys)
    for attempt in range(MERGE_ATTEMPTS):
        target = DeltaTable.forPath(spark, ref.path) if ref.path is not None else DeltaTable.forName(spark, ref.name)
        try:
            (target.alias("t").merge(df.alias("s"), condition).withSchemaEvolution()
             .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
            return
        except _conflicts(exceptions) as error:
            # Another writer committed first. An upsert read again from the new version gives
            # what it would have given after that writer, so it is safe to run again.
            conflict = str(error).splitlines()[0]
            time.sleep(random.uniform(0.2, 1.0) * (attempt + 1))
    raise ConcurrentWriteError(
        f"write_table to {table.name} conflicted with other writers {MERGE_ATTEMPTS} times (last: "
        f"{conflict}). Nothing of this write landed; run it again.")


def _conflicts(exceptions: Any) -> tuple[type, ...]:
    """Delta's write-conflict errors (delta-spark's own classes do not share their base class)."""
    return tuple(getattr(exceptions, name) for name in (
        "DeltaConcurrentModificationException", "ConcurrentAppendException", "ConcurrentDeleteReadException",
        "ConcurrentDeleteDeleteException", "ConcurrentTransactionException", "ConcurrentWriteException"))


def read(spark: SparkSession, name: str, as_of: Any = None) -> DataFrame:
    """The table, at a Delta version (int) or time (datetime or ISO string) when ``as_of`` is given."""
    import datetime as dt

    ref = TableRef.parse(name, "feature table name")
    if as_of is None:
        return ref.read(spark)
    if isinstance(as_of, bool) or not isinstance(as_of, (int, str, dt.datetime)):
        raise InvalidValueError("read_table as_of", as_of, "a Delta version (int), a datetime or an ISO-8601 time")
    if isinstance(as_of, int):
        return ref.read(spark, as_of)
    when = as_of.isoformat() if isinstance(as_of, dt.datetime) else as_of
    return spark.sql(f"SELECT * FROM {ref.sql} TIMESTAMP AS OF '{when.replace(chr(39), '')}'")
