"""Limits and naming rules, as MLflow users know them."""

from __future__ import annotations

import numbers
import posixpath
import re
from collections.abc import Iterable, Mapping

from sparktrack.entities import Metric, Param, RunTag
from sparktrack.errors import InvalidNameError, InvalidValueError, LimitExceededError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 5000
MAX_RUN_NAME_LENGTH = 250
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_ENTITY_ID_LENGTH = 256
#: Steps are Delta BIGINTs (signed 64-bit); timestamps end with the year 9999, as Spark's do.
MIN_STEP, MAX_STEP = -(2**63), 2**63 - 1
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS = 1_000_000
MAX_TIMESTAMP = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z in epoch milliseconds

_KEY_CHARS = re.compile(r"[\w.\- /:]+\Z")  # \Z: "$" would let a final newline through
_ID_CHARS = re.compile(r"[A-Za-z0-9_-]+\Z")
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
        try:
            return float(value)
        except OverflowError:  # an int beyond a double's range
            raise InvalidValueError(
                f"Metric {key!r} value", value, "a number within a double's range (about 1.8e308); "
                "log float('inf') for an unbounded value"
            ) from None
    raise InvalidValueError(
        f"Metric {key!r} value", value, "a number (int or float; NaN and +/-inf are kept)"
    )


def validate_step(step: object) -> int:
    if step is None:
        return 0
    if step.__class__ is int and MIN_STEP <= step <= MAX_STEP:  # the hot path, before the ABC check
        return step
    if isinstance(step, numbers.Integral) and not isinstance(step, bool) and MIN_STEP <= step <= MAX_STEP:
        return int(step)
    raise InvalidValueError("Metric step", step, f"an integer from {MIN_STEP} to {MAX_STEP} (64-bit)")


def validate_timestamp(timestamp: object, what: str = "Metric timestamp") -> int:
    if timestamp.__class__ is int and 0 <= timestamp <= MAX_TIMESTAMP:  # the hot path
        return timestamp
    if (isinstance(timestamp, numbers.Integral) and not isinstance(timestamp, bool)
            and 0 <= timestamp <= MAX_TIMESTAMP):
        return int(timestamp)
    raise InvalidValueError(
        what, timestamp, f"epoch milliseconds as an int from 0 to {MAX_TIMESTAMP} (9999-12-31)"
    )


def validate_metric(key: object, value: object, timestamp: object, step: object) -> Metric:
    return Metric(key=validate_key(key, "metric"), value=validate_metric_value(key, value),
                  timestamp=validate_timestamp(timestamp), step=validate_step(step))


def validate_batch(metrics: Iterable[Metric] = (), params: Iterable[Param] = (),
                   tags: Iterable[RunTag] = ()) -> tuple[list[Metric], list[Param], list[RunTag]]:
    """A batch's records, every one checked (param and tag values as strings)."""
    metrics = [validate_metric(m.key, m.value, m.timestamp, m.step)
               for m in _records(metrics, Metric, "metrics")]
    params = [Param(key=validate_key(p.key, "param"), value=param_value(p.key, p.value))
              for p in _records(params, Param, "params")]
    tags = [RunTag(key=validate_key(t.key, "tag"), value=tag_value(t.key, t.value))
            for t in _records(tags, RunTag, "tags")]
    return metrics, params, tags


def _records(records: object, kind: type, argument: str) -> list:
    fields = "key=..., value=..., timestamp=..., step=..." if kind is Metric else "key=..., value=..."
    example = f"sparktrack.{kind.__name__}({fields})"
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise InvalidValueError(f"log_batch {argument}", records, f"a list of {example}")
    items = list(records)
    for item in items:
        if not isinstance(item, kind):
            raise InvalidValueError(f"Each of log_batch {argument}", item, f"a {example}")
    return items


def _text(kind: str, key: str, value: object, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise LimitExceededError(f"{kind} {key!r} value", len(text), limit, text)
    return text


def param_value(key: str, value: object) -> str:
    return _text("Param", key, value, MAX_PARAM_VALUE_LENGTH)


def tag_value(key: str, value: object) -> str:
    return _text("Tag", key, value, MAX_TAG_VALUE_LENGTH)


def validate_tags(tags: object) -> dict[str, str]:
    """A mapping of tag keys to values, as validated key -> text."""
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidValueError("tags", tags, "a dict of tag keys to values")
    return {validate_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}


def validate_max_results(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= SEARCH_MAX_RESULTS:
        raise InvalidValueError("max_results", value, f"an integer from 1 to {SEARCH_MAX_RESULTS}")
    return value


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


def validate_filter(filter_string: object) -> str | None:
    if filter_string is None or isinstance(filter_string, str):
        return filter_string
    raise InvalidValueError("filter_string", filter_string,
                            "a string such as \"metrics.accuracy > 0.9 AND params.model = 'gbt'\", or None")


def validate_order_by(order_by: object) -> list[str]:
    """``order_by`` as a list of clauses: None, one clause, or a list of them. The clauses
    themselves are checked by the filter compiler, which names the position of a problem."""
    if order_by is None:
        return []
    if isinstance(order_by, str):
        return [order_by]
    if isinstance(order_by, Iterable) and not isinstance(order_by, (bytes, Mapping)):
        return list(order_by)
    raise InvalidValueError("order_by", order_by, "a list of clauses such as ['metrics.accuracy DESC']")


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
