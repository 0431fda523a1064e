"""Config files: a TOML file with one table per job (``[train]``, ``[batch_score]``...) or per
serving endpoint (``[endpoint]``), read into frozen dataclasses. Unknown keys, missing keys and values of the wrong type are errors that name the
file and the key; ``--set key=value`` overrides any key (dotted for nested tables).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from typing import Any, Mapping, Sequence, TypeVar

from sparktrack.errors import ConfigError
from sparktrack.settings import read_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

C = TypeVar("C")


def read_section(path: str | None, section: str, kind: str = "Job") -> dict[str, Any]:
    """The ``[section]`` table of the TOML file at ``path`` ({} when no file is given)."""
    if path is None:
        return {}
    data = read_toml(path, f"{kind} config file")
    if set(data) != {section}:
        raise ConfigError(
            f"{kind} config file {path} must hold exactly one table, [{section}]; it holds "
            f"{sorted(data) or 'nothing'}. Put every key under [{section}]."
        )
    return data[section]


def apply_overrides(values: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``values`` with each ``key=value`` (``a.b=value`` for nested tables) applied; the value is
    read as TOML (``4``, ``0.5``, ``true``, ``["a", "b"]``), else taken as a string."""
    result = _deep_copy(values)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not key=value; e.g. --set estimator.params.maxDepth=6")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        *parents, leaf = key.strip().split(".")
        target = result
        for parent in parents:
            child = target.setdefault(parent, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {parent!r} is a value, not a table")
            target = child
        target[leaf] = value
    return result


def build(cls: type[C], values: Any, where: str) -> C:
    """An instance of the dataclass ``cls`` from a TOML table, checking keys and types."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a table, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"Unknown key(s) {unknown} in {where}. Known keys: {sorted(fields)}.")
    missing = sorted(
        name for name, f in fields.items()
        if name not in values and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise ConfigError(f"{where} lacks the required key(s) {missing}.")
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in values.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _convert(inner, value, where)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin is list or origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(_convert(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table, got {value!r}")
        return {str(k): (v if args[1] is Any else _convert(args[1], v, f"{where}.{k}"))
                for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be of type {hint.__name__}, got {value!r}")
    return value


def _deep_copy(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in values.items()}
