"""What a refresh takes from the last one's state instead of reading it again.

- The fingerprints of an append. A window's fingerprint (row count, sum of a 64-bit hash) is a
  sum over its rows, so when the table's files at the current version are the files the last
  refresh saw plus some new ones (appends only: no file removed, the schema and protocol the
  same), each window's new fingerprint is its old one plus the fingerprint of the new files' rows,
  and only those files are read. delta-rs (``deltalake``) lists the files of both versions; Spark
  reads the new ones as Parquet with the table's schema. Anything else gets the full fingerprint
  pass: a catalog table (no path), a label table (labels can change any window), a partitioned
  table (partition values are not in the files), deletion vectors (a delete keeps the file's
  path), column mapping (the files' column names are not the table's), other reader features,
  a table delta-rs cannot open (no storage options for it, say), or a log cleaned up past the
  old version.
- The baseline's summary (its profiles and category counts), kept in the state while the baseline
  is the one it was computed from (its pinned Delta version, or the lineage's pins), unless its
  JSON exceeds ``BASELINE_STATE_LIMIT`` characters (many slices or categories): the monitor's
  state is repeated in every refresh event of the store, so such a baseline is profiled again at
  each refresh instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparktrack.monitoring.monitor import MonitorConfig

#: The largest baseline summary (characters of JSON) a monitor's state keeps.
BASELINE_STATE_LIMIT = 200_000
#: Reader features that do not change how a data file's rows are read.
PLAIN_READER_FEATURES = frozenset({"timestampNtz"})


def appended_files(path: str, old_version: int, new_version: int,
                   storage_options: Mapping[str, str]) -> list[str] | None:
    """The URIs (as Spark spells them) of the files the table at ``path`` has at ``new_version``
    and had not at ``old_version``, when those are all that changed; None otherwise (see the
    module's docstring)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    from sparktrack.engine.location import engine_uri, spark_uri

    if new_version < old_version:
        return None
    try:
        table = DeltaTable(engine_uri(path), version=old_version, storage_options=dict(storage_options))
        before = (set(table.file_uris()), table.schema().to_json(), table.protocol())
        if new_version != old_version:
            table.load_as_version(new_version)
        after = (set(table.file_uris()), table.schema().to_json(), table.protocol())
        metadata = table.metadata()
    except (DeltaError, OSError, ValueError):
        return None
    protocol = after[2]
    if after[1:] != before[1:] or not before[0] <= after[0] or metadata.partition_columns:
        return None
    if not set(protocol.reader_features or ()) <= PLAIN_READER_FEATURES:
        return None
    settings = metadata.configuration
    if (settings.get("delta.columnMapping.mode", "none") != "none"
            or settings.get("delta.enableDeletionVectors", "false").lower() == "true"):
        return None
    return sorted(spark_uri(uri) for uri in after[0] - before[0])


def appended_rows(spark: SparkSession, frame: DataFrame, files: Sequence[str]) -> DataFrame:
    """The rows of ``files``, with ``frame``'s schema (the table's)."""
    return spark.read.schema(frame.schema).parquet(*files)


def extended(old: Mapping[str, str], added: Mapping[str, str]) -> dict[str, str]:
    """Each window's fingerprint ("<rows>:<hash sum>") with the added rows' one added to it."""
    found = dict(old)
    for window, print_ in added.items():
        if window not in found:
            found[window] = print_
            continue
        rows, total = (int(part) for part in found[window].split(":"))
        more_rows, more_total = (int(part) for part in print_.split(":"))
        found[window] = f"{rows + more_rows}:{total + more_total}"
    return found


def kept_baseline(state: Mapping[str, Any], base_state: Any) -> tuple[dict[tuple, Any], dict[tuple, Any]] | None:
    """The baseline's summaries and category counts from ``state``, when it holds them for this
    ``base_state`` (None otherwise: compute them)."""
    kept = state.get("baseline_summary")
    if base_state is None or kept is None or state.get("baseline") != base_state:
        return None
    summaries = {tuple(key): value for key, value in kept["summaries"]}
    counts = {tuple(key): value for key, value in kept["counts"]}
    return summaries, counts


def baseline_state(base: Mapping[str, Any] | None, base_state: Any) -> dict[str, Any]:
    """What the next refresh's ``kept_baseline`` reads: {} when there is no pinned baseline, or
    its summary is too large to keep."""
    if base is None or base_state is None:
        return {}
    kept = {"summaries": [[list(key), value] for key, value in base["summaries"].items()],
            "counts": [[list(key), value] for key, value in base["counts"].items()]}
    try:
        text = json.dumps(kept)
    except (TypeError, ValueError):  # a custom metric of a type JSON cannot hold (a date, a decimal)
        return {}
    if len(text) > BASELINE_STATE_LIMIT:
        return {}
    return {"baseline_summary": kept}


def can_append(config: MonitorConfig, path: str | None, state: Mapping[str, Any],
               old_version: int | None) -> bool:
    """Whether an append's fingerprints may extend the state's (before looking at the table)."""
    return (path is not None and config.label_table is None and old_version is not None
            and all(g in state.get("fingerprints", {}) for g in config.windowings))
