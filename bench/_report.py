"""What every benchmark prints at its end: the load it ran under, its failures, its verdict."""

from __future__ import annotations

import os
import sys


def finish(failures: list[str], ok: str) -> int:
    """Print the load average, then each failure (status 1) or the ``ok`` line (status 0)."""
    print(f"Load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"(other processes on {os.cpu_count()} CPUs skew every figure)")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"OK: {ok}")
    return 0
