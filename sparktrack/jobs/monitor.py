"""The monitoring job: create the monitor a config describes (or update it when the config
changed), refresh it, and check its alert rules.

    spark-submit --properties-file conf/spark-defaults.conf jobs/monitor.py \\
        --config conf/monitors/churn.toml [--table PATH_OR_TABLE] [--store ROOT] [--set KEY=VALUE]

The config's ``[monitor]`` table holds ``table`` and create_monitor's arguments (see the README's
"Monitoring" section); ``store`` names the store the monitor is recorded in.

Exit codes: 0 refreshed, 4 refreshed and an alert rule triggered, 2 bad config or input (nothing
written), 1 a failure.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from typing import Any, Sequence

from sparktrack import config
from sparktrack.errors import ConfigError
from sparktrack.jobs import ALERT_TRIGGERED, OK, run_main

SECTION = "monitor"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobs/monitor.py",
        description="Create or update a monitor from a config file, refresh it, and check its alerts.",
        epilog="Exit codes: 0 refreshed, 4 an alert rule triggered, 2 bad config or input, 1 failure.")
    parser.add_argument("--config", required=True, metavar="FILE", help="monitor config (TOML, a [monitor] table)")
    parser.add_argument("--table", metavar="TABLE", help="the monitored table: Delta path or catalog name")
    parser.add_argument("--store", metavar="ROOT", help="store root (default: the config's, else $SPARKTRACK_STORE)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set label_col=churned (repeatable)")
    return parser


def load_config(path: str, overrides: Sequence[str] = ()) -> tuple[str, str | None, dict[str, Any]]:
    """The monitored table, the store, and create_monitor's arguments from ``path``'s [monitor]."""
    from sparktrack.monitoring import MonitoringClient

    values = config.apply_overrides(config.read_section(path, SECTION, "Monitor"), overrides)
    where = f"[{SECTION}] of {path}"
    known = [name for name in inspect.signature(MonitoringClient.configure).parameters if name not in ("self",)]
    unknown = sorted(set(values) - {*known, "store"})
    if unknown:
        raise ConfigError(f"Unknown key(s) {unknown} in {where}. Known keys: {sorted([*known, 'store'])}.")
    if not isinstance(values.get("table"), str):
        raise ConfigError(f"{where} lacks the key 'table' (the monitored table: a Delta path or catalog name).")
    store = values.pop("store", None)
    return values.pop("table"), store, values


def refresh(table: str, store: str | None, arguments: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from sparktrack.client import SparkTrackClient
    from sparktrack.monitoring import MonitoringClient, MonitorNotFoundError

    client = SparkTrackClient(store) if store else SparkTrackClient.default()
    monitors = MonitoringClient(client)
    try:
        before = monitors.get_monitor(table).config
    except MonitorNotFoundError:
        before = None
    monitor = (monitors.create_monitor(table, **arguments) if before is None
               else monitors.update_monitor(table, **arguments))
    action = "created" if before is None else ("updated" if monitor.config != before else "unchanged")
    result = monitors.refresh_monitor(table)
    summary = {"table": monitor.config.table_name, "monitor": action, "table_version": result.table_version,
               "recomputed_windows": {g: len(w) for g, w in result.recomputed.items()},
               "removed_windows": {g: len(w) for g, w in result.removed.items()},
               "profile_table": monitor.profile_table, "drift_table": monitor.drift_table,
               "alerts_table": monitor.alerts_table, "triggered": len(result.triggered),
               "triggered_rules": sorted({a["rule"] for a in result.triggered}),
               "alert_delivery_error": result.delivery_error}
    if result.delivery_error:
        print(f"warning: the triggered alerts were not delivered: {result.delivery_error}", file=sys.stderr,
              flush=True)
    return (ALERT_TRIGGERED if result.triggered else OK), summary


def _job(argv: Sequence[str] | None) -> tuple[int, dict[str, Any]]:
    args = build_parser().parse_args(argv)
    overrides = list(args.set)
    for key in ("table", "store"):
        if getattr(args, key) is not None:
            overrides.append(f"{key}={json.dumps(getattr(args, key))}")
    table, store, arguments = load_config(args.config, overrides)
    return refresh(table, store, arguments)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_job, argv)
