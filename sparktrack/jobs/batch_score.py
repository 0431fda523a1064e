"""The batch scoring job: score a table with a registered (or logged) model into a Delta prediction
table with lineage columns; re-running a batch replaces its rows.

    spark-submit --properties-file conf/spark-defaults.conf jobs/batch_score.py \\
        --model models:/churn@Champion --input PATH_OR_TABLE --output PATH_OR_TABLE \\
        [--id-cols customer_id] [--mode append|overwrite] [--batch-id ID] [--store ROOT] [--config FILE]

Exit codes: 0 scored, 2 bad arguments, model, input or schema (nothing written), 1 a failure.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from sparktrack import config
from sparktrack.jobs import OK, run_main
from sparktrack.scoring import MODES, batch_score

SECTION = "batch_score"


@dataclass(frozen=True)
class ScoreConfig:
    model: str
    input: str
    output: str
    id_cols: tuple[str, ...] | None = None
    mode: str = "append"
    batch_id: str | None = None
    store: str | None = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobs/batch_score.py",
        description="Score a table into a Delta prediction table with lineage columns.",
        epilog="Exit codes: 0 scored, 2 bad input (nothing written), 1 failure. Flags override "
               "the [batch_score] table of --config.",
    )
    parser.add_argument("--config", metavar="FILE", help="job config (TOML, a [batch_score] table)")
    parser.add_argument("--model", metavar="URI",
                        help="models:/<name>@<alias>, models:/<name>/<version>, runs:/<run_id>/model...")
    parser.add_argument("--input", metavar="TABLE", help="table to score: Delta path or catalog name")
    parser.add_argument("--output", metavar="TABLE", help="prediction table: Delta path or catalog name")
    parser.add_argument("--id-cols", metavar="COLS",
                        help="comma-separated input columns to keep (default: all input columns)")
    parser.add_argument("--mode", choices=MODES,
                        help="append: replace only this batch's rows (default); overwrite: replace the table")
    parser.add_argument("--batch-id", metavar="ID",
                        help="batch id (default: derived from the model version and the input's Delta version)")
    parser.add_argument("--store", metavar="ROOT", help="store root (default: $SPARKTRACK_STORE)")
    return parser


def load_config(args: argparse.Namespace) -> ScoreConfig:
    values = config.read_section(args.config, SECTION)
    flags = {
        "model": args.model, "input": args.input, "output": args.output, "mode": args.mode,
        "batch_id": args.batch_id, "store": args.store,
        "id_cols": [c.strip() for c in args.id_cols.split(",") if c.strip()] if args.id_cols else None,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    return config.build(ScoreConfig, values, f"[{SECTION}] of {args.config or 'the command line'}")


def _job(argv: Sequence[str] | None) -> tuple[int, dict[str, Any]]:
    cfg = load_config(build_parser().parse_args(argv))
    result = batch_score(cfg.model, cfg.input, cfg.output, id_cols=cfg.id_cols, mode=cfg.mode,
                         batch_id=cfg.batch_id, store=cfg.store)
    return OK, asdict(result)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_job, argv)
