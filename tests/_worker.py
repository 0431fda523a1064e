"""A separate process that logs to a store (plain Python, no JVM): used by the multi-process and
crash tests, on local disk and on S3."""

from __future__ import annotations

import sys
import time

import sparktrack


def log_and_register(store: str, experiment: str, metrics: int, params: int, tags: int, worker: str) -> None:
    """Log a run, then register a version of the shared model "raced" and move two aliases: its own
    (``w<worker>``) and the shared ``Champion``. Prints the run id and the version it got."""
    from sparktrack.registry import RegistryClient

    sparktrack.set_tracking_uri(store)
    sparktrack.set_experiment(experiment)  # every worker gets-or-creates the same experiment
    with sparktrack.start_run(run_name=f"worker-{worker}") as run:
        for step in range(metrics):
            sparktrack.log_metric("loss", step / metrics, step=step)
        sparktrack.log_params({f"p{i}": f"{worker}-{i}" for i in range(params)})
        sparktrack.set_tags({f"t{i}": worker for i in range(tags)})
    registry = RegistryClient(store)
    version = registry.register_model(f"/models/m{worker}", "raced").version
    registry.set_registered_model_alias("raced", f"w{worker}", version)
    registry.set_registered_model_alias("raced", "Champion", version)
    print(run.info.run_id, version, flush=True)


def crash(store: str, points: int) -> None:
    """Log about a thousand points a second until killed, so that the background commits leave
    gaps between them. Each line on stdout is written whole and flushed: ``run <id>`` first,
    ``ack <step>`` once ``log_metric`` returned for that step, and ``commit <n> begin`` /
    ``commit <n> end`` around each background commit, so the test can kill mid-logging or
    mid-commit."""
    from sparktrack.store.commits import Commits

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    commit = Commits.commit_batch

    def announced(self: Commits, batch: dict, txn: tuple[str, int]) -> None:
        say(f"commit {txn[1]} begin")
        commit(self, batch, txn)
        say(f"commit {txn[1]} end")

    Commits.commit_batch = announced  # before the store is opened, so its buffer calls this
    sparktrack.set_tracking_uri(store)
    sparktrack.set_experiment("crash")
    run = sparktrack.start_run()
    say(f"run {run.info.run_id}")
    for step in range(points):
        sparktrack.log_metric("m", float(step), step=step)
        say(f"ack {step}")
        time.sleep(0.001)
    sparktrack.end_run()
    say("done")


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "log_and_register":
        store, experiment, metrics, params, tags, worker = args
        log_and_register(store, experiment, int(metrics), int(params), int(tags), worker)
    elif mode == "crash":
        crash(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
