"""What every autologging flavor shares: patching methods so that they can be put back, knowing
the outermost fit from the ones inside it, and keeping a failure of the logging code away from
the user's fit.

A failure while logging warns once per flavor and the fit's result is returned as if autolog were
off. With ``SPARKTRACK_AUTOLOGGING_TESTING=true`` (sparktrack's own test suite sets it) such
failures raise instead, so that a broken autolog cannot pass a test by warning.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import warnings
from typing import Any, Callable, Iterator, Mapping, TypeVar

logger = logging.getLogger("sparktrack.autologging")
T = TypeVar("T")
TEST_MODE = "SPARKTRACK_AUTOLOGGING_TESTING"
#: Set on every patched function: what it replaced.
ORIGINAL = "__sparktrack_original__"

_patches: dict[str, list[tuple[type, str, Any]]] = {}
_INHERITED = object()
_warned: set[str] = set()
_depth = threading.local()


def testing() -> bool:
    return os.environ.get(TEST_MODE, "").strip().lower() in ("1", "true", "yes")


def patch(flavor: str, owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Set ``owner.name`` to ``make(original)``, where ``original`` is what ``owner.name`` was,
    defined on ``owner`` or inherited (then restoring deletes the patch again)."""
    own = owner.__dict__.get(name, _INHERITED)
    original = getattr(owner, name)
    original = getattr(original, ORIGINAL, original)  # never wrap a patch
    replacement = functools.wraps(original)(make(original))
    setattr(replacement, ORIGINAL, original)
    setattr(owner, name, replacement)
    _patches.setdefault(flavor, []).append((owner, name, own))


def restore(flavor: str) -> None:
    """Put back every method ``flavor`` patched."""
    for owner, name, own in reversed(_patches.pop(flavor, [])):
        if own is _INHERITED:
            delattr(owner, name)
        else:
            setattr(owner, name, own)


def patched(flavor: str) -> bool:
    return bool(_patches.get(flavor))


def depth(flavor: str) -> int:
    """How many patched calls of ``flavor`` this thread is inside."""
    return getattr(_depth, flavor, 0)


@contextlib.contextmanager
def outermost(flavor: str) -> Iterator[bool]:
    """True for the outermost patched call of ``flavor`` in this thread (a Pipeline's stages, a
    search's inner fits and a ``super().fit`` are inside it)."""
    depth = getattr(_depth, flavor, 0)
    setattr(_depth, flavor, depth + 1)
    try:
        yield depth == 0
    finally:
        setattr(_depth, flavor, depth)


def guarded(flavor: str, silent: bool, action: Callable[[], Any]) -> Any:
    """``action()``; a failure warns once per flavor (or raises, in test mode) and gives None."""
    try:
        return action()
    except Exception as error:  # noqa: BLE001 - the user's fit must not fail because logging did
        if testing():
            raise
        if flavor not in _warned and not silent:
            _warned.add(flavor)
            warnings.warn(f"sparktrack {flavor} autologging failed and logged nothing more for this "
                          f"fit ({type(error).__name__}: {error}); the fit itself is unaffected. "
                          "Further failures are logged at DEBUG level.", stacklevel=3)
        else:
            logger.debug("autologging failed", exc_info=True)
        return None


#: Set on every run autolog makes: the flavor that made it.
AUTOLOG_TAG = "sparktrack.autologging"


#: Runs the user started that an autologged fit of any flavor has logged into: a later fit in one
#: of them, of the same flavor or another (a scikit-learn fit, then a Spark ML one), is a child run.
_users_runs_logged: set[str] = set()
_users_runs_lock = threading.Lock()


class FitRuns:
    """Which run a flavor's outermost fit logs to, as MLflow chooses it: with no active run a new
    one (autolog owns it and ends it); with an active run, that run, left open, the first time
    (nothing with ``exclusive``), and a nested child run for each later fit in it, whichever
    flavor made the first (MLflow fails on "changing param values" instead)."""

    def __init__(self, flavor: str):
        self.flavor = flavor

    def choose(self, exclusive: bool, extra_tags: Mapping[str, str]) -> tuple[str, bool] | None:
        """(run id, owned), or None for no logging."""
        from sparktrack.tracking import fluent

        active = fluent.active_run()
        tags = {AUTOLOG_TAG: self.flavor, **extra_tags}
        client = fluent.client()
        if active is None:
            return client.create_run(fluent.current_experiment_id(), tags=tags, run_name=None).info.run_id, True
        if exclusive:
            return None
        parent = active.info.run_id
        with _users_runs_lock:
            first = parent not in _users_runs_logged
            _users_runs_logged.add(parent)
        if first:
            return parent, False
        return client.create_run(active.info.experiment_id, tags=tags, parent_run_id=parent).info.run_id, True


def fit_in_run(runs: FitRuns, config: Any, fit: Callable[[], T],
               log: Callable[[Any, str, bool, T], None], track: Callable[[str, bool, T], None]) -> T:
    """Run ``fit()`` in the run ``runs`` chooses: ``log(client, run_id, owned, result)`` after it
    (guarded), then ``track(run_id, owned, result)``; a run autolog owns ends FINISHED, or FAILED
    when the fit raises. ``config`` has ``silent``, ``exclusive`` and ``extra_tags``."""
    from sparktrack.entities import RunStatus
    from sparktrack.tracking import fluent

    flavor, silent = runs.flavor, config.silent
    target = guarded(flavor, silent, lambda: runs.choose(config.exclusive, config.extra_tags))
    if target is None:
        return fit()
    run_id, owned = target
    client = fluent.client()
    try:
        result = fit()
    except BaseException:
        if owned:
            guarded(flavor, silent, lambda: client.set_terminated(run_id, RunStatus.FAILED))
        raise
    try:
        guarded(flavor, silent, lambda: log(client, run_id, owned, result))
        track(run_id, owned, result)
    finally:
        if owned:
            guarded(flavor, silent, lambda: client.set_terminated(run_id, RunStatus.FINISHED))
    return result
