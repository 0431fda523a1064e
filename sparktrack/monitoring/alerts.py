"""Alert rules: a metric of the output tables, a comparison and a threshold, checked against the
rows each refresh writes, the results kept in ``<name>_alerts`` and, when a rule is triggered,
POSTed as JSON to the monitor's ``alert_url``.

A rule is text, ``<metric>[(<column>)] <op> <threshold>``, or a mapping with those keys
(``metric``, ``op``, ``threshold``, and optionally ``column`` and ``drift_type``):

    population_stability_index > 0.2          any monitored column's drift from the baseline
    js_distance(plan) > 0.1                    one column's
    ks_test.pvalue < 0.01
    accuracy < 0.8                             the model quality of the window (the :table row)
    count < 1000                               the window's row count
    num_nulls(tenure_months) > 0               a column's profile metric

Rules are checked on the whole table (no slice), per window, model version and column, on the
windows a refresh recomputes; a drift rule reads the BASELINE comparison when the monitor has a
baseline (a table, or the lineage), else the CONSECUTIVE one.
"""

from __future__ import annotations

import json
import math
import operator
import re
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Sequence

from sparktrack.errors import InvalidValueError
from sparktrack.monitoring.custom import DRIFT, TABLE_INPUT, CustomMetric
from sparktrack.monitoring.profile import NUMERIC_TYPES
from sparktrack.monitoring.outputs import BASELINE, CONSECUTIVE, QUALITY, TABLE_ROW

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
TABLE_METRICS = ("count", *QUALITY)
COLUMN_METRICS = ("num_nulls", "avg", "stddev", "min", "max", "distinct_count")
DRIFT_METRICS = ("population_stability_index", "js_distance", "tv_distance", "l_infinity_distance",
                 "wasserstein_distance", "ks_test.statistic", "ks_test.pvalue", "chi_squared_test.statistic",
                 "chi_squared_test.pvalue", "count_delta", "avg_delta", "percent_null_delta", "distinct_count_delta")
REGRESSION_QUALITY = ("mse", "rmse", "mae", "r2", "mape")
TRIGGERED, OK = "TRIGGERED", "OK"
_RULE = re.compile(r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?:\(\s*(?P<column>[^()]+?)\s*\))?\s*"
                   r"(?P<op><=|>=|==|!=|<|>)\s*(?P<threshold>\S+)\s*$")
#: The alert table's columns, as built on the driver (windows as epoch microseconds).
ALERTS_STAGED = ", ".join([
    "window_start_us bigint, window_end_us bigint, granularity string, model_version string, model_name string",
    "rule string, metric string, column_name string, value double, threshold double, state string",
    "table_version bigint"])


@dataclass(frozen=True)
class AlertRule:
    rule: str  # as the user wrote it (or made from the mapping)
    metric: str
    op: str
    threshold: float
    column: str | None = None  # None: every monitored column (column and drift metrics)
    drift_type: str | None = None  # None: BASELINE when there is a baseline, else CONSECUTIVE
    scope: str | None = None  # a custom metric's: "drift", "column" or "table" (which rows hold it)

    @property
    def kind(self) -> str:
        if self.scope is not None:
            return self.scope
        if self.metric in DRIFT_METRICS:
            return "drift"
        return "column" if self.metric in COLUMN_METRICS or (self.metric == "count" and self.column) else "table"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_rules(rules: Any, columns: Sequence[str], has_labels: bool, problem_type: str,
                custom: Sequence[CustomMetric] = ()) -> tuple[AlertRule, ...]:
    """The rules as given to create_monitor, checked: every metric known (built in, or one of the
    numeric ``custom`` metrics), every column monitored, every threshold a finite number."""
    if rules is None:
        return ()
    if isinstance(rules, (str, Mapping)) or not isinstance(rules, Sequence):
        raise InvalidValueError("create_monitor alerts", rules,
                                "a list of rules such as ['population_stability_index > 0.2', 'accuracy < 0.8']")
    scopes = {m.name: _scope(m) for m in custom if m.output_data_type in NUMERIC_TYPES}
    return tuple(_rule(rule, columns, has_labels, problem_type, scopes) for rule in rules)


def _scope(metric: CustomMetric) -> str:
    if metric.type == DRIFT:
        return "drift"
    return "table" if metric.input_columns == (TABLE_INPUT,) else "column"


def _rule(given: Any, columns: Sequence[str], has_labels: bool, problem_type: str,
          scopes: Mapping[str, str]) -> AlertRule:
    what = "create_monitor alert rule"
    if isinstance(given, str):
        match = _RULE.match(given)
        if match is None:
            raise InvalidValueError(what, given, "'<metric> <op> <threshold>' or '<metric>(<column>) <op> "
                                                 f"<threshold>', with op one of {list(OPERATORS)}")
        parts = match.groupdict()
        text = given.strip()
    elif isinstance(given, Mapping):
        unknown = set(given) - {"metric", "op", "threshold", "column", "drift_type"}
        if unknown or not {"metric", "op", "threshold"} <= set(given):
            raise InvalidValueError(what, dict(given), "a mapping with metric, op and threshold (and optionally "
                                                       f"column and drift_type); unknown keys {sorted(unknown)}")
        parts = dict(given)
        column = f"({parts['column']})" if parts.get("column") else ""
        text = f"{parts['metric']}{column} {parts['op']} {parts['threshold']}"
    else:
        raise InvalidValueError(what, given, "a rule such as 'population_stability_index > 0.2', or a mapping")
    metric, op, column = parts["metric"], parts["op"], parts.get("column")
    known = (*TABLE_METRICS, *COLUMN_METRICS, *DRIFT_METRICS, *scopes)
    if metric not in known:
        raise InvalidValueError(f"The metric of alert rule {text!r}", metric, f"one of {list(known)}")
    if op not in OPERATORS:
        raise InvalidValueError(f"The comparison of alert rule {text!r}", op, f"one of {list(OPERATORS)}")
    try:
        threshold = float(parts["threshold"])
    except (TypeError, ValueError):
        threshold = math.nan
    if not math.isfinite(threshold) or isinstance(parts["threshold"], bool):
        raise InvalidValueError(f"The threshold of alert rule {text!r}", parts["threshold"], "a finite number")
    if column is not None and column not in columns:
        raise InvalidValueError(f"The column of alert rule {text!r}", column, f"a monitored column, one of {list(columns)}")
    if metric in QUALITY:
        regression = metric in REGRESSION_QUALITY
        if not has_labels or regression != (problem_type == "regression"):
            raise InvalidValueError(f"The metric of alert rule {text!r}", metric,
                                    f"a metric the monitor computes: model quality needs label_col, and {metric} "
                                    f"is a {'regression' if regression else 'classification'} metric (this "
                                    f"monitor's problem_type is {problem_type}{'' if has_labels else ', no label_col'})")
        if column is not None:
            raise InvalidValueError(f"The column of alert rule {text!r}", column,
                                    f"no column: {metric} is the model quality of the whole window")
    drift_type = parts.get("drift_type")
    if drift_type is not None and drift_type not in (BASELINE, CONSECUTIVE):
        raise InvalidValueError(f"The drift_type of alert rule {text!r}", drift_type, f"{BASELINE} or {CONSECUTIVE}")
    return AlertRule(text, metric, op, threshold, column, drift_type, scopes.get(metric))


def evaluate(rules: Sequence[AlertRule], profile_rows: Sequence[Mapping[str, Any]],
             drift_rows: Sequence[Mapping[str, Any]], has_baseline: bool, table_version: int) -> list[dict[str, Any]]:
    """One alert row per rule and whole-table row it applies to (a window, model version and
    column), with the value and the state; rows where the metric is null are skipped."""
    out = []
    for rule in rules:
        if rule.kind == "drift":
            drift_type = rule.drift_type or (BASELINE if has_baseline else CONSECUTIVE)
            candidates = [r for r in drift_rows if r["drift_type"] == drift_type]
        else:
            candidates = [r for r in profile_rows if (r["column_name"] == TABLE_ROW) == (rule.kind == "table")]
        for row in candidates:
            if row["slice_key"] is not None or (rule.column is not None and row["column_name"] != rule.column):
                continue
            value = _value(row, rule.metric)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            state = TRIGGERED if OPERATORS[rule.op](value, rule.threshold) else OK
            out.append({"window_start_us": row["window_start_us"], "window_end_us": row["window_end_us"],
                        "granularity": row["granularity"], "model_version": row["model_version"],
                        "model_name": row["model_name"], "rule": rule.rule, "metric": rule.metric,
                        "column_name": None if rule.kind == "table" else row["column_name"], "value": float(value),
                        "threshold": rule.threshold, "state": state, "table_version": table_version})
    return out


def _value(row: Mapping[str, Any], metric: str) -> Any:
    head, _, field = metric.partition(".")
    value = row.get(head)
    return (value or {}).get(field) if field else value


def post(url: str, table_name: str, table_version: int, triggered: Sequence[Mapping[str, Any]]) -> str | None:
    """POST the triggered alerts as one JSON document; None when delivered, else why not."""
    body = json.dumps({"monitor": table_name, "table_version": table_version, "alerts": [
        {k: v for k, v in alert.items() if k not in ("window_start_us", "window_end_us")}
        | {"window_start": _iso(alert["window_start_us"]), "window_end": _iso(alert["window_end_us"])}
        for alert in triggered]}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return None if 200 <= response.status < 300 else f"{url} answered HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"{url} answered HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"{url} could not be reached ({getattr(error, 'reason', error)})"


def check_url(url: Any) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise InvalidValueError("create_monitor alert_url", url, "an http:// or https:// URL to POST alerts to")
    return url


def _iso(micros: int | None) -> str | None:
    import datetime as dt

    if micros is None:
        return None
    return (dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)).isoformat()
