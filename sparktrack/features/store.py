"""The store's record of feature tables: one ``feature_table_events`` row per change (create,
write, tag, drop), each holding the whole table as it was after the change, so the latest row of
a name is its current state (the ``sparktrack.feature_tables`` view folds the same way).

The feature tables themselves live wherever their names say; this record is what lets
``search_tables``, ``sparktrack features list`` and SQL find them without a catalog. No Spark.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sparktrack.entities import now_ms
from sparktrack.store import layout
from sparktrack.tracking.context import current_user

if TYPE_CHECKING:
    from sparktrack.features.tables import FeatureTable
    from sparktrack.store.store import Store

CREATE, WRITE, SET_TAG, DELETE_TAG, DROP = "create", "write", "set_tag", "delete_tag", "drop"


class FeatureTableStore:
    def __init__(self, store: Store):
        self._store = store

    def record(self, table: FeatureTable, action: str) -> None:
        """One event: ``table`` as it is after ``action``, committed now."""
        features = [{"name": name, "type": table.schema[name]} for name in table.features]
        row = layout.FEATURE_TABLE_EVENTS.row(
            name=table.name, location=table.location, action=action, primary_keys=json.dumps(list(table.primary_keys)),
            timeseries_column=table.timeseries_column, features_json=json.dumps(features),
            description=table.description, tags_json=json.dumps(table.tags, sort_keys=True),
            delta_version=table.delta_version, event_time=now_ms(), seq=next(self._store.seq),
            user_id=current_user())
        self._store.commits.append(layout.FEATURE_TABLE_EVENTS, [row])

    def current(self) -> list[dict[str, Any]]:
        """The feature tables that are not dropped, by name, each as its latest event says."""
        def fold() -> list[dict[str, Any]]:
            latest: dict[str, dict[str, Any]] = {}
            for row in self._store.reads.rows(layout.FEATURE_TABLE_EVENTS).to_pylist():
                held = latest.get(row["name"])
                if held is None or (row["event_time"], row["seq"]) >= (held["event_time"], held["seq"]):
                    latest[row["name"]] = row
            return [_decoded(row) for _, row in sorted(latest.items()) if row["action"] != DROP]

        return self._store.reads.memo(("feature_tables",), (layout.FEATURE_TABLE_EVENTS,), fold)


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "primary_keys": json.loads(row["primary_keys"]), "features": json.loads(row["features_json"]),
            "tags": json.loads(row["tags_json"])}
