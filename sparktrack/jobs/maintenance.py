"""The maintenance job: compact the store's tables, vacuum old files and checkpoint the logs,
reporting file counts. It runs on delta-rs, with no JVM: ``python jobs/maintenance.py`` works as
well as spark-submit.

    python jobs/maintenance.py [--store ROOT] [--zorder] [--tables metrics,params]
                               [--no-vacuum | --purge | --retain-hours H]

Exit codes: 0 done, 2 bad arguments, 1 a failure.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any, Sequence

from sparktrack.jobs import OK, run_main
from sparktrack.store.maintenance import maintain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobs/maintenance.py",
        description="Compact (optionally Z-ORDER), VACUUM and checkpoint the store's Delta tables.",
    )
    parser.add_argument("--store", metavar="ROOT", help="store root (default: $SPARKTRACK_STORE)")
    parser.add_argument("--tables", metavar="NAMES", help="comma-separated tables (default: all)")
    parser.add_argument("--zorder", action="store_true", help="Z-ORDER the metrics table by (run_id, key)")
    vacuum = parser.add_mutually_exclusive_group()
    vacuum.add_argument("--no-vacuum", dest="vacuum", action="store_false", help="compact only")
    vacuum.add_argument("--purge", action="store_true",
                        help="vacuum with no retention: delete every file older versions read (ends time "
                             "travel; only when nothing else uses the store). Default: the tables' "
                             "retention, 7 days")
    vacuum.add_argument("--retain-hours", type=float, metavar="H",
                        help="vacuum files older versions read once they are H hours old (at least the "
                             "tables' retention)")
    return parser


def _job(argv: Sequence[str] | None) -> tuple[int, dict[str, Any]]:
    from sparktrack.store.store import open_store

    args = build_parser().parse_args(argv)
    store = open_store(args.store)
    names = [n.strip() for n in args.tables.split(",") if n.strip()] if args.tables else None
    reports = maintain(store, table_names=names, zorder=args.zorder, vacuum=args.vacuum, purge=args.purge,
                       retain_hours=args.retain_hours)
    print(f"{'table':<18} {'files before':>12} {'after':>6} {'stored before':>13} {'after':>6} {'seconds':>8}",
          file=sys.stderr)
    for r in reports:
        print(f"{r.table:<18} {r.files_before:>12} {r.files_after:>6} {r.stored_files_before:>13} "
              f"{r.stored_files_after:>6} {r.seconds:>8.1f}", file=sys.stderr)
    return OK, {"store": store.root, "tables": [asdict(r) for r in reports]}


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_job, argv)
