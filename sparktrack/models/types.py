"""Spark SQL type strings without Spark: the names a model's signature and output type are
written in (``double``, ``bigint``, ``array<double>``), from Arrow types, and checked.

Spark's own parser of these strings needs a running JVM; logging and loading Python models must
not start one, so the common types are named here, as Spark names them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sparktrack.errors import InvalidValueError

if TYPE_CHECKING:
    import pyarrow as pa

#: Each simple type's Spark name, keyed by every spelling Spark's DDL parser accepts.
_SIMPLE = {
    "boolean": "boolean", "bool": "boolean",
    "tinyint": "tinyint", "byte": "tinyint", "smallint": "smallint", "short": "smallint",
    "int": "int", "integer": "int", "bigint": "bigint", "long": "bigint",
    "float": "float", "real": "float", "double": "double",
    "string": "string", "binary": "binary", "date": "date",
    "timestamp": "timestamp", "timestamp_ltz": "timestamp", "timestamp_ntz": "timestamp_ntz",
    "void": "void", "vector": "vector",
}
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\d+|[<>(),:])")
_EXPECTED = "a Spark SQL type string such as 'double', 'bigint', 'string' or 'array<double>'"


def canonical(type_string: object) -> str:
    """``type_string`` as Spark's ``simpleString`` spells it; an error for what Spark would refuse."""
    if not isinstance(type_string, str) or not type_string.strip():
        raise InvalidValueError("output_type", type_string, _EXPECTED)
    tokens = _TOKEN.findall(type_string)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", type_string):
        raise InvalidValueError("output_type", type_string, _EXPECTED)
    position = [0]

    def take(expected: str | None = None) -> str:
        if position[0] >= len(tokens):
            raise InvalidValueError("output_type", type_string, _EXPECTED)
        token = tokens[position[0]]
        if expected is not None and token != expected:
            raise InvalidValueError("output_type", type_string, _EXPECTED)
        position[0] += 1
        return token

    def parse() -> str:
        name = take().lower()
        if name in _SIMPLE:
            return _SIMPLE[name]
        if name in ("decimal", "dec", "numeric"):
            if position[0] < len(tokens) and tokens[position[0]] == "(":
                take("(")
                precision = take()
                scale = "0"
                if tokens[position[0]] == ",":
                    take(",")
                    scale = take()
                take(")")
                return f"decimal({int(precision)},{int(scale)})"
            return "decimal(10,0)"
        if name == "array":
            take("<")
            inner = parse()
            take(">")
            return f"array<{inner}>"
        if name == "map":
            take("<")
            key = parse()
            take(",")
            value = parse()
            take(">")
            return f"map<{key},{value}>"
        if name == "struct":
            take("<")
            fields = []
            while True:
                field = take()
                if position[0] < len(tokens) and tokens[position[0]] == ":":
                    take(":")
                fields.append(f"{field}:{parse()}")
                if take() == ">":
                    return f"struct<{','.join(fields)}>"
        raise InvalidValueError("output_type", type_string, _EXPECTED)

    result = parse()
    if position[0] != len(tokens):
        raise InvalidValueError("output_type", type_string, _EXPECTED)
    return result


def of_arrow(arrow_type: pa.DataType) -> str:
    """The Spark SQL type a pandas UDF (Arrow) maps ``arrow_type`` to."""
    import pyarrow as pa
    import pyarrow.types as t

    for test, name in ((t.is_boolean, "boolean"), (t.is_int8, "tinyint"), (t.is_int16, "smallint"),
                       (t.is_int32, "int"), (t.is_int64, "bigint"), (t.is_uint8, "smallint"),
                       (t.is_uint16, "int"), (t.is_uint32, "bigint"), (t.is_float16, "float"),
                       (t.is_float32, "float"), (t.is_float64, "double"), (t.is_date, "date"),
                       (t.is_null, "void")):
        if test(arrow_type):
            return name
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "string"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type):
        return "binary"
    if t.is_timestamp(arrow_type):
        return "timestamp" if arrow_type.tz else "timestamp_ntz"
    if t.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        return f"array<{of_arrow(arrow_type.value_type)}>"
    if t.is_map(arrow_type):
        return f"map<{of_arrow(arrow_type.key_type)},{of_arrow(arrow_type.item_type)}>"
    if t.is_struct(arrow_type):
        return "struct<" + ",".join(f"{f.name}:{of_arrow(f.type)}" for f in arrow_type) + ">"
    if t.is_dictionary(arrow_type):
        return of_arrow(arrow_type.value_type)
    raise TypeError(f"no Spark SQL type for the Arrow type {arrow_type} ({pa.__name__})")
