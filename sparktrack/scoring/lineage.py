"""A prediction table's batches, read by delta-rs without Spark: from its lineage columns (batch
scoring writes them on every row) the model version and run that scored each batch, and from the
commit that wrote it (its ``userMetadata``) the input table and the exact Delta version scored,
with the feature tables' versions looked up."""

from __future__ import annotations

import json
from typing import Any, Mapping

from sparktrack.errors import InvalidValueError
from sparktrack.scoring.batch import LINEAGE_COLUMNS


def batches(table: str, storage_options: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Per batch of the prediction table at ``table`` (a Delta path): ``batch_id``,
    ``model_name``, ``model_version``, ``model_run_id``, ``rows``, ``first_scored_at`` and
    ``last_scored_at`` (ISO-8601), and from the commit that wrote it ``input``, ``input_version``
    and ``feature_table_versions`` (None for a batch written before sparktrack recorded them);
    newest batch first. Only the lineage columns are read."""
    from sparktrack.engine.delta import open_table

    found = open_table(table, storage_options, " (a prediction table written by batch scoring)")
    missing = [c for c in LINEAGE_COLUMNS if c not in found.schema().to_arrow().names]
    if missing:
        raise InvalidValueError("The prediction table", table,
                                f"a table batch scoring wrote, with the lineage columns {list(LINEAGE_COLUMNS)}; "
                                f"it lacks {missing}")
    rows = found.to_pyarrow_table(columns=list(LINEAGE_COLUMNS))
    grouped = rows.group_by(["batch_id", "model_name", "model_version", "model_run_id"]).aggregate(
        [([], "count_all"), ("scored_at", "min"), ("scored_at", "max")])
    out = [{"batch_id": r["batch_id"], "model_name": r["model_name"], "model_version": r["model_version"],
            "model_run_id": r["model_run_id"], "rows": r["count_all"],
            "first_scored_at": r["scored_at_min"].isoformat() if r["scored_at_min"] else None,
            "last_scored_at": r["scored_at_max"].isoformat() if r["scored_at_max"] else None}
           for r in grouped.to_pylist()]
    written = _written(found.history())
    for batch in out:
        scored = written.get(batch["batch_id"], {})
        batch.update(input=scored.get("input"), input_version=scored.get("input_version"),
                     feature_table_versions=scored.get("feature_table_versions"))
    return sorted(out, key=lambda b: b["last_scored_at"] or "", reverse=True)


def _written(history: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per batch id, what the latest commit that wrote it recorded (history is newest first)."""
    found: dict[str, dict[str, Any]] = {}
    for commit in history:
        try:
            meta = json.loads(commit.get("userMetadata") or "null")
        except ValueError:
            continue
        if isinstance(meta, dict) and meta.get("sparktrack") == "score":
            found.setdefault(meta.get("batch_id"), meta)
    return found
