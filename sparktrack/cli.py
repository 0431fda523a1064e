"""The ``sparktrack`` command line: run the demo, list experiments, runs and models, query the
store in SQL. Only ``sql`` and ``demo`` start Spark; the others read the store with delta-rs.

Results go to stdout (``--format table|json|csv``); progress and errors go to stderr. A
:class:`~sparktrack.errors.SparkTrackError` (a malformed ``--filter``, an unknown experiment) prints
``error: <message>`` and exits 2, as argparse does for a malformed command line.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from sparktrack import __version__
from sparktrack.errors import SparkTrackError

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient

FORMATS = ("table", "json", "csv")
#: Metric and param columns ``runs`` shows in a table when ``--columns`` is not given.
MAX_TABLE_EXTRA_COLUMNS = 8
#: Longer cells are cut in tables (json and csv keep every character).
MAX_CELL_WIDTH = 60
RUN_COLUMNS = ("run_id", "run_name", "status", "start_time")
_SEARCH_LIMIT = 1_000_000  # the largest max_results the tracking client accepts
_STARTED = b"\x00sparktrack: spark started\n"
#: Harmless lines the JVM writes whatever the log level (netlib's note that no native BLAS is found).
_JVM_NOISE = (b"netlib-blas: ",)


class CommandError(Exception):
    """A command that cannot run for a reason that is not a SparkTrackError (e.g. malformed SQL)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 2 bad input, 130 interrupted, 141 for a
    closed pipe)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a malformed command line (already printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.handler(args)
    except (SparkTrackError, CommandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early, as by `sparktrack runs | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def build_parser() -> argparse.ArgumentParser:
    store_help = ("store root: a directory or a URI Spark can write (default: $SPARKTRACK_STORE, "
                  "else ./sparktrack-store)")
    # On every subcommand too; SUPPRESS keeps a --store given before the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS, help=store_help)
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")

    parser = argparse.ArgumentParser(
        prog="sparktrack",
        description="Experiment tracking whose every record is a row in a Delta table.",
        epilog="Run 'sparktrack demo' to fill a store, then 'sparktrack runs' or 'sparktrack sql'.",
    )
    parser.add_argument("--store", metavar="PATH", default=None, help=store_help)
    parser.add_argument("--version", action="version", version=f"sparktrack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo", parents=[common], help="train three churn models and track them",
        description="Write a synthetic churn table to Delta, train three gradient-boosted-trees "
                    "models as runs of /Shared/demo/churn, and query them with search_runs and SQL.",
    )
    demo.add_argument("--rows", type=int, default=2000, help="rows of synthetic data (default: 2000)")
    demo.set_defaults(handler=_demo)

    experiments = commands.add_parser(
        "experiments", parents=[common, output], help="list experiments",
        description="List experiments, newest first.",
    )
    experiments.add_argument("--all", action="store_true", help="include deleted experiments")
    experiments.add_argument("--filter", metavar="F", help="e.g. \"name LIKE '/Shared/%%'\"")
    experiments.set_defaults(handler=_experiments)

    runs = commands.add_parser(
        "runs", parents=[common, output], help="list runs",
        description="List runs (of every active experiment unless one is named), newest first.",
    )
    runs.add_argument("--experiment", metavar="NAME", nargs="+", action="extend", default=[],
                      help="experiment name(s)")
    runs.add_argument("--experiment-id", metavar="ID", nargs="+", action="extend", default=[],
                      help="experiment id(s)")
    runs.add_argument("--filter", metavar="F", help="e.g. \"metrics.accuracy > 0.8 AND params.lr = '0.1'\"")
    runs.add_argument("--order-by", metavar="CLAUSE", nargs="+", action="extend", default=[],
                      help="e.g. \"metrics.accuracy DESC\"")
    runs.add_argument("--max-results", metavar="N", type=_positive_int, default=100,
                      help="most runs to show (default: 100)")
    runs.add_argument("--columns", metavar="COLS", action="append", default=[],
                      help="comma-separated columns after the run's own, e.g. metrics.acc,params.lr "
                           f"(default: metrics.* then params.*; in a table at most "
                           f"{MAX_TABLE_EXTRA_COLUMNS})")
    runs.set_defaults(handler=_runs)

    sql = commands.add_parser(
        "sql", parents=[common, output], help="run a Spark SQL statement against the store",
        description="Run one Spark SQL statement. The store's tables and views are visible as "
                    "sparktrack.runs, sparktrack.metrics, sparktrack.params, sparktrack.tags, "
                    "sparktrack.experiments, sparktrack.latest_metrics and sparktrack.inputs.",
    )
    sql.add_argument("statement", help="e.g. \"SELECT count(*) FROM sparktrack.runs\"")
    sql.add_argument("--limit", metavar="N", type=_non_negative_int, default=100,
                     help="most rows to show; 0 for all (default: 100)")
    sql.set_defaults(handler=_sql)

    models = commands.add_parser(
        "models", help="the model registry: list, versions, describe, set-alias, tag",
        description="Registered models and their versions.",
    )
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common, output], help="list registered models")
    listing.add_argument("--filter", metavar="F", help="e.g. \"name LIKE 'churn%%'\"")
    listing.set_defaults(handler=_models_list)
    versions = actions.add_parser("versions", parents=[common, output], help="list a model's versions")
    versions.add_argument("name")
    versions.add_argument("--filter", metavar="F", help="more conditions, e.g. \"tags.validation_status = 'approved'\"")
    versions.set_defaults(handler=_models_versions)
    describe = actions.add_parser("describe", parents=[common, output],
                                  help="one version (by number or alias) with its lineage")
    describe.add_argument("name")
    which = describe.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", metavar="N")
    which.add_argument("--alias", metavar="ALIAS")
    describe.add_argument("--as-of", metavar="TIME", help="ISO-8601 time or registry_audit version")
    describe.set_defaults(handler=_models_describe)
    alias = actions.add_parser("set-alias", parents=[common], help="point an alias at a version")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version")
    alias.set_defaults(handler=_models_set_alias)
    tag = actions.add_parser("tag", parents=[common], help="set a tag on a version")
    tag.add_argument("name")
    tag.add_argument("version")
    tag.add_argument("key")
    tag.add_argument("value")
    tag.set_defaults(handler=_models_tag)

    features = commands.add_parser(
        "features", help="feature tables: list, describe",
        description="The feature tables recorded in the store (no JVM).",
    )
    feature_actions = features.add_subparsers(dest="action", metavar="ACTION", required=True)
    feature_list = feature_actions.add_parser("list", parents=[common, output], help="list feature tables")
    feature_list.add_argument("--filter", metavar="F", help="e.g. \"tags.team = 'growth'\" or \"name LIKE '%%customer%%'\"")
    feature_list.set_defaults(handler=_features_list)
    feature_describe = feature_actions.add_parser(
        "describe", parents=[common, output],
        help="one feature table: keys, features and types, tags, version, and the models trained on it")
    feature_describe.add_argument("name", help="the table's name as it was created (a path or catalog name)")
    feature_describe.set_defaults(handler=_features_describe)

    monitor = commands.add_parser(
        "monitor", help="monitors: create, refresh, show, report, delete",
        description="Monitors of prediction, inference and feature tables: profile, drift, quality and alerts "
                    "in Delta tables beside the monitored table (see the README's Monitoring section).",
    )
    monitor_actions = monitor.add_subparsers(dest="action", metavar="ACTION", required=True)
    config_flags = argparse.ArgumentParser(add_help=False)
    config_flags.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                              help="override a config key, e.g. --set label_col=churned (repeatable)")
    monitor_create = monitor_actions.add_parser(
        "create", parents=[common, config_flags],
        help="create the monitor a config describes (or update it when the config changed)")
    monitor_create.add_argument("--config", required=True, metavar="FILE",
                                help="monitor config (TOML, a [monitor] table; see conf/monitors/)")
    monitor_create.set_defaults(handler=_monitor_create)
    monitor_refresh = monitor_actions.add_parser(
        "refresh", parents=[common, config_flags, output],
        help="refresh a monitor: only the windows with new rows; exit status 4 when an alert rule triggers")
    monitor_refresh.add_argument("table", nargs="?", help="the monitored table (or give --config)")
    monitor_refresh.add_argument("--config", metavar="FILE", help="create or update the monitor from FILE first")
    monitor_refresh.set_defaults(handler=_monitor_refresh)
    monitor_show = monitor_actions.add_parser(
        "show", parents=[common, output], help="list the monitors, or show one's config and last refresh (no JVM)")
    monitor_show.add_argument("table", nargs="?", help="the monitored table")
    monitor_show.set_defaults(handler=_monitor_show)
    monitor_report = monitor_actions.add_parser(
        "report", parents=[common],
        help="write a self-contained HTML report: drift over time, quality per model version, distributions")
    monitor_report.add_argument("table", help="the monitored table")
    monitor_report.add_argument("--output", metavar="FILE", help="the HTML file (default: <table's name>_report.html)")
    monitor_report.set_defaults(handler=_monitor_report)
    monitor_delete = monitor_actions.add_parser(
        "delete", parents=[common], help="forget a monitor (its output tables stay)")
    monitor_delete.add_argument("table", help="the monitored table")
    monitor_delete.set_defaults(handler=_monitor_delete)

    serve = commands.add_parser(
        "serve", parents=[common], help="serve a model (or an endpoint config) over REST",
        description="Serve MODEL_URI, or the routes of an endpoint config, with MLflow's scoring "
                    "protocol: POST /invocations, GET /ping, /health, /version, /metadata, /metrics. "
                    "Every request is logged to the store's inference_log table.",
        epilog="Flags override the config's [endpoint] keys. The bearer token, if any, is read "
               "from $SPARKTRACK_SERVING_TOKEN (or the variable the config's token_env names).",
    )
    serve.add_argument("model_uri", nargs="?", metavar="MODEL_URI",
                       help="models:/<name>@<alias>, models:/<name>/<version>, runs:/<run_id>/<path>...")
    serve.add_argument("--config", metavar="FILE", help="endpoint config (TOML, an [endpoint] table)")
    serve.add_argument("--host", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_non_negative_int, help="port (default: 5000)")
    serve.add_argument("--workers", type=_positive_int, help="worker processes (default: 1)")
    serve.set_defaults(handler=_serve)

    ui = commands.add_parser(
        "ui", parents=[common], help="serve the UI's JSON API over the store (no JVM)",
        description="Serve the runs, their metrics, histories and artifacts, and the registry, as "
                    "JSON (see the README's UI section) from the store, read with delta-rs: no JVM "
                    "starts. Read-only but for registry actions (alias, tag), which --token guards.",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    ui.add_argument("--port", type=_non_negative_int, default=5050, help="port (default: 5050)")
    ui.add_argument("--token", help="the bearer token registry actions need (default: $SPARKTRACK_UI_TOKEN; "
                                    "none: they need none)")
    ui.set_defaults(handler=_ui)

    endpoints = commands.add_parser(
        "endpoints", parents=[output], help="list endpoint configs and whether they are running",
        description="List the endpoint configs in a directory, with their routes, and ask each "
                    "one's address whether it is serving (GET /ping).",
    )
    endpoints.add_argument("--dir", default=os.path.join("conf", "serving"),
                           help="directory of endpoint configs (default: conf/serving)")
    endpoints.set_defaults(handler=_endpoints)
    return parser


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


# -- commands ---------------------------------------------------------------------------------------
def _demo(args: argparse.Namespace) -> int:
    from sparktrack import demo

    demo.check_rows(args.rows)  # before Spark starts
    client = open_client(args.store, spark=True)
    started = time.monotonic()
    demo.run(client, rows=args.rows)
    _status(f"Demo done in {time.monotonic() - started:.1f}s")
    return 0


def _experiments(args: argparse.Namespace) -> int:
    client = open_client(args.store)
    found = client.search_experiments(view_type="ALL" if args.all else "ACTIVE_ONLY",
                                      max_results=_SEARCH_LIMIT, filter_string=args.filter)
    rows = [(e.experiment_id, e.name, e.lifecycle_stage, _from_millis(e.creation_time)) for e in found]
    write_rows(["experiment_id", "name", "lifecycle", "created"], rows, args.format, empty="No experiments.")
    return 0


def _runs(args: argparse.Namespace) -> int:
    client = open_client(args.store)
    wanted = [c.strip() for group in args.columns for c in group.split(",") if c.strip()]
    wanted = [c for c in dict.fromkeys(wanted) if c not in RUN_COLUMNS]
    ids = list(args.experiment_id)
    if not ids and not args.experiment:  # every active experiment
        ids = [e.experiment_id for e in client.search_experiments(max_results=_SEARCH_LIMIT)]
        if not ids:
            write_rows([*RUN_COLUMNS, *wanted], [], args.format, empty="No runs.")
            return 0
    frame = client.search_runs(
        experiment_ids=ids, experiment_names=args.experiment, filter_string=args.filter,
        order_by=args.order_by, max_results=min(args.max_results + 1, _SEARCH_LIMIT),
        output_format="pandas",
    )
    if len(frame) > args.max_results:
        frame = frame.head(args.max_results)
        _status(f"note: more runs match; showing the first {args.max_results} (raise --max-results)")
    if wanted:
        extra = wanted
        absent = [c for c in wanted if c not in frame.columns]
        if absent and len(frame):
            _status(f"note: none of these runs has {', '.join(absent)}")
    else:
        extra = [c for c in frame.columns if c.startswith(("metrics.", "params."))]
        if args.format == "table" and len(extra) > MAX_TABLE_EXTRA_COLUMNS:
            _status(f"note: showing {MAX_TABLE_EXTRA_COLUMNS} of {len(extra)} metric and param "
                    "columns; choose them with --columns")
            extra = extra[:MAX_TABLE_EXTRA_COLUMNS]
    columns = [*RUN_COLUMNS, *extra]
    frame = frame.reindex(columns=columns)  # a column no run has is empty
    rows = [tuple(row) for row in frame.itertuples(index=False, name=None)]
    write_rows(columns, rows, args.format, empty="No runs match.")
    return 0


def _sql(args: argparse.Namespace) -> int:
    from pyspark.errors import PySparkException

    client = open_client(args.store, spark=True)
    try:
        frame = client.sql(args.statement)
        if args.limit:
            frame = frame.limit(args.limit + 1)
        columns = frame.columns
        rows = [tuple(_plain(value) for value in row) for row in frame.collect()] if columns else []
    except PySparkException as exc:
        raise CommandError(str(exc).strip()) from None
    if not columns:  # a command with no result set (CREATE, SET, ...)
        return 0
    if args.limit and len(rows) > args.limit:
        rows = rows[: args.limit]
        _status(f"note: more rows follow; showing the first {args.limit} (--limit N, or --limit 0 for all)")
    write_rows(columns, rows, args.format, empty="No rows.")
    return 0


def _registry(store: str | None):
    return open_client(store).registry


_VERSION_COLUMNS = ["name", "version", "aliases", "current_stage", "run_id", "created", "tags"]


def _version_row(v) -> tuple:
    return (v.name, v.version, ",".join(v.aliases), v.current_stage, v.run_id,
            _from_millis(v.creation_timestamp), json.dumps(dict(v.tags)) if v.tags else "")


def _models_list(args: argparse.Namespace) -> int:
    found = _registry(args.store).search_registered_models(args.filter, max_results=_SEARCH_LIMIT)
    rows = [(m.name, json.dumps(dict(m.aliases)) if m.aliases else "", m.description or "",
             _from_millis(m.last_updated_timestamp)) for m in found]
    write_rows(["name", "aliases", "description", "updated"], rows, args.format, empty="No registered models.")
    return 0


def _models_versions(args: argparse.Namespace) -> int:
    registry = _registry(args.store)
    registry.get_registered_model(args.name)  # an unknown model is an error, not an empty list
    condition = "name = '" + args.name.replace("'", "''") + "'"
    if args.filter:
        condition += f" AND {args.filter}"
    found = registry.search_model_versions(condition, max_results=_SEARCH_LIMIT)
    write_rows(_VERSION_COLUMNS, [_version_row(v) for v in found], args.format, empty="No versions.")
    return 0


def _models_describe(args: argparse.Namespace) -> int:
    registry = _registry(args.store)
    as_of = int(args.as_of) if args.as_of and args.as_of.isdigit() else args.as_of
    if args.alias:
        version = registry.get_model_version_by_alias(args.name, args.alias, as_of=as_of)
    else:
        version = registry.get_model_version(args.name, args.version, as_of=as_of)
    lineage = registry.lineage(version.name, version.version, as_of=as_of)
    inputs = "; ".join(f"{i['source']}@v{i['delta_version']}" for i in lineage["inputs"])
    write_rows([*_VERSION_COLUMNS, "source", "description", "git_commit", "training_data"],
               [(*_version_row(version), version.source, version.description or "",
                 lineage["git_commit"] or "", inputs)], args.format)
    return 0


def _feature_client(store: str | None):
    from sparktrack.features import FeatureEngineeringClient

    return FeatureEngineeringClient(client=open_client(store))


def _features_list(args: argparse.Namespace) -> int:
    found = _feature_client(args.store).search_tables(filter_string=args.filter, max_results=_SEARCH_LIMIT)
    rows = [(t.name, ",".join(t.primary_keys), t.timeseries_column or "", len(t.features), t.delta_version,
             json.dumps(t.tags) if t.tags else "", t.description or "") for t in found]
    write_rows(["name", "primary_keys", "timeseries_column", "features", "delta_version", "tags", "description"],
               rows, args.format, empty="No feature tables.")
    return 0


def _features_describe(args: argparse.Namespace) -> int:
    fe = _feature_client(args.store)
    found = [t for t in fe.search_tables(max_results=_SEARCH_LIMIT) if t.name == args.name]
    if not found:
        known = [t.name for t in fe.search_tables(max_results=_SEARCH_LIMIT)]
        raise CommandError(f"No feature table {args.name!r} in the store; its feature tables are "
                           f"{known or 'none'} (sparktrack features list).")
    table = found[0]
    trained = "; ".join(f"{m['model_name']} v{m['model_version']} (table v{m['delta_version']})"
                        for m in fe.trained_on(name=table.name))
    write_rows(["name", "location", "primary_keys", "timeseries_column", "features", "delta_version", "tags",
                "description", "trained_models"],
               [(table.name, table.location, ",".join(table.primary_keys), table.timeseries_column or "",
                 ", ".join(f"{n} {table.schema[n]}" for n in table.features), table.delta_version,
                 json.dumps(table.tags) if table.tags else "", table.description or "", trained)],
               args.format)
    return 0


def _monitors(store: str | None, spark: bool):
    from sparktrack.monitoring import MonitoringClient

    return MonitoringClient(open_client(store, spark=spark))


def _monitor_from_config(args: argparse.Namespace):
    """The monitor of ``--config``, created or updated; and the client."""
    from sparktrack.monitoring.config import read_config

    table, store, arguments = read_config(args.config, args.set)
    monitors = _monitors(args.store or store, spark=True)
    monitor, action = monitors.create_or_update_monitor(table, **arguments)
    _status(f"Monitor on {monitor.config.table_name}: {action}")
    return monitors, monitor


def _monitor_create(args: argparse.Namespace) -> int:
    _, monitor = _monitor_from_config(args)
    _status(f"Output tables: {monitor.profile_table}, {monitor.drift_table}, {monitor.alerts_table}; "
            f"fill them with: sparktrack monitor refresh {monitor.config.table_name}")
    return 0


def _monitor_refresh(args: argparse.Namespace) -> int:
    from sparktrack.jobs import ALERT_TRIGGERED

    if (args.table is None) == (args.config is None):
        raise CommandError("Give the monitored table, or --config FILE (which creates or updates the monitor "
                           "first), not both: e.g. sparktrack monitor refresh ./data/predictions")
    if args.config is not None:
        monitors, monitor = _monitor_from_config(args)
    else:
        monitors = _monitors(args.store, spark=True)
        monitor = monitors.get_monitor(args.table)
    result = monitors.refresh_monitor(monitor.config.table_name)
    summary = result.summary(monitor)
    write_rows(list(summary), [tuple(summary.values())], args.format)
    if result.delivery_error:
        _status(f"warning: the triggered alerts were not delivered: {result.delivery_error}")
    return ALERT_TRIGGERED if result.triggered else 0


def _monitor_show(args: argparse.Namespace) -> int:
    monitors = _monitors(args.store, spark=False)
    if args.table is None:
        rows = [_monitor_row(monitors.get_monitor(table))[:6] for table in monitors.list_monitors()]
        write_rows(MONITOR_COLUMNS[:6], rows, args.format, empty="No monitors.")
        return 0
    write_rows(MONITOR_COLUMNS, [_monitor_row(monitors.get_monitor(args.table))], args.format)
    return 0


MONITOR_COLUMNS = ("table", "profile_type", "granularities", "baseline", "last_refreshed_version", "alerts",
                   "columns", "timestamp_col", "model", "label_col", "problem_type", "slicing_exprs",
                   "output_tables", "alert_url", "windows")


def _monitor_row(monitor) -> tuple:
    config, state = monitor.config, monitor.state
    baseline = config.baseline or ("lineage" if config.lineage else "")
    model = "/".join(c for c in (config.model_name_col, config.model_id_col) if c)
    windows = {g: len(w) for g, w in state.get("fingerprints", {}).items()}
    return (config.table_name, config.profile_type, ",".join(config.granularities) or "snapshot", baseline,
            "" if monitor.table_version is None else monitor.table_version,
            "; ".join(r["rule"] for r in config.alerts), ",".join(config.column_kinds), config.timestamp_col or "",
            model, config.label_col or "", config.problem_type, ",".join(config.slicing_exprs),
            ", ".join((config.profile_table, config.drift_table, config.alerts_table)), config.alert_url or "",
            windows)


def _monitor_report(args: argparse.Namespace) -> int:
    from sparktrack.monitoring.report import write_report

    monitors = _monitors(args.store, spark=True)
    monitor = monitors.get_monitor(args.table)
    output = args.output or monitor.config.table_name.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[-1] + "_report.html"
    written = write_report(monitors.spark, monitor, output)
    _status(f"Wrote {written} (self-contained: open it with no network)")
    return 0


def _monitor_delete(args: argparse.Namespace) -> int:
    _monitors(args.store, spark=False).delete_monitor(args.table)
    _status(f"Deleted the monitor on {args.table} (its output tables stay)")
    return 0


def _models_set_alias(args: argparse.Namespace) -> int:
    _registry(args.store).set_registered_model_alias(args.name, args.alias, args.version)
    _status(f"{args.name}@{args.alias} -> version {args.version}")
    return 0


def _models_tag(args: argparse.Namespace) -> int:
    _registry(args.store).set_model_version_tag(args.name, args.version, args.key, args.value)
    _status(f"{args.name} version {args.version}: {args.key}={args.value}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sparktrack import serving
    from sparktrack.models.uris import locate

    if args.model_uri is None and args.config is None:
        raise CommandError("give a MODEL_URI (e.g. models:/churn@Champion) or --config FILE")
    base = serving.load_config(args.config) if args.config else None
    config = serving.for_model(args.model_uri, base) if args.model_uri else base
    config = config.replace(host=args.host, port=args.port, workers=args.workers, store=args.store)
    client = open_client(config.store)
    for route in config.routes:  # a model that cannot be found fails here, not in the workers
        locate(route.model, client)
    serving.serve(config)
    return 0


def _ui(args: argparse.Namespace) -> int:
    from sparktrack.ui.app import serve

    serve(args.store, args.host, args.port, args.token or os.environ.get("SPARKTRACK_UI_TOKEN") or None)
    return 0


def _endpoints(args: argparse.Namespace) -> int:
    from urllib.error import HTTPError, URLError
    from urllib.request import urlopen

    from sparktrack.serving.config import discover

    rows = []
    for path, config in discover(args.dir):
        address = f"{config.host}:{config.port}"
        try:
            with urlopen(f"http://{address}/ping", timeout=1) as answer:  # noqa: S310 - http only
                state = "serving" if answer.status == 200 else f"status {answer.status}"
        except HTTPError as error:
            state = "loading" if error.code == 503 else f"status {error.code}"
        except (URLError, OSError):
            state = "not running"
        routes = ", ".join(f"{r.name}={r.model} ({r.traffic:g})" for r in config.routes)
        rows.append((config.name, address, state, routes, path))
    write_rows(["endpoint", "address", "state", "routes", "config"], rows, args.format,
               empty=f"No endpoint configs in {args.dir}.")
    return 0


# -- opening the store ------------------------------------------------------------------------------
def open_client(store: str | None, spark: bool = False) -> SparkTrackClient:
    """A client on the store; with ``spark``, with its SparkSession started first (quietly: the
    JVM's start-up chatter is shown only if the start fails)."""
    from sparktrack import settings
    from sparktrack.client import SparkTrackClient

    root = settings.STORE.get(store)
    shown = root if "://" in root or root.startswith("file:") else os.path.abspath(os.path.expanduser(root))
    if not spark:
        with _step(f"Opening store at {shown}"):
            return SparkTrackClient(store)
    from pyspark.sql import SparkSession

    from sparktrack.session import spark_session

    if SparkSession.getActiveSession() is None:
        with _step(f"Starting Spark and opening store at {shown} (the first start downloads Delta's jars)"):
            with _jvm_startup_output_held():
                spark_session().sparkContext.setLogLevel("ERROR")
            return SparkTrackClient(store)
    with _step(f"Opening store at {shown}"):
        return SparkTrackClient(store)


@contextmanager
def _jvm_startup_output_held() -> Iterator[None]:
    """Hold back what the JVM writes to stderr while it starts (Ivy's report on Delta's jars,
    log4j's banner), and show it only if the start fails.

    The JVM inherits this process's stderr when it starts, so for that moment stderr is a pipe
    read by a thread; after the start the thread forwards the JVM's stderr as it comes."""
    sys.stderr.flush()
    terminal = os.dup(2)  # stays open: the thread writes the JVM's later output to it
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    held: list[bytes] = []
    failed = threading.Event()
    sorted_out = threading.Event()

    def pump() -> None:
        holding = True
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            for line in iter(pipe.readline, b""):
                if holding and line.endswith(_STARTED):
                    holding = False
                    held.append(line[: -len(_STARTED)])
                    if failed.is_set():
                        os.write(terminal, b"\n" + b"".join(held))
                    held.clear()
                    sorted_out.set()
                elif holding:
                    held.append(line)
                elif not line.startswith(_JVM_NOISE):
                    os.write(terminal, line)

    threading.Thread(target=pump, name="sparktrack-jvm-stderr", daemon=True).start()
    try:
        yield
    except BaseException:
        failed.set()
        raise
    finally:
        sys.stderr.flush()
        os.write(2, _STARTED)  # after everything written during the start
        os.dup2(terminal, 2)
        if failed.is_set():
            sorted_out.wait(timeout=5)


@contextmanager
def _step(message: str) -> Iterator[None]:
    print(f"{message}...", end=" ", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        yield
    except BaseException:
        print("failed", file=sys.stderr, flush=True)
        raise
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- output -----------------------------------------------------------------------------------------
def write_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, empty: str = "") -> None:
    """Write rows to stdout as an aligned table, a JSON list of objects, or CSV with a header."""
    out = sys.stdout
    if fmt == "json":
        records = [dict(zip(columns, (_json_value(v) for v in row))) for row in rows]
        out.write(json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in row] for row in rows)
    elif not rows:
        out.write(f"{empty}\n")
    else:
        out.write(format_table(columns, rows) + "\n")


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned plain-text table; numbers are right-aligned, long cells are cut."""
    cells = [[_clip(_text(v, table=True)) for v in row] for row in rows]
    numeric = [
        all(_is_number(row[i]) or _missing(row[i]) for row in rows) for i in range(len(columns))
    ]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
        ).rstrip()

    header = line(list(columns))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([header, rule, *(line(row) for row in cells)])


def _plain(value: Any) -> Any:
    """A Spark value as plain Python: Rows become dicts, nested values are converted too."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {key: _plain(v) for key, v in value.asDict().items()}
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any, table: bool = False) -> str:
    if _missing(value):
        return ""
    if isinstance(value, dt.datetime):  # pandas Timestamps too; times are UTC in the store
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.6g}" if table else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(_json_value(value), ensure_ascii=False, allow_nan=False)
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        return _text(value.item(), table)
    return str(value)


def _json_value(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return _json_value(value.item())
    return str(value)  # Decimal, bytearray, ...


def _clip(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 3] + "..."


def _from_millis(millis: int | None) -> dt.datetime | None:
    return None if millis is None else dt.datetime.fromtimestamp(millis / 1000, tz=dt.timezone.utc)


if __name__ == "__main__":
    raise SystemExit(main())
