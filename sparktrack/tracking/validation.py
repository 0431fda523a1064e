"""Limits and naming rules, as MLflow users know them."""

from __future__ import annotations

import numbers
import posixpath
import re

from sparktrack.errors import InvalidNameError, InvalidValueError, LimitExceededError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 5000
MAX_RUN_NAME_LENGTH = 250
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_ENTITY_ID_LENGTH = 256

_KEY_CHARS = re.compile(r"^[\w.\- /:]+$")
_ID_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
_KEY_RULE = (
    "names may contain only alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colons (:) and slashes (/), must not be empty, start with '/', or contain '..' or '//'"
)

# Keys already validated in this process: the hot path checks a key once, not on every call.
_valid_keys: set[str] = set()


def validate_key(key: object, kind: str) -> str:
    if key.__class__ is str and key in _valid_keys:
        return key
    if not isinstance(key, str):
        raise InvalidNameError(f"{kind} key", key, f"must be a string, not {type(key).__name__}")
    if len(key) > MAX_KEY_LENGTH:
        raise LimitExceededError(f"{kind.capitalize()} key", len(key), MAX_KEY_LENGTH, key)
    if not _KEY_CHARS.match(key) or key != posixpath.normpath(key) or key.startswith("/"):
        raise InvalidNameError(f"{kind} key", key, _KEY_RULE)
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def validate_metric_value(key: str, value: object) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, numbers.Real):  # ints, bools, numpy scalars
        return float(value)
    raise InvalidValueError(
        f"Metric {key!r} value", value, "a number (int or float; NaN and +/-inf are kept)"
    )


def validate_step(step: object) -> int:
    if step is None:
        return 0
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        return int(step)
    raise InvalidValueError("Metric step", step, "an integer")


def validate_timestamp(timestamp: object) -> int:
    if isinstance(timestamp, numbers.Integral) and not isinstance(timestamp, bool) and timestamp >= 0:
        return int(timestamp)
    raise InvalidValueError("Metric timestamp", timestamp, "epoch milliseconds as a non-negative int")


def _text(kind: str, key: str, value: object, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise LimitExceededError(f"{kind} {key!r} value", len(text), limit, text)
    return text


def param_value(key: str, value: object) -> str:
    return _text("Param", key, value, MAX_PARAM_VALUE_LENGTH)


def tag_value(key: str, value: object) -> str:
    return _text("Tag", key, value, MAX_TAG_VALUE_LENGTH)


def validate_run_name(name: object) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise InvalidNameError("run name", name, f"must be a string, not {type(name).__name__}")
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise LimitExceededError("Run name", len(name), MAX_RUN_NAME_LENGTH, name)
    return name


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(
            "experiment name", name, "must be a non-empty string such as '/Shared/team/churn'"
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise LimitExceededError("Experiment name", len(name), MAX_EXPERIMENT_NAME_LENGTH, name)
    if any(ord(ch) < 32 for ch in name):
        raise InvalidNameError("experiment name", name, "must not contain control characters")
    return name


def validate_id(value: object, kind: str) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_ENTITY_ID_LENGTH
        or not _ID_CHARS.match(value)
    ):
        raise InvalidNameError(
            f"{kind} id", value, "ids are strings of letters, digits, '-' and '_' as returned by "
            "sparktrack"
        )
    return value
