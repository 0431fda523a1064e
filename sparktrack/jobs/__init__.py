"""The spark-submit jobs: ``train``, ``batch_score``, ``monitor`` and ``maintenance``.

``jobs/<name>.py`` in the repository is the file to hand to spark-submit; each calls ``main`` of
the module here of the same name. Every job prints one JSON line with its result on stdout and
exits with one of the codes below.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Callable, Sequence

from sparktrack.errors import SparkTrackError

#: Exit codes shared by every job.
OK = 0  # done (for train: trained, and registered when the config registers)
FAILED = 1  # an unexpected error (a Spark failure, a bug); the run is marked FAILED
BAD_INPUT = 2  # bad arguments, config, input table or model; nothing was written
GATE_NOT_PASSED = 3  # train only: trained and logged, but the gate metric missed its threshold
ALERT_TRIGGERED = 4  # monitor only: refreshed, and an alert rule was triggered

EXIT_CODES = {OK: "ok", FAILED: "failed", BAD_INPUT: "bad input", GATE_NOT_PASSED: "gate not passed",
              ALERT_TRIGGERED: "alert triggered"}


def run_main(job: Callable[[Sequence[str] | None], tuple[int, dict[str, Any]]],
             argv: Sequence[str] | None) -> int:
    """Run a job's body, print its JSON result line, and turn errors into exit codes."""
    try:
        code, result = job(argv)
    except SystemExit as exc:  # argparse: --help, or a malformed command line (already printed)
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    except SparkTrackError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - a job reports every failure as an exit code
        traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return FAILED
    print(json.dumps({"status": EXIT_CODES[code], **result}, default=str), flush=True)
    return code
