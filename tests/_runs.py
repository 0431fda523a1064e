"""Runs that several test modules search, logged through the fluent API."""

from __future__ import annotations

import sparktrack


def three_runs():
    """Three runs of /search (max_depth 2, 4, 6; accuracy 0.80, 0.90, 0.85); the experiment and
    the run ids by depth."""
    exp = sparktrack.set_experiment("/search")
    ids = {}
    for depth, acc, opt in [(2, 0.80, "adam"), (4, 0.90, "sgd"), (6, 0.85, "adam")]:
        with sparktrack.start_run(run_name=f"d{depth}") as run:
            sparktrack.log_params({"max_depth": depth, "optimizer": opt})
            sparktrack.log_metric("accuracy", acc)
            sparktrack.set_tag("team", "ml" if depth < 6 else "ops")
        ids[depth] = run.info.run_id
    return exp, ids
