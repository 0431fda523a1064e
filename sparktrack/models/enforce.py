"""A model's signature applied to a pandas frame, as MLflow's pyfunc does it: a missing column is
an error, extra columns are dropped, the columns are put in the signature's order, and a column's
values may only widen to the signature's type (an int to a bigint or a double; never a double to
an int, a number to a string or a string to a number). Unlike MLflow, an infinite value in a
``float`` or ``double`` column is refused too (NaN, a missing value, is kept).

The frames come from JSON and CSV requests, whose numbers carry no width: an integral value
fits an integer column if it is in the column's range, and any number fits a ``float`` or
``double`` column. Types this module does not know (``vector``, arrays, maps, structs) are
passed through for the model to take or refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from sparktrack.models.errors import ColumnTypeError
from sparktrack.models.signature import TEXT_TYPES, base_type, check_columns

if TYPE_CHECKING:
    import pandas as pd

_INTEGERS = {"tinyint": "int8", "smallint": "int16", "int": "int32", "bigint": "int64"}
_FLOATS = {"float": "float32", "double": "float64"}


def enforce(frame: pd.DataFrame, signature: Sequence[dict[str, str]] | None,
            columns: Sequence[str] | None, model: str) -> pd.DataFrame:
    """``frame`` with the signature's columns, in its order, of its types. Without a signature,
    ``columns`` (the names the model reads, when they are known) are checked and selected."""
    import numpy as np

    names = [c["name"] for c in signature] if signature is not None else columns
    if names is None:
        return frame
    present = [str(c) for c in frame.columns]
    check_columns(present, names, None, model)
    selected = frame[list(names)] if present != list(names) else frame
    if signature is None:
        return selected
    converted = {}
    for column in signature:
        name, expected = column["name"], column["type"]
        values = selected[name]
        base = base_type(expected)
        cast = _cast(values, base)
        if cast is None:
            raise ColumnTypeError(name, _described(values), expected, model)
        if base in _FLOATS and len(cast) and bool(np.isinf(cast.to_numpy()).any()):
            raise ColumnTypeError(name, "an infinite value", f"{expected}: a finite number, or null (NaN) "
                                  "for a missing one", model)
        if cast is not values:
            converted[name] = cast
    return selected.assign(**converted) if converted else selected


def _cast(values: pd.Series, base: str) -> pd.Series | None:
    """``values`` as the type ``base``, the same object when nothing changes; None when the values
    would have to narrow."""
    import numpy as np
    import pandas as pd

    kind = values.dtype.kind
    if base in _INTEGERS:
        if kind not in "iu":
            return None
        target = np.dtype(_INTEGERS[base])
        if values.dtype == target:
            return values
        info = np.iinfo(target)
        if len(values) and (values.min() < info.min or values.max() > info.max):
            return None
        return values.astype(target)
    if base in _FLOATS:
        if kind in "iuf":
            target = np.dtype(_FLOATS[base])
            return values if values.dtype == target else values.astype(target)
        if kind == "O" and values.isna().all():  # nulls only: missing numbers
            return values.astype(_FLOATS[base])
        return None
    if base == "boolean":
        return values if kind == "b" else None
    if base in TEXT_TYPES:
        if kind == "O" and all(isinstance(v, str) for v in values.dropna()):
            return values
        return None
    if base in ("timestamp", "timestamp_ntz", "date"):
        if kind == "M":
            return values
        if kind != "O" or not all(isinstance(v, str) for v in values.dropna()):
            return None
        try:
            return pd.to_datetime(values, utc=base == "timestamp")
        except (TypeError, ValueError):
            return None
    if base == "decimal":
        return values if kind in "iuf" or kind == "O" else None
    return values


def _described(values: pd.Series) -> str:
    """What a column holds, for an error message: its kind and its first offending value."""
    kind = values.dtype.kind
    sample = next((v for v in values if v is not None), None)
    if kind == "O":
        kinds = sorted({type(v).__name__ for v in values})
        return f"values of type {'/'.join(kinds)} (for example {_short(sample)})"
    if kind in "iu" and len(values):
        return f"{values.dtype} values from {values.min()} to {values.max()}"
    return f"{values.dtype} values (for example {_short(sample)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
