"""Input signatures, input examples and output types, from Spark and pandas frames alike.

A signature is a list of ``{"name": ..., "type": ...}`` where the type is a Spark SQL type string
(``double``, ``bigint``, ``string``, ``vector``...), whichever kind of frame it came from, so a
model logged from pandas scores a Spark table with the same column names.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Sequence

from sparktrack.errors import InvalidValueError
from sparktrack.models import types
from sparktrack.models.errors import MissingColumnsError, OutputColumnExistsError, SchemaMismatchError

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

EXAMPLE_ROWS = 5
SIGNATURE_EXPECTED = (
    "a Spark StructType or DataFrame, a pandas DataFrame, or a list of "
    "{'name': ..., 'type': ...} dicts"
)


def is_spark_frame(data: Any) -> bool:
    if "pyspark.sql" not in sys.modules:  # no Spark DataFrame can exist: do not import pyspark
        return False
    from pyspark.sql import DataFrame

    return isinstance(data, DataFrame)


def is_pandas_frame(data: Any) -> bool:
    if "pandas" not in sys.modules:
        return False
    import pandas as pd

    return isinstance(data, pd.DataFrame)


def from_struct(schema: StructType) -> list[dict[str, str]]:
    return [{"name": f.name, "type": f.dataType.simpleString()} for f in schema.fields]


def from_pandas(frame: Any) -> list[dict[str, str]]:
    """Spark SQL types for a pandas frame's columns, as Arrow (hence a pandas UDF) maps them."""
    import pyarrow as pa

    signature = []
    for name in frame.columns:
        column = frame[name]
        try:
            type_name = types.of_arrow(pa.Array.from_pandas(column.head(1000)).type)
        except Exception:  # noqa: BLE001 - an exotic dtype: record pandas' name for it
            type_name = str(column.dtype)
        signature.append({"name": str(name), "type": type_name})
    return signature


def spark_type_of_values(values: Any) -> str:
    """The Spark SQL type of a model's predictions (array-like), as Arrow maps them."""
    import numpy as np
    import pyarrow as pa

    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    return types.of_arrow(pa.array(array).type)


def signature_of(signature: Any, input_example: Any = None) -> list[dict[str, str]] | None:
    """The signature given (any accepted form), else the input example's schema, else None."""
    if input_example is not None and not (is_spark_frame(input_example)
                                          or is_pandas_frame(input_example)):
        raise InvalidValueError("input_example", input_example, "a Spark or pandas DataFrame")
    if signature is None:
        if input_example is None:
            return None
        signature = input_example
    if _is_struct(signature):
        return from_struct(signature)
    if is_spark_frame(signature):
        return from_struct(signature.schema)
    if is_pandas_frame(signature):
        return from_pandas(signature)
    if isinstance(signature, (list, tuple)) and all(
        isinstance(c, dict) and set(c) == {"name", "type"}
        and isinstance(c["name"], str) and isinstance(c["type"], str)
        for c in signature
    ):
        return [dict(column) for column in signature]
    raise InvalidValueError("signature", signature, SIGNATURE_EXPECTED)


def _is_struct(value: Any) -> bool:
    if "pyspark.sql" not in sys.modules:
        return False
    from pyspark.sql.types import StructType

    return isinstance(value, StructType)


def example_records(input_example: Any) -> list[dict[str, Any]] | None:
    """Up to five rows of a Spark or pandas frame as JSON records."""
    if input_example is None:
        return None
    if is_spark_frame(input_example):
        from pyspark.sql import functions as F

        rows = input_example.limit(EXAMPLE_ROWS).select(F.to_json(F.struct("*"))).collect()
        return [json.loads(row[0]) for row in rows]
    if is_pandas_frame(input_example):
        text = input_example.head(EXAMPLE_ROWS).to_json(orient="records", date_format="iso")
        return json.loads(text)
    raise InvalidValueError("input_example", input_example, "a Spark or pandas DataFrame")


_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal", "boolean")
TEXT_TYPES = ("string", "varchar", "char")


def base_type(type_string: str) -> str:
    """A Spark SQL type's name without its parameters: ``decimal`` for ``decimal(10,2)``."""
    return type_string.split("(", 1)[0].strip().lower()


def type_family(type_string: str) -> str:
    """``numeric`` for any number or boolean, ``string`` for text; other types are their own
    family. Models trained on one numeric type score any other (Spark ML assembles them all to
    doubles; pandas models receive numbers)."""
    base = base_type(type_string)
    if base in _NUMERIC:
        return "numeric"
    if base in TEXT_TYPES:
        return "string"
    return type_string


def check_schema(schema: StructType, signature: Sequence[dict[str, str]] | None,
                 output_column: str | None, model: str = "the model",
                 required: Sequence[str] | None = None) -> None:
    """Raise before any job runs if ``schema`` lacks a signature column (or, without a
    signature, one of the ``required`` columns the model names), holds one of a type the
    signature does not allow, or already has the output column."""
    present = {f.name: f.dataType.simpleString() for f in schema.fields}
    if signature is None and required is not None:
        check_columns(list(present), required, None, model)
    if signature is not None:
        check_columns(list(present), [c["name"] for c in signature], None, model)
        mismatched = {
            c["name"]: (present[c["name"]], c["type"]) for c in signature
            if type_family(present[c["name"]]) != type_family(c["type"])
        }
        if mismatched:
            raise SchemaMismatchError(mismatched, present, model)
    check_columns(list(present), None, output_column, model)


def check_columns(columns: Sequence[str], required: Sequence[str] | None, output_column: str | None,
                  model: str = "the model") -> None:
    """Raise if ``columns`` lack a signature column, or already hold the output column."""
    if required is not None:
        missing = [name for name in required if name not in columns]
        if missing:
            raise MissingColumnsError(missing, columns, model)
    if output_column is not None and output_column in columns:
        raise OutputColumnExistsError(output_column, columns)
