"""Score a table with a logged or registered model into a Delta prediction table.

Spark ML models score with ``transform`` (in the JVM); Python models through Arrow with a pandas
UDF over their input columns. A model logged with a training set (a feature spec) has its
features looked up in their tables first (point in time where the spec has timestamp keys; the
input's own columns win). The input is checked against the model's signature before anything
runs or is written. The write is one Delta commit that replaces the rows of the same batch id
(append mode), or the whole table (overwrite mode).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from sparktrack.errors import InvalidValueError
from sparktrack.models.signature import check_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparktrack.client import SparkTrackClient
    from sparktrack.models.base import LoadedModel
    from sparktrack.tracking.datasets import TableRef

#: Columns added to every prediction row, after the id columns and the prediction.
LINEAGE_COLUMNS = ("model_name", "model_version", "model_run_id", "batch_id", "scored_at")
MODES = ("append", "overwrite")
_BATCH_ID = re.compile(r"^[A-Za-z0-9_.:@/-]{1,200}$")


@dataclass(frozen=True)
class ScoreResult:
    batch_id: str
    rows: int
    output: str
    mode: str
    model_uri: str
    model_name: str | None
    model_version: int | None
    model_run_id: str
    input: str
    input_version: int | None
    flavor: str
    feature_table_versions: dict[str, int]  # the feature tables looked up, at these versions


@dataclass(frozen=True)
class PreparedBatch:
    """A scored DataFrame ready to write, and what it was made from."""

    frame: DataFrame
    output: TableRef
    mode: str
    result: ScoreResult  # rows is filled in by write_batch


def batch_score(model_uri: str, input: str, output: str, *, id_cols: Sequence[str] | None = None,
                mode: str = "append", batch_id: str | None = None, store: str | None = None,
                spark: SparkSession | None = None, client: SparkTrackClient | None = None) -> ScoreResult:
    """Score ``input`` (Delta path or catalog table) with ``model_uri`` into ``output``.

    The output keeps ``id_cols`` (all input columns when None), adds the model's output column
    and the lineage columns. ``batch_id`` defaults to one derived from the model version and the
    input's Delta version, so scoring the same data with the same model again replaces the rows
    it wrote. ``mode="overwrite"`` replaces the whole table instead.

    Models resolve through ``client`` (default: a client on ``store`` and ``spark``, or on the
    default store and session)."""
    return write_batch(prepare_batch(model_uri, input, output, id_cols=id_cols, mode=mode,
                                     batch_id=batch_id, store=store, spark=spark, client=client))


def prepare_batch(model_uri: str, input: str, output: str, *, id_cols: Sequence[str] | None = None,
                  mode: str = "append", batch_id: str | None = None, store: str | None = None,
                  spark: SparkSession | None = None, client: SparkTrackClient | None = None) -> PreparedBatch:
    """Resolve the model, read and check the input, and build the scored DataFrame (no job runs
    and nothing is written)."""
    from pyspark.sql import functions as F

    from sparktrack.client import SparkTrackClient
    from sparktrack.tracking.datasets import TableRef, read_pinned

    if mode not in MODES:
        raise InvalidValueError("mode", mode, f"one of {list(MODES)}")
    if batch_id is not None and (not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id)):
        raise InvalidValueError("batch_id", batch_id,
                                "1-200 letters, digits or the characters _ . : @ / -")
    source, target = TableRef.parse(input, "input"), TableRef.parse(output, "output")
    if client is None:
        client = SparkTrackClient(store, spark) if store is not None or spark is not None else SparkTrackClient.default()
    spark = client.spark
    model, name, version = _load(model_uri, client)
    data, input_version = read_pinned(spark, source)
    where = f"the model {model_uri}"
    if batch_id is None:
        batch_id = _default_batch_id(model, name, version, data, input_version)
    feature_versions: dict[str, int] = {}
    if model.descriptor.feature_spec is not None:
        from sparktrack.features.spec import FeatureSpec, with_features

        data, feature_versions = with_features(spark, FeatureSpec.from_dict(model.descriptor.feature_spec),
                                               data, where)
    check_schema(data.schema, model.descriptor.signature, model.output_column, where,
                 required=model.input_columns)
    kept = _kept_columns(data.columns, id_cols, model.output_column)
    scored = model.predict(data).select(
        *kept, model.output_column,
        F.lit(name).cast("string").alias("model_name"),
        F.lit(version).cast("int").alias("model_version"),
        F.lit(model.descriptor.run_id).alias("model_run_id"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(dt.datetime.now(dt.timezone.utc)).cast("timestamp").alias("scored_at"),
    )
    if mode == "append":
        _check_output_schema(spark, target, scored)
    result = ScoreResult(
        batch_id=batch_id, rows=-1, output=target.ref, mode=mode, model_uri=model_uri,
        model_name=name, model_version=version, model_run_id=model.descriptor.run_id,
        input=source.ref, input_version=input_version, flavor=model.descriptor.flavor,
        feature_table_versions=feature_versions,
    )
    return PreparedBatch(scored, target, mode, result)


def write_batch(batch: PreparedBatch) -> ScoreResult:
    """Write a prepared batch in one Delta commit; returns the result with the rows written."""
    from dataclasses import replace

    # The commit says what it scored, so a batch leads back to its input's exact version
    # (sparktrack.scoring.lineage); the nonce tells this commit from a re-run of the batch.
    result = batch.result
    marker = json.dumps({"sparktrack": "score", "batch_id": result.batch_id, "input": result.input,
                         "input_version": result.input_version, "feature_table_versions": result.feature_table_versions,
                         "nonce": uuid.uuid4().hex}, sort_keys=True)
    writer = batch.frame.write.format("delta").option("userMetadata", marker).mode("overwrite")
    if batch.mode == "append":
        escaped = batch.result.batch_id.replace("'", "''")
        writer = writer.option("replaceWhere", f"batch_id = '{escaped}'")
    else:
        writer = writer.option("overwriteSchema", "true")
    if batch.output.path is not None:
        writer.save(batch.output.path)
    else:
        writer.saveAsTable(batch.output.name)
    return replace(batch.result, rows=_rows_written(batch.frame.sparkSession, batch.output, marker))


def _load(model_uri: str, client: SparkTrackClient) -> tuple[LoadedModel, str | None, int | None]:
    """The model, and its registered name and version when the URI goes through the registry."""
    from sparktrack import models
    from sparktrack.models.uris import check_models_uri

    if isinstance(model_uri, str) and model_uri.startswith("models:"):
        check_models_uri(model_uri)
        version = client.get_model_version_by_uri(model_uri)
        return models.load_model(version.source, client=client), version.name, version.version
    return models.load_model(model_uri, client=client), None, None


def _kept_columns(columns: Sequence[str], id_cols: Sequence[str] | None, output_column: str) -> list[str]:
    if id_cols is None:
        kept = list(columns)
    else:
        if isinstance(id_cols, str) or not all(isinstance(c, str) and c for c in id_cols):
            raise InvalidValueError("id_cols", id_cols, "a list of column names")
        missing = [c for c in id_cols if c not in columns]
        if missing:
            raise InvalidValueError("id_cols", list(id_cols),
                                    f"columns of the input; missing {missing}, present {list(columns)}")
        kept = list(dict.fromkeys(id_cols))
    clashing = [c for c in kept if c in LINEAGE_COLUMNS]
    if clashing:
        raise InvalidValueError(
            "The kept input columns", kept,
            f"names other than the lineage columns {list(LINEAGE_COLUMNS)}; {clashing} clash. "
            "Rename them, or keep only the id columns with id_cols")
    return kept


def _default_batch_id(model: LoadedModel, name: str | None, version: int | None, data: DataFrame,
                      input_version: int | None) -> str:
    """Same model and same input version give the same id, so a re-run replaces its rows."""
    from sparktrack.tracking.datasets import dataset_input

    source = dataset_input(data)
    digest = hashlib.sha256(
        f"{model.descriptor.model_uuid}|{source.source}|{input_version}|{source.digest}".encode()
    ).hexdigest()[:12]
    label = f"{name}-v{version}" if name else f"run-{model.descriptor.run_id[:8]}"
    return f"{label}-{digest}"


def _check_output_schema(spark: SparkSession, target: TableRef, scored: DataFrame) -> None:
    """In append mode the output table, if it exists, must have the batch's columns and types."""
    if not target.exists(spark):
        return
    existing = {f.name: f.dataType.simpleString() for f in target.read(spark).schema.fields}
    new = {f.name: f.dataType.simpleString() for f in scored.schema.fields}
    if existing != new:
        raise InvalidValueError(
            f"The prediction table {target.ref}", existing,
            f"the columns this batch writes, {new}. Score into a new output table, or replace "
            "the table with mode='overwrite' (--mode overwrite)")


def _rows_written(spark: SparkSession, target: TableRef, marker: str) -> int:
    from pyspark.sql import functions as F

    history = spark.sql(f"DESCRIBE HISTORY {target.sql} LIMIT 20")
    rows = history.filter(F.col("userMetadata") == marker).select("operationMetrics").collect()
    if not rows:
        return -1
    return int(rows[0][0].get("numOutputRows", -1))
