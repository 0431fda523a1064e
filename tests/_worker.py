"""A separate process that logs to a store: used by the multi-process and crash tests."""

from __future__ import annotations

import sys

import sparktrack


def log(store: str, experiment: str, metrics: int, params: int, tags: int, worker: str) -> None:
    sparktrack.set_tracking_uri(store)
    sparktrack.set_experiment(experiment)  # every worker gets-or-creates the same experiment
    with sparktrack.start_run(run_name=f"worker-{worker}") as run:
        for step in range(metrics):
            sparktrack.log_metric("loss", step / metrics, step=step)
        sparktrack.log_params({f"p{i}": f"{worker}-{i}" for i in range(params)})
        sparktrack.set_tags({f"t{i}": worker for i in range(tags)})
    print(run.info.run_id, flush=True)


def crash(store: str, points: int) -> None:
    """Log forever-ish, acknowledging each logged step on stdout, until killed."""
    sparktrack.set_tracking_uri(store)
    sparktrack.set_experiment("crash")
    run = sparktrack.start_run()
    print(f"run {run.info.run_id}", flush=True)
    for step in range(points):
        sparktrack.log_metric("m", float(step), step=step)
        sys.stdout.write(f"ack {step}\n")
        sys.stdout.flush()
    sparktrack.end_run()
    print("done", flush=True)


def register(store: str, name: str, source: str) -> None:
    from sparktrack.registry import RegistryClient

    print(RegistryClient(store).register_model(source, name).version, flush=True)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "log":
        store, experiment, metrics, params, tags, worker = args
        log(store, experiment, int(metrics), int(params), int(tags), worker)
    elif mode == "register":
        register(*args)
    elif mode == "crash":
        crash(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
