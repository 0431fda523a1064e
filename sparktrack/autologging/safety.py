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
from typing import Any, Callable, Iterator

logger = logging.getLogger("sparktrack.autologging")
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
