"""The monitor's report: one self-contained HTML file of its output tables, which opens with no
network (plotly.js is inlined once, in the page's head; no fonts, images or other scripts).

    from sparktrack.monitoring import MonitoringClient
    from sparktrack.monitoring.report import write_report

    monitor = MonitoringClient(client).get_monitor("/data/predictions/churn")
    write_report(client.spark, monitor, "churn_report.html")

The page has a header (the table, its Delta version at the last refresh, when the page was
made, and what is drifting in the latest window) and three sections, each on the whole table
(no slice) at the monitor's first granularity:

- drift over time per column, one line per model version: the population stability index of a
  numeric column, the Jensen-Shannon distance of a categorical one, against the baseline
  (``BASELINE`` rows) when the monitor has one, else against the previous window;
- model quality over time per model version, from the profile table's ``:table`` rows (accuracy
  and macro F1, or RMSE and MAE), when the monitor has a label column;
- per column, the distribution in the latest window against the baseline's (the profile rows
  whose ``log_type`` is ``BASELINE``): CDFs from the 101 quantiles of a numeric column, the
  proportions of the frequent items of a categorical one; against the previous window when the
  profile table has no baseline rows.

Spark does the filtering; only the few rows the charts draw reach the driver.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import pathlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from sparktrack.errors import InvalidValueError, NotFoundError, TableNotFoundError
from sparktrack.monitoring.outputs import BASELINE, BASELINE_LOG, CONSECUTIVE, TABLE_ROW
from sparktrack.monitoring.outputs import INPUT as INPUT_LOG
from sparktrack.monitoring.profile import NUMERIC, SNAPSHOT
from sparktrack.tracking.datasets import TableRef

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparktrack.monitoring.monitor import Monitor

#: A column drifts when its statistic is past its threshold and, where there is one, its test's
#: p-value (Kolmogorov-Smirnov, chi-squared) is below P_VALUE: far enough, and not by chance.
PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1
P_VALUE = 0.05
QUALITY_METRICS = {"classification": ("accuracy", "f1_macro"), "regression": ("rmse", "mae")}
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
BASELINE_COLOR = "#555555"
CHART_HEIGHT = "360px"
MAX_TICKS = 15  # windows on a time axis with a tick each
NO_MODEL = (None, None)  # the model of a row without model columns, or of an explicit baseline


class MonitorNotRefreshedError(NotFoundError):
    """A report on a monitor with no output tables: never refreshed, or a table dropped since."""

    def __init__(self, table: str, missing: Sequence[str], table_version: int | None):
        self.table, self.missing, self.table_version = table, list(missing), table_version
        if table_version is None:
            what = "it has never been refreshed"
        else:
            what = (f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing (dropped since the "
                    f"last refresh, or the table had no rows at version {table_version})")
        super().__init__(f"The monitor on {table!r} has nothing to report: {what}. "
                         f"Run refresh_monitor({table!r}) to write its output tables first.")


def write_report(spark: SparkSession, monitor: Monitor, path: str | os.PathLike) -> pathlib.Path:
    """Write the monitor's report to ``path`` (an HTML file; its folder is created) and return
    the path. MonitorNotRefreshedError when the monitor has no output tables yet."""
    target = pathlib.Path(path)
    if target.is_dir():
        raise InvalidValueError("write_report path", str(path), "a file path such as report.html, not a directory")
    data = _collect(spark, monitor)
    page = _page(monitor, data, dt.datetime.now(dt.timezone.utc))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, target)  # a reader never sees half a page
    return target


# -- what the charts need, from Spark ---------------------------------------------------------------

@dataclass(frozen=True)
class _Data:
    granularity: str
    drift_type: str | None  # BASELINE, CONSECUTIVE, or None when there are no drift rows
    drift: list[dict[str, Any]]  # start_us, model, column_name, statistic, pvalue
    quality: list[dict[str, Any]]  # start_us, model and the quality metrics
    latest: int | None  # the latest window's start (epoch µs; None for a snapshot)
    previous: int | None
    windows: int  # how many windows of those two there are (0, 1 or 2)
    profiles: list[dict[str, Any]]  # the latest and previous windows' and the baseline's column rows

    @property
    def has_baseline_rows(self) -> bool:
        return any(r["log_type"] == BASELINE_LOG for r in self.profiles)


def _collect(spark: SparkSession, monitor: Monitor) -> _Data:
    """Three small collects: the drift rows charted, the ``:table`` rows (the windows, and the
    quality), and the column rows of the latest two windows and of the baseline."""
    from pyspark.sql import functions as F

    config = monitor.config
    profile_frame, drift_frame = _outputs(spark, monitor)
    granularity = config.windowings[0]
    start = F.unix_micros(F.col("window.start")).alias("start_us")
    whole = F.col("slice_key").isNull() & (F.col("granularity") == granularity)

    numeric = [n for n, k in config.column_kinds.items() if k == NUMERIC]
    is_numeric = F.col("column_name").isin(numeric) if numeric else F.lit(False)
    drift_rows = [_model_row(r) for r in drift_frame.where(whole).select(  # (categorical columns have a PSI too)
        start, "drift_type", _model_name(drift_frame), "model_version", "column_name",
        F.when(is_numeric, F.col("population_stability_index")).otherwise(F.col("js_distance")).alias("statistic"),
        F.when(is_numeric, F.col("ks_test.pvalue")).otherwise(F.col("chi_squared_test.pvalue")).alias("pvalue"))
        .collect()]
    found = {r["drift_type"] for r in drift_rows}
    drift_type = BASELINE if BASELINE in found else CONSECUTIVE if CONSECUTIVE in found else None

    has_log_type = "log_type" in profile_frame.columns
    log_type = F.coalesce(F.col("log_type"), F.lit(INPUT_LOG)) if has_log_type else F.lit(INPUT_LOG)
    windows = profile_frame.where(whole & (log_type == INPUT_LOG))
    metrics = QUALITY_METRICS[config.problem_type] if config.label_col is not None else ()
    table_rows = [_model_row(r) for r in windows.where(F.col("column_name") == TABLE_ROW).select(
        start, _model_name(profile_frame), "model_version", *metrics).collect()]
    starts = sorted({r["start_us"] for r in table_rows}, key=_order, reverse=True)[:2]
    latest, previous = (starts + [None, None])[:2]

    columns = F.col("column_name").isin(list(config.column_kinds))
    wanted = whole & (log_type == INPUT_LOG) & columns & _starting(starts)
    if has_log_type:
        wanted = wanted | (F.col("slice_key").isNull() & (log_type == BASELINE_LOG) & columns)
    profiles = [_model_row(r) for r in profile_frame.where(wanted).select(
        start, _model_name(profile_frame), "model_version", "column_name", "count", "quantiles", "frequent_items",
        log_type.alias("log_type")).collect()]
    return _Data(granularity, drift_type, [r for r in drift_rows if r["drift_type"] == drift_type],
                 table_rows if metrics else [], latest, previous, len(starts), profiles)


def _outputs(spark: SparkSession, monitor: Monitor) -> tuple[DataFrame, DataFrame]:
    frames, missing = [], []
    for table in (monitor.profile_table, monitor.drift_table):
        try:
            frames.append(TableRef.parse(table).read(spark))
        except TableNotFoundError:
            missing.append(table)
    if missing or monitor.table_version is None:
        raise MonitorNotRefreshedError(monitor.config.table_name, missing, monitor.table_version)
    return frames[0], frames[1]


def _starting(starts: Sequence[int | None]) -> Column:
    from pyspark.sql import functions as F

    if None in starts:  # a snapshot: its one window has no start
        return F.lit(True)
    return F.unix_micros(F.col("window.start")).isin(list(starts)) if starts else F.lit(False)


def _model_name(frame: DataFrame) -> Column:
    """The model a row's version is of (the tables of older monitors have no model_name)."""
    from pyspark.sql import functions as F

    return (F.col("model_name") if "model_name" in frame.columns else F.lit(None).cast("string")).alias("model_name")


def _model_row(row: Any) -> dict[str, Any]:
    """A collected row as a dict, with ``model``: (model name, model version), both None for a
    monitor without model columns or an explicit baseline."""
    out = row.asDict()
    out["model"] = (out.pop("model_name"), out.pop("model_version"))
    if "frequent_items" in out:
        out["frequent_items"] = [(i["item"], i["count"]) for i in row.frequent_items or []]
    return out


# -- the page ---------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; color: #222; margin: 0 auto; max-width: 1500px; padding: 0 1.5rem 2rem; }
h1 { font-size: 1.5rem; margin: 1.2rem 0 .4rem; } h2 { font-size: 1.2rem; margin: 1.6rem 0 .3rem; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: .4rem 0; }
dl.facts dt { color: #666; } dl.facts dd { margin: 0; font-family: ui-monospace, monospace; }
p.note { color: #666; font-style: italic; margin: .3rem 0; }
.summary { background: #f6f6f6; border-left: 4px solid #999; padding: .5rem 1rem; margin: .8rem 0; }
.summary.drifting { border-left-color: #d62728; } .summary.steady { border-left-color: #2ca02c; }
table { border-collapse: collapse; font-size: .9rem; margin-top: .4rem; }
th, td { padding: .15rem .7rem; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-family: ui-monospace, monospace; } tr.drifting td { color: #b00; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: .8rem; }
.chart { border: 1px solid #ddd; border-radius: 4px; padding: .2rem; min-width: 0; }
.chart.wide { grid-column: 1 / -1; }
"""


def _page(monitor: Monitor, data: _Data, now: dt.datetime) -> str:
    from plotly.offline import get_plotlyjs

    config = monitor.config
    kinds = config.column_kinds
    colors = _colors([*(r["model"] for r in data.drift), *(r["model"] for r in data.quality),
                      *(r["model"] for r in data.profiles if r["log_type"] == INPUT_LOG)])
    drift_charts = [_chart(f"drift-{i}", _drift_figure(name, kind, data, colors))
                    for i, (name, kind) in enumerate(kinds.items())
                    if any(r["column_name"] == name for r in data.drift)]
    distribution_charts = [_chart(f"distribution-{i}", figure) for i, (name, kind) in enumerate(kinds.items())
                           if (figure := _distribution_figure(name, kind, data, colors)) is not None]
    if config.label_col is None:
        quality = _note("No quality chart: the monitor has no label column (create it with label_col=... to "
                        "chart model quality).")
    elif not data.quality:
        quality = _note("No quality chart: the profile table has no windows yet.")
    else:
        chart = _chart("quality", _quality_figure(data, config.problem_type, colors), wide=True)
        quality = f'<div class="grid">{chart}</div>'
    title = f"Monitor report: {config.table_name}"
    baseline = config.baseline or ("the training data of each model version" if data.has_baseline_rows else "none")
    facts = [("Monitored table", config.table_name), ("Delta version at the last refresh", monitor.table_version),
             ("Profile", config.profile_type + (f", {config.problem_type}" if config.label_col else "")),
             ("Granularity charted", data.granularity), ("Baseline", baseline),
             ("Profile table", config.profile_table), ("Drift table", config.drift_table),
             ("Generated", now.strftime("%Y-%m-%d %H:%M:%S UTC"))]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>', "</head>", "<body>",
        f"<h1>{_e(title)}</h1>",
        '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
        _summary(data, kinds),
        "<h2>Drift over time</h2>", _drift_note(data),
        f'<div class="grid">{"".join(drift_charts)}</div>' if drift_charts else "",
        "<h2>Model quality over time</h2>", quality,
        "<h2>Distributions in the latest window</h2>", _distribution_note(data),
        f'<div class="grid">{"".join(distribution_charts)}</div>' if distribution_charts else "",
        "</body>", "</html>", ""])


def _chart(div_id: str, figure: Any, wide: bool = False) -> str:
    top = figure.layout.margin.t or 60
    figure.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": top, "b": 40},
                         legend={"orientation": "h", "yanchor": "top", "y": -0.15}, title_font_size=14)
    body = figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, default_height=CHART_HEIGHT,
                          config={"displaylogo": False, "responsive": True})
    return f'<div class="chart{" wide" if wide else ""}">{body}</div>'


def _summary(data: _Data, kinds: Mapping[str, str]) -> str:
    if data.latest is None and data.windows == 0:
        return '<div class="summary">The profile table has no windows yet.</div>'
    latest = [r for r in data.drift if r["start_us"] == data.latest]
    if not latest:
        return (f'<div class="summary">No drift in the latest window ({_e(_when(data.latest))}): it has neither a '
                f"baseline nor a previous window to compare with.</div>")
    against = "the baseline" if data.drift_type == BASELINE else "the previous window"
    worst = {}
    for row in latest:
        if row["statistic"] is not None and (row["column_name"] not in worst
                                             or row["statistic"] > worst[row["column_name"]]["statistic"]):
            worst[row["column_name"]] = row
    rows, drifting = [], []
    for name in kinds:
        row = worst.get(name)
        if row is None:
            continue
        numeric = kinds[name] == NUMERIC
        threshold = PSI_THRESHOLD if numeric else JS_THRESHOLD
        drifts = row["statistic"] > threshold and (row["pvalue"] is None or row["pvalue"] < P_VALUE)
        drifting += [name] if drifts else []
        rows.append(f'<tr class="{"drifting" if drifts else ""}"><td>{_e(name)}</td>'
                    f'<td>{"PSI" if numeric else "JS distance"}</td><td class="num">{row["statistic"]:.3f}</td>'
                    f'<td class="num">{_e(_pvalue(row["pvalue"]))}</td><td>{_e(_label(row["model"]))}</td>'
                    f'<td>{"yes" if drifts else "no"}</td></tr>')
    said = (f"Drifting in the latest window ({_e(_when(data.latest))}) against {against}: "
            f"<strong>{_e(', '.join(drifting))}</strong>." if drifting else
            f"Nothing is drifting in the latest window ({_e(_when(data.latest))}) against {against}.")
    rule = (f"A column drifts when its population stability index (numeric) is over {PSI_THRESHOLD} or its "
            f"Jensen-Shannon distance (categorical) is over {JS_THRESHOLD}, with its test's p-value "
            f"(Kolmogorov-Smirnov, chi-squared) under {P_VALUE}; each row is the model version that drifts most.")
    table = ("<table><tr><th>Column</th><th>Statistic</th><th>Value</th><th>p-value</th><th>Model version</th>"
             f"<th>Drifting</th></tr>{''.join(rows)}</table>")
    return (f'<div class="summary {"drifting" if drifting else "steady"}"><p>{said}</p>{table}'
            f'<p class="note">{_e(rule)}</p></div>')


def _drift_note(data: _Data) -> str:
    if data.drift_type is None:
        return _note("No drift rows yet: drift needs a baseline or at least two windows.")
    if data.drift_type == CONSECUTIVE:
        return _note(f"The monitor has no baseline: each window is compared with the previous one (CONSECUTIVE), "
                     f"{_where(data)}.")
    return _note(f"Each window against the baseline (BASELINE rows of the drift table), {_where(data)}.")


def _where(data: _Data) -> str:
    if data.granularity == SNAPSHOT:
        return "on the whole table"
    return f"on the whole table, by window start (UTC, {data.granularity} windows)"


def _distribution_note(data: _Data) -> str:
    if data.windows == 0:
        return _note("No windows yet.")
    if data.has_baseline_rows:
        return _note(f"The latest window ({_when(data.latest)}) against the baseline.")
    if data.windows < 2:
        return _note(f"The latest window ({_when(data.latest)}) alone: {_no_baseline(data)} and there is no "
                     f"previous window.")
    why = _no_baseline(data)
    return _note(f"{why[0].upper()}{why[1:]}: the latest window ({_when(data.latest)}) against the "
                 f"previous one ({_when(data.previous)}).")


def _no_baseline(data: _Data) -> str:
    """Why the distributions have no baseline: none at all, or a profile table written before
    the baseline's rows were."""
    return "the profile table has no baseline rows" if data.drift_type == BASELINE else "the monitor has no baseline"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


# -- the figures ------------------------------------------------------------------------------------

def _drift_figure(name: str, kind: str, data: _Data, colors: Mapping[Any, str]) -> Any:
    import plotly.graph_objects as go

    numeric = kind == NUMERIC
    statistic, threshold = ("population stability index", PSI_THRESHOLD) if numeric else (
        "Jensen-Shannon distance", JS_THRESHOLD)
    test = "KS" if numeric else "chi-squared"
    figure = go.Figure()
    rows = [r for r in data.drift if r["column_name"] == name]
    for model in _ordered({r["model"] for r in rows}):
        mine = sorted((r for r in rows if r["model"] == model), key=lambda r: _order(r["start_us"]))
        figure.add_trace(go.Scatter(
            x=[_x(r["start_us"]) for r in mine], y=[r["statistic"] for r in mine], mode="lines+markers",
            name=_label(model), line={"color": colors[model]},
            customdata=[_pvalue(r["pvalue"]) for r in mine],
            hovertemplate=(f"%{{x}}<br>{statistic} %{{y:.3f}}<br>{test} p-value %{{customdata}}"
                           "<extra>%{fullData.name}</extra>")))
    figure.add_hline(y=threshold, line_dash="dot", line_color="#b00", annotation_text=f"drift > {threshold}",
                     annotation_position="top left")
    against = "baseline" if data.drift_type == BASELINE else "previous window"
    figure.update_layout(title=f"{name}: {statistic} against the {against}", yaxis_title=statistic,
                         yaxis_rangemode="tozero")
    _time_axis(figure, [r["start_us"] for r in rows])
    return figure


def _quality_figure(data: _Data, problem_type: str, colors: Mapping[Any, str]) -> Any:
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    metrics = QUALITY_METRICS[problem_type]
    figure = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics, horizontal_spacing=0.08)
    for model in _ordered({r["model"] for r in data.quality}):
        mine = sorted((r for r in data.quality if r["model"] == model), key=lambda r: _order(r["start_us"]))
        for i, metric in enumerate(metrics):
            figure.add_trace(go.Scatter(x=[_x(r["start_us"]) for r in mine], y=[r[metric] for r in mine],
                                        mode="lines+markers", name=_label(model), legendgroup=_label(model),
                                        showlegend=i == 0, line={"color": colors[model]}),
                             row=1, col=i + 1)
    figure.update_layout(title=f"Model quality per model version ({problem_type})", margin_t=80)
    _time_axis(figure, [r["start_us"] for r in data.quality])
    return figure


def _distribution_figure(name: str, kind: str, data: _Data, colors: Mapping[Any, str]) -> Any | None:
    """The latest window's distribution of ``name`` per model version, each against the
    baseline of its model version (or the table's baseline), or against its previous window."""
    import plotly.graph_objects as go

    rows = [r for r in data.profiles if r["column_name"] == name]
    latest = {r["model"]: r for r in rows if r["log_type"] == INPUT_LOG and r["start_us"] == data.latest}
    if not latest:
        return None
    baselines = {r["model"]: r for r in rows if r["log_type"] == BASELINE_LOG}
    previous = {r["model"]: r for r in rows if r["log_type"] == INPUT_LOG and r["start_us"] == data.previous
                and data.previous is not None}
    sides: list[tuple[str, dict[str, Any], str, bool]] = []  # (name, row, color, compared side)
    drawn = set()
    for model in _ordered(latest):
        if baselines:  # the model version's own training data, else the baseline table
            own = model in baselines and model != NO_MODEL
            compared, key = baselines.get(model if own else NO_MODEL), ("baseline", model if own else NO_MODEL)
            label, color = (f"baseline of {_label(model)}", colors[model]) if own else ("baseline", BASELINE_COLOR)
        else:
            compared, key = previous.get(model), ("previous", model)
            label, color = f"previous window, {_label(model)}", colors[model]
        if compared is not None and key not in drawn:
            drawn.add(key)
            sides.append((label, compared, color, True))
        sides.append((f"latest window, {_label(model)}", latest[model], colors[model], False))
    numeric = kind == NUMERIC
    figure = go.Figure()
    if numeric:
        for label, row, color, compared in sides:
            if row["quantiles"]:
                figure.add_trace(go.Scatter(x=row["quantiles"], y=[i / 100 for i in range(len(row["quantiles"]))],
                                            mode="lines", name=label, line_shape="hv",
                                            line={"color": color, "dash": "dash" if compared else "solid"}))
        values = [v for _, row, _, _ in sides for v in (row["quantiles"] or []) if v is not None]
        if values:  # a little room, so that the steps at the least and greatest values show
            pad = 0.03 * ((max(values) - min(values)) or 1.0)
            figure.update_xaxes(range=[min(values) - pad, max(values) + pad])
        figure.update_layout(yaxis_title="cumulative share of rows")
    else:
        items = _items([row for _, row, _, _ in sides])
        for label, row, color, compared in sides:
            figure.add_trace(go.Bar(x=items, y=_shares(row, items), name=label, marker_color=color,
                                    marker_opacity=0.45 if compared else 1.0,
                                    marker_pattern_shape="/" if compared else ""))
        figure.update_layout(barmode="group", yaxis_title="share of non-null rows", xaxis_type="category")
    if data.has_baseline_rows:
        title = f"{name}: baseline against the latest window ({_when(data.latest)})"
    elif data.previous is not None:
        why = "no baseline rows" if data.drift_type == BASELINE else "no baseline"
        title = f"{name}: latest window against the previous one ({why})"
    else:
        title = f"{name}: the latest window ({_when(data.latest)})"
    figure.update_layout(title=title + (" (CDF)" if numeric else ""))
    return figure


def _items(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The frequent items of all the sides, the most frequent first, and "(other)" when the top
    items leave some rows out."""
    totals: dict[str, float] = {}
    other = False
    for row in rows:
        count = row["count"] or 0
        for item, n in row["frequent_items"]:
            totals[str(item)] = totals.get(str(item), 0) + n / max(count, 1)
        other = other or sum(n for _, n in row["frequent_items"]) < count
    return sorted(totals, key=lambda item: (-totals[item], item)) + (["(other)"] if other else [])


def _shares(row: Mapping[str, Any], items: Sequence[str]) -> list[float]:
    count = max(row["count"] or 0, 1)
    shares = {str(item): n / count for item, n in row["frequent_items"]}
    shares["(other)"] = max(0.0, 1 - sum(shares.values())) if row["count"] else 0.0
    return [shares.get(item, 0.0) for item in items]


# -- small helpers ----------------------------------------------------------------------------------

def _colors(models: Iterable[tuple]) -> dict[tuple, str]:
    return {m: COLORS[i % len(COLORS)] for i, m in enumerate(_ordered(set(models)))}


def _ordered(models: Iterable[tuple]) -> list[tuple]:
    """(model name, model version) pairs in order: by name, versions as numbers where they are
    numbers; NO_MODEL last."""
    def key(model: tuple) -> tuple:
        name, version = model
        text = "" if version is None else str(version)
        return (model == NO_MODEL, name or "", not text.isdigit(), int(text) if text.isdigit() else 0, text)
    return sorted(models, key=key)


def _label(model: tuple) -> str:
    name, version = model
    if version is None:
        return "all rows"
    return f"{name} v{version}" if name else f"model version {version}"


def _order(start_us: int | None) -> int:
    return -1 if start_us is None else start_us


def _x(start_us: int | None) -> Any:
    """A window's start on the x axis: naive UTC (plotly.js ignores offsets), or the snapshot."""
    if start_us is None:
        return "snapshot"
    return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=start_us)


def _time_axis(figure: Any, starts: Iterable[int | None]) -> None:
    """Ticks at the windows' starts when there are few of them (else plotly's own)."""
    shown = sorted({s for s in starts if s is not None})
    if 0 < len(shown) <= MAX_TICKS:
        figure.update_xaxes(tickvals=[_x(s) for s in shown], ticktext=[_when(s).removesuffix(" UTC") for s in shown])


def _when(start_us: int | None) -> str:
    if start_us is None:
        return "snapshot"
    moment = _x(start_us)
    return moment.strftime("%Y-%m-%d" if moment.time() == dt.time() else "%Y-%m-%d %H:%M") + " UTC"


def _pvalue(pvalue: float | None) -> str:
    if pvalue is None:
        return "—"
    return f"{pvalue:.2g}" if pvalue >= 1e-4 else "< 1e-4"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))
