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
import json
import sys
from typing import Any, Sequence

from sparktrack.jobs import ALERT_TRIGGERED, OK, run_main
from sparktrack.monitoring.config import read_config


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


def refresh(table: str, store: str | None, arguments: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from sparktrack.client import SparkTrackClient
    from sparktrack.monitoring import MonitoringClient

    monitors = MonitoringClient(SparkTrackClient(store) if store else SparkTrackClient.default())
    monitor, action = monitors.create_or_update_monitor(table, **arguments)
    result = monitors.refresh_monitor(table)
    if result.delivery_error:
        print(f"warning: the triggered alerts were not delivered: {result.delivery_error}", file=sys.stderr,
              flush=True)
    return (ALERT_TRIGGERED if result.triggered else OK), {"monitor": action, **result.summary(monitor)}


def _job(argv: Sequence[str] | None) -> tuple[int, dict[str, Any]]:
    args = build_parser().parse_args(argv)
    overrides = list(args.set)
    for key in ("table", "store"):
        if getattr(args, key) is not None:
            overrides.append(f"{key}={json.dumps(getattr(args, key))}")
    table, store, arguments = read_config(args.config, overrides)
    return refresh(table, store, arguments)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_job, argv)
