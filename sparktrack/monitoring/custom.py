"""Custom metrics, as Databricks' Lakehouse Monitoring defines them: each is a column, named
``name``, of one output table, computed from a SQL expression (``definition``) with templates.

    aggregate  an aggregate over a group's rows, once per input column, in the profile table:
               {"type": "aggregate", "name": "squared_avg", "input_columns": ["amount"],
                "definition": "avg(`{{input_column}}` * `{{input_column}}`)", "output_data_type": "double"}
    derived    an expression over the metrics of the same group and column (the aggregate custom
               metrics by name, and count, num_nulls, avg, stddev, min, max, distinct_count), in
               the profile table: "sqrt(squared_avg - avg * avg)"
    drift      an expression over two groups' metrics (those a derived metric reads, and the
               derived ones), ``{{current_df}}.<metric>`` and ``{{base_df}}.<metric>``, in the
               drift table: "{{current_df}}.squared_avg - {{base_df}}.squared_avg"

``input_columns`` lists monitored columns, or ``[":table"]`` for a metric of the whole row (the
``:table`` row, whose metrics are ``count`` and the model quality). The templates are
``{{input_column}}``, ``{{prediction_col}}``, ``{{label_col}}``, ``{{current_df}}`` and
``{{base_df}}``. ``output_data_type`` is a Spark SQL type ("double", "bigint", ...), a DataType's
or StructField's JSON (Databricks' ``StructField("output", DoubleType()).json()``), or a DataType
or StructField.

Aggregates are computed in the profile's aggregation (one pass with the built-in metrics). Derived
and drift metrics read only the summaries: each is one Spark job over a small frame built on the
driver, with one row per group and column.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.errors import InvalidValueError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

AGGREGATE, DERIVED, DRIFT = "aggregate", "derived", "drift"
TYPES = (AGGREGATE, DERIVED, DRIFT)
TABLE_INPUT = ":table"
#: The built-in metrics a derived or drift metric reads, per column and for the :table row.
COLUMN_BUILTINS = {"count": "bigint", "num_nulls": "bigint", "avg": "double", "stddev": "double",
                   "min": "double", "max": "double", "distinct_count": "bigint"}
_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_WHAT = "create_monitor custom_metrics"


@dataclass(frozen=True)
class CustomMetric:
    type: str
    name: str
    input_columns: tuple[str, ...]
    definition: str
    output_data_type: str  # a Spark SQL type, as DataType.simpleString() gives it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustomMetric:
        return cls(**{**data, "input_columns": tuple(data["input_columns"])})

    def render(self, column: str | None, prediction_col: str | None, label_col: str | None) -> str:
        """The definition with its templates filled in (for ``column``; None: the :table row)."""
        values = {"input_column": column, "prediction_col": prediction_col, "label_col": label_col}
        if self.type == DRIFT:
            values.update(current_df="current_df", base_df="base_df")

        def fill(match: re.Match) -> str:
            value = values.get(match.group(1))
            if value is None:
                fillable = ", ".join(_fillable(self.type, column, prediction_col, label_col)) or "none"
                where = (f"an aggregate metric on {column or TABLE_INPUT} of this monitor" if self.type == AGGREGATE
                         else f"a {self.type} metric, which reads the metrics by name")
                raise InvalidValueError(f"The definition of custom metric {self.name!r}", self.definition,
                                        f"an expression with only the templates the monitor fills here "
                                        f"({fillable}); {{{{{match.group(1)}}}}} has no value in {where}")
            return value

        return _TEMPLATE.sub(fill, self.definition)


def _fillable(kind: str, column: str | None, prediction_col: str | None, label_col: str | None) -> list[str]:
    names = [n for n, v in (("input_column", column), ("prediction_col", prediction_col),
                            ("label_col", label_col)) if v is not None]
    return names + (["current_df", "base_df"] if kind == DRIFT else [])


def parse(spark: SparkSession, given: Any, frame: DataFrame, kinds: Mapping[str, str],
          prediction_col: str | None, label_col: str | None, taken: Sequence[str]) -> tuple[CustomMetric, ...]:
    """The custom metrics as create_monitor takes them, checked: each definition is analysed by
    Spark against the table (aggregates) or the metrics it reads (derived, drift). ``taken``: the
    output tables' own columns, which no metric may be named."""
    if given is None:
        return ()
    if isinstance(given, (str, Mapping)) or not isinstance(given, Sequence):
        raise InvalidValueError(_WHAT, given, "a list of metrics, each a mapping with type, name, input_columns, "
                                              "definition and output_data_type")
    metrics: list[CustomMetric] = []
    for item in given:
        metrics.append(_metric(spark, item, kinds, set(taken) | {m.name for m in metrics}))
    for metric in metrics:
        context = f"custom metric {metric.name!r}"
        if metric.type == AGGREGATE:
            for column in _targets(metric):
                text = metric.render(column, prediction_col, label_col)
                _analyse(context, text, lambda expr: frame.groupBy().agg(expr.cast(metric.output_data_type)))
        else:
            text = metric.render(None, None, None)
            empty = spark.createDataFrame([], _frame_ddl(metrics, metric.type == DRIFT))
            _analyse(context, text, lambda expr: empty.select(expr.cast(metric.output_data_type)))
    return tuple(metrics)


def _targets(metric: CustomMetric) -> list[str | None]:
    return [None if c == TABLE_INPUT else c for c in metric.input_columns]


def _metric(spark: SparkSession, item: Any, kinds: Mapping[str, str], taken: set[str]) -> CustomMetric:
    if hasattr(item, "as_dict") and not isinstance(item, Mapping):  # databricks-sdk's MonitorMetric
        item = item.as_dict()
    if not isinstance(item, Mapping):
        raise InvalidValueError(_WHAT, item, "a mapping with type, name, input_columns, definition and "
                                             "output_data_type")
    keys = {"type", "name", "input_columns", "definition", "output_data_type"}
    if set(item) - keys or not {"type", "name", "input_columns", "definition"} <= set(item):
        raise InvalidValueError(_WHAT, dict(item), f"a mapping with the keys {sorted(keys)} (output_data_type "
                                                   f"defaults to double); unknown {sorted(set(item) - keys)}")
    kind = str(getattr(item["type"], "value", item["type"])).lower().removeprefix("custom_metric_type_")
    if kind not in TYPES:
        raise InvalidValueError(f"{_WHAT} type", item["type"], f"one of {list(TYPES)}")
    name = item["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidValueError(f"{_WHAT} name", name, "a SQL identifier (letters, digits, underscores; at most 128)")
    if name in taken or name in _builtins():
        raise InvalidValueError(f"{_WHAT} name", name, "a name no other metric or output column has")
    columns = item["input_columns"]
    if isinstance(columns, str) or not isinstance(columns, Sequence) or not columns:
        raise InvalidValueError(f"The input_columns of custom metric {name!r}", columns,
                                f"a non-empty list of monitored columns, or [{TABLE_INPUT!r}]")
    for column in columns:
        if column != TABLE_INPUT and column not in kinds:
            raise InvalidValueError(f"The input_columns of custom metric {name!r}", column,
                                    f"a monitored column, one of {list(kinds)}, or {TABLE_INPUT!r}")
    definition = item["definition"]
    if not isinstance(definition, str) or not definition.strip():
        raise InvalidValueError(f"The definition of custom metric {name!r}", definition, "a SQL expression")
    return CustomMetric(kind, name, tuple(dict.fromkeys(columns)), definition.strip(),
                        _data_type(spark, name, item.get("output_data_type", "double")))


def _data_type(spark: SparkSession, name: str, given: Any) -> str:
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    from pyspark.sql.types import DataType, StructField

    what = f"The output_data_type of custom metric {name!r}"
    if isinstance(given, StructField):
        return given.dataType.simpleString()
    if isinstance(given, DataType):
        return given.simpleString()
    if not isinstance(given, str) or not given.strip():
        raise InvalidValueError(what, given, "a Spark SQL type such as 'double', or a StructField's JSON")
    text = given.strip()
    if text.startswith(("{", '"')):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, dict) and "name" in parsed and "type" in parsed:  # a StructField
                parsed = parsed["type"]
            text = parsed if isinstance(parsed, str) else DataType.fromJson(parsed).simpleString()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidValueError(what, given, "a DataType's or StructField's JSON, or a type such as "
                                                 "'double'") from None
    try:
        return spark.range(0).select(F.lit(None).cast(text).alias("x")).schema[0].dataType.simpleString()
    except (PySparkException, ValueError) as error:
        raise InvalidValueError(what, given, f"a Spark SQL type such as 'double' (Spark said: {_first(error)})") from None


def _analyse(context: str, text: str, plan: Any) -> None:
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    try:
        plan(F.expr(text)).schema
    except (PySparkException, ValueError) as error:
        raise InvalidValueError(f"The definition of {context}", text,
                                f"a SQL expression Spark can evaluate here (Spark said: {_first(error)})") from None


def _first(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:300]


# -- computing ------------------------------------------------------------------------------------

def aggregates(metrics: Sequence[CustomMetric], columns: Sequence[str], prediction_col: str | None,
               label_col: str | None, check: DataFrame | None = None) -> list[tuple[str, str | None, Column]]:
    """(metric name, column (None: :table), aggregate) of each aggregate metric over ``columns``
    (the monitored columns present), for profile.profiles' aggregation. With ``check`` (a
    baseline), those Spark cannot evaluate there (a column or label it lacks) are left out."""
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    out = []
    for metric in metrics:
        if metric.type != AGGREGATE:
            continue
        for column in _targets(metric):
            if column is not None and column not in columns:
                continue
            try:
                value = F.expr(metric.render(column, prediction_col, label_col)).cast(metric.output_data_type)
                if check is not None:
                    check.groupBy().agg(value).schema
            except (InvalidValueError, PySparkException, ValueError):
                continue
            out.append((metric.name, column, value))
    return out


def derive(spark: SparkSession, rows: Sequence[dict[str, Any]], metrics: Sequence[CustomMetric]) -> None:
    """Add each derived metric's value to the profile ``rows`` (dicts, as outputs.profile_rows
    builds them), in one Spark job."""
    chosen = [m for m in metrics if m.type == DERIVED]
    if not chosen or not rows:
        return
    fields = _fields(metrics, derived=False)
    frame = spark.createDataFrame([(r["column_name"], *(r.get(n) for n in fields)) for r in rows],
                                  _frame_ddl(metrics, drift=False))
    for row, found in zip(rows, frame.select(*_values(chosen)).collect()):
        row.update(found.asDict())


def drift(spark: SparkSession, pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
          metrics: Sequence[CustomMetric]) -> list[dict[str, Any]]:
    """For each pair of profile rows (the window's and what it is compared with), the drift
    metrics' values, in one Spark job."""
    chosen = [m for m in metrics if m.type == DRIFT]
    if not chosen or not pairs:
        return [{} for _ in pairs]
    fields = _fields(metrics, derived=True)
    data = [(a["column_name"], tuple(a.get(n) for n in fields), tuple(b.get(n) for n in fields)) for a, b in pairs]
    frame = spark.createDataFrame(data, _frame_ddl(metrics, drift=True))
    return [row.asDict() for row in frame.select(*_values(chosen)).collect()]


def _builtins() -> dict[str, str]:
    from sparktrack.monitoring.outputs import QUALITY

    return {**COLUMN_BUILTINS, **{name: "double" for name in QUALITY}}


def _fields(metrics: Sequence[CustomMetric], derived: bool) -> dict[str, str]:
    """What a derived (or, with ``derived``, a drift) metric reads of a profile row, and its type."""
    return {**_builtins(), **{m.name: m.output_data_type for m in metrics
                              if m.type == AGGREGATE or (derived and m.type == DERIVED)}}


def _frame_ddl(metrics: Sequence[CustomMetric], drift: bool) -> str:
    if not drift:
        return "column_name string, " + ", ".join(f"`{n}` {t}" for n, t in _fields(metrics, derived=False).items())
    side = "struct<" + ", ".join(f"`{n}`: {t}" for n, t in _fields(metrics, derived=True).items()) + ">"
    return f"column_name string, current_df {side}, base_df {side}"


def _values(chosen: Sequence[CustomMetric]) -> list[Column]:
    """Each metric on the rows of its input columns (null on the others)."""
    from pyspark.sql import functions as F

    return [F.when(F.col("column_name").isin(*m.input_columns), F.expr(m.render(None, None, None)))
            .cast(m.output_data_type).alias(m.name) for m in chosen]
