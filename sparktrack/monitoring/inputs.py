"""What a monitor reads: a Delta table (a path or a catalog name) at its current version, or the
store's inference records, ``<database>.inference_records`` (one row per record a serving
endpoint scored), read from the inference log at its current Delta version.

An inference record holds the request's values as text (a map of column name to JSON text). A
monitor on them types each column as the signatures of the model versions that answered say
(the first that names it), and the prediction as their output type, when it is created; the
types are kept in its config, so each refresh reads the records the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from sparktrack.errors import InvalidValueError, NotFoundError
from sparktrack.monitoring.profile import kind_of
from sparktrack.tracking.datasets import TableRef, read_pinned

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from sparktrack.client import SparkTrackClient

INFERENCE_RECORDS = "inference_records"
#: The records' own columns, kept as they are.
RECORD_COLUMNS = ("request_id", "client_request_id", "endpoint", "timestamp", "date", "model_name", "model_version",
                  "route", "sampling_fraction", "record_index")
PREDICTION = "prediction"


def is_inference_records(client: SparkTrackClient, table: str) -> bool:
    return table == f"{client.database}.{INFERENCE_RECORDS}"


def read(client: SparkTrackClient, table: str, column_types: Mapping[str, str] | None = None
         ) -> tuple[DataFrame, int | None]:
    """The monitored rows and the Delta version read. For the inference records, typed by
    ``column_types`` (a monitor's), or by the model signatures when None (creating one)."""
    spark = client.spark
    if not is_inference_records(client, table):
        return read_pinned(spark, TableRef.parse(table, "create_monitor table"))
    records, version = _records(client)
    if column_types is None:
        column_types = signature_types(client, records)
    return typed(records, column_types), version


def _records(client: SparkTrackClient) -> tuple[DataFrame, int | None]:
    from sparktrack import views
    from sparktrack.store import layout

    spark = client.spark
    log = TableRef(client.store.table_uri(layout.INFERENCE_LOG, for_spark=True),
                   path=client.store.table_uri(layout.INFERENCE_LOG, for_spark=True))
    if not log.exists(spark):
        raise _no_records(client)
    frame, version = read_pinned(spark, log)
    name = f"sparktrack_inference_log_v{version}_{abs(hash(client.store_root))}"
    frame.createOrReplaceTempView(name)
    return spark.sql(views.VIEWS[INFERENCE_RECORDS].format(t={"inference_log": f"`{name}`"})), version


def signature_types(client: SparkTrackClient, records: DataFrame) -> dict[str, str]:
    """Each record column's type, and the prediction's, from the signatures of the model
    versions that answered."""
    from sparktrack.models.uris import locate

    pairs = records.select("model_name", "model_version").distinct().collect()
    if not pairs:
        raise _no_records(client)
    found: dict[str, str] = {}
    for row in sorted(pairs, key=lambda r: (str(r.model_name), r.model_version or 0)):
        if row.model_name is None or row.model_version is None:
            continue
        try:
            descriptor = locate(f"models:/{row.model_name}/{row.model_version}", client).descriptor
        except NotFoundError:
            continue  # a version since deleted: the others type its columns, or none does
        for field in descriptor.signature or ():
            if kind_of(field["type"]) is not None:  # a vector or an array is not profiled
                found.setdefault(field["name"], field["type"])
        found.setdefault(PREDICTION, descriptor.output_type)
    if not found:
        raise InvalidValueError("create_monitor table", f"{client.database}.{INFERENCE_RECORDS}",
                                "inference records answered by registered model versions with a signature "
                                "(none of the records' model versions has one; log the model with a "
                                "signature, or monitor a table of typed columns)")
    return found


def _no_records(client: SparkTrackClient) -> NotFoundError:
    return NotFoundError(f"The store {client.store_root} has no inference records yet: an endpoint writes them "
                         f"when it serves with log_inference on (see the README's Serving section); create the "
                         f"monitor once requests were answered.")


def typed(records: DataFrame, column_types: Mapping[str, str]) -> DataFrame:
    """The records' own columns, each typed record column, and the typed prediction."""
    from pyspark.sql import functions as F

    values = [F.col("record")[name].cast(kind).alias(name) for name, kind in column_types.items()
              if name != PREDICTION and name not in RECORD_COLUMNS]
    prediction = F.col(PREDICTION).cast(column_types.get(PREDICTION, "string")).alias(PREDICTION)
    return records.select(*RECORD_COLUMNS, *values, prediction)
