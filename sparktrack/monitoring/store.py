"""The store's record of monitors: one ``monitor_events`` row per change (create, refresh,
delete), each holding the monitor's whole config and refresh state after the change, so the
latest row of a monitored table is its monitor (as ``features.store`` does for feature tables).
No Spark."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sparktrack.entities import now_ms
from sparktrack.store import layout
from sparktrack.tracking.context import current_user

if TYPE_CHECKING:
    from sparktrack.store.store import Store

CREATE, REFRESH, DELETE = "create", "refresh", "delete"


class MonitorStore:
    def __init__(self, store: Store):
        self._store = store

    def record(self, table_name: str, action: str, config: dict[str, Any], state: dict[str, Any],
               table_version: int | None) -> None:
        """One event: the monitor of ``table_name`` as it is after ``action``, committed now."""
        row = layout.MONITOR_EVENTS.row(
            table_name=table_name, action=action, config_json=json.dumps(config, sort_keys=True),
            state_json=json.dumps(state, sort_keys=True), table_version=table_version, event_time=now_ms(),
            seq=next(self._store.seq), user_id=current_user())
        self._store.commits.append(layout.MONITOR_EVENTS, [row])

    def current(self) -> dict[str, dict[str, Any]]:
        """The monitors that are not deleted, by monitored table: ``config``, ``state``,
        ``table_version`` and the event's other columns."""
        def fold() -> dict[str, dict[str, Any]]:
            latest: dict[str, dict[str, Any]] = {}
            for row in self._store.reads.rows(layout.MONITOR_EVENTS).to_pylist():
                held = latest.get(row["table_name"])
                if held is None or (row["event_time"], row["seq"]) >= (held["event_time"], held["seq"]):
                    latest[row["table_name"]] = row
            return {name: {**row, "config": json.loads(row["config_json"]), "state": json.loads(row["state_json"])}
                    for name, row in sorted(latest.items()) if row["action"] != DELETE}

        return self._store.reads.memo(("monitors",), (layout.MONITOR_EVENTS,), fold)
