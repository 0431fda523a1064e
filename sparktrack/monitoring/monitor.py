"""Monitors: what to profile in a table (``MonitorConfig``), checked once when created, and the
refresh that turns the table into ``<name>_profile_metrics`` and ``<name>_drift_metrics``.

A refresh is incremental. It reads the table at its current Delta version (nothing at all when
that version and the baseline's are the ones the last refresh saw), and takes one pass per
granularity that gives each window a fingerprint: its row count and the sum of a 64-bit hash of
the columns the monitor reads. Windows whose fingerprint differs from the last refresh's (new,
changed by an append, update or delete, or gone) are recomputed, with the window after each of
them (whose CONSECUTIVE drift compares with it). Their rows are replaced in one commit per output
table and granularity (replaceWhere on the windows' starts), and then the new fingerprints are
recorded in the store. A refresh that stops halfway is finished by the next one, and a refresh
with nothing new changes nothing. When the table has only been appended to since the last
refresh, the fingerprints are the last ones plus those of the new files' rows, and the baseline's
summary is kept from the last refresh while the baseline is the same (see ``reuse``).

Fingerprints rather than Delta's change data feed: they need no table property, see updates and
deletes as well as appends, ignore changes to columns the monitor does not read, and cost one
aggregation of the read columns, far less than the profile of every window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.engine.location import spark_uri, sql_string
from sparktrack.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from sparktrack.monitoring import alerts as alerting
from sparktrack.monitoring import custom, inputs, lineage, outputs, profile, reuse
from sparktrack.monitoring.alerts import AlertRule
from sparktrack.monitoring.custom import CustomMetric
from sparktrack.monitoring.profile import CATEGORICAL, NUMERIC, NUMERIC_TYPES, SNAPSHOT, kind_of
from sparktrack.monitoring.statistics import Binned
from sparktrack.monitoring.store import CREATE, DELETE, REFRESH, MonitorStore
from sparktrack.tracking.datasets import TableRef, read_pinned

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from sparktrack.client import SparkTrackClient

PROFILE_TYPES = ("inference", "snapshot", "timeseries")
PROBLEM_TYPES = ("classification", "regression")
TIME_TYPES = ("timestamp", "timestamp_ntz", "date")
#: Columns of prediction and inference tables that say where a row came from, not what it holds:
#: not profiled unless named in ``columns``.
BOOKKEEPING_COLUMNS = ("model_run_id", "batch_id", "request_id", "client_request_id", "route", "endpoint",
                       "sampling_fraction", "record_index")


class MonitorNotFoundError(NotFoundError):
    def __init__(self, table: str):
        self.table = table
        super().__init__(f"No monitor on {table!r}. Create one with create_monitor({table!r}, ...).")


@dataclass(frozen=True, kw_only=True)
class MonitorConfig:
    table_name: str
    profile_type: str
    timestamp_col: str | None
    granularities: tuple[str, ...]
    model_id_col: str | None
    model_name_col: str | None  # with model_id_col, what names the model version of a row
    prediction_col: str | None
    label_col: str | None
    probability_col: str | None
    problem_type: str
    baseline: str | None
    slicing_exprs: tuple[str, ...]
    column_kinds: dict[str, str]  # column -> numeric | categorical
    column_types: dict[str, str]  # column -> Spark SQL type
    profile_table: str
    drift_table: str
    alerts_table: str
    alerts: tuple[dict[str, Any], ...] = ()  # AlertRule.to_dict() of each rule
    alert_url: str | None = None
    label_table: str | None = None  # labels that arrive later, joined on id_cols
    id_cols: tuple[str, ...] = ()
    custom_metrics: tuple[dict[str, Any], ...] = ()  # CustomMetric.to_dict() of each metric
    #: For the store's inference records: the type each record column (and the prediction) is
    #: read as, from the model signatures when the monitor was created.
    record_types: dict[str, str] = field(default_factory=dict)

    @property
    def alert_rules(self) -> tuple[AlertRule, ...]:
        return tuple(AlertRule(**rule) for rule in self.alerts)

    @property
    def custom(self) -> tuple[CustomMetric, ...]:
        return tuple(CustomMetric.from_dict(metric) for metric in self.custom_metrics)

    def staged(self, table: str) -> str:
        """The columns of an output table ("profile" or "drift") as built on the driver: the
        table's own, and its custom metrics'."""
        own = outputs.PROFILE_STAGED if table == "profile" else outputs.DRIFT_STAGED
        kinds = (custom.DRIFT,) if table == "drift" else (custom.AGGREGATE, custom.DERIVED)
        return ", ".join([own, *(f"`{m.name}` {m.output_data_type}" for m in self.custom if m.type in kinds)])

    @property
    def read_columns(self) -> list[str]:
        extra = [self.timestamp_col, self.model_id_col, self.model_name_col, self.label_col, self.prediction_col,
                 self.probability_col]
        return list(dict.fromkeys([*self.column_kinds, *(c for c in extra if c)]))

    @property
    def lineage(self) -> bool:
        """Whether the baseline is each model version's training data (no baseline table given,
        and the rows name their model and version, as prediction and inference tables do)."""
        return self.baseline is None and self.model_id_col is not None and self.model_name_col is not None

    @property
    def windowings(self) -> tuple[str, ...]:
        return (SNAPSHOT,) if self.profile_type == "snapshot" else self.granularities

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorConfig:
        return cls(**{**data, "granularities": tuple(data["granularities"]),
                      "slicing_exprs": tuple(data["slicing_exprs"]), "alerts": tuple(data.get("alerts", ())),
                      "id_cols": tuple(data.get("id_cols", ())),
                      "custom_metrics": tuple(data.get("custom_metrics", ()))})


@dataclass(frozen=True)
class Monitor:
    """A monitor as the store holds it: its config, and what its last refresh saw."""

    config: MonitorConfig
    table_version: int | None  # of the monitored table, at the last refresh (None before one)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def profile_table(self) -> str:
        return self.config.profile_table

    @property
    def drift_table(self) -> str:
        return self.config.drift_table

    @property
    def alerts_table(self) -> str:
        return self.config.alerts_table


@dataclass(frozen=True)
class RefreshResult:
    table_version: int
    recomputed: dict[str, list[int | None]]  # granularity -> window starts (epoch µs) rewritten
    removed: dict[str, list[int | None]]  # granularity -> window starts whose rows were dropped
    triggered: list[dict[str, Any]] = field(default_factory=list)  # the alert rows in state TRIGGERED
    delivery_error: str | None = None  # why the triggered alerts could not be POSTed to alert_url

    @property
    def changed(self) -> bool:
        return any(self.recomputed.values()) or any(self.removed.values())

    def summary(self, monitor: Monitor) -> dict[str, Any]:
        """What the refresh did, as the job and the CLI print it."""
        return {"table": monitor.config.table_name, "table_version": self.table_version,
                "recomputed_windows": {g: len(w) for g, w in self.recomputed.items()},
                "removed_windows": {g: len(w) for g, w in self.removed.items()},
                "profile_table": monitor.profile_table, "drift_table": monitor.drift_table,
                "alerts_table": monitor.alerts_table, "triggered": len(self.triggered),
                "triggered_rules": sorted({a["rule"] for a in self.triggered}),
                "alert_delivery_error": self.delivery_error}


class MonitoringClient:
    """Monitors on ``client``'s store and session."""

    def __init__(self, client: SparkTrackClient):
        self.client = client
        self._record = client.store.shared(MonitorStore)

    @property
    def spark(self) -> SparkSession:
        return self.client.spark

    def create_monitor(self, table: str, **arguments: Any) -> Monitor:
        """Check everything against the table (and baseline) and record the monitor; nothing is
        computed until ``refresh_monitor``. The arguments are ``configure``'s."""
        ref = TableRef.parse(table, "create_monitor table")
        if ref.ref in self._record.current():
            raise AlreadyExistsError("A monitor on", ref.ref,
                                     "Delete it first with delete_monitor(), or change it with update_monitor().")
        config = self.configure(table, **arguments)
        self._record.record(config.table_name, CREATE, config.to_dict(), {}, None)
        return Monitor(config, None, {})

    def update_monitor(self, table: str, **arguments: Any) -> Monitor:
        """Replace the monitor's config (checked as create_monitor checks it): the next refresh
        recomputes every window. The output tables are kept until then."""
        config = self.configure(table, **arguments)
        old = self.get_monitor(config.table_name)
        if old.config == config:
            return old
        self._record.record(config.table_name, CREATE, config.to_dict(), {}, None)
        return Monitor(config, None, {})

    def create_or_update_monitor(self, table: str, **arguments: Any) -> tuple[Monitor, str]:
        """The monitor these arguments describe, recorded if it is new or differs from the
        recorded one; and which it was: "created", "updated" or "unchanged"."""
        try:
            before = self.get_monitor(table).config
        except MonitorNotFoundError:
            return self.create_monitor(table, **arguments), "created"
        monitor = self.update_monitor(table, **arguments)
        return monitor, "unchanged" if monitor.config == before else "updated"

    def configure(self, table: str, *, profile_type: str = "inference", timestamp_col: str | None = None,
                  granularities: Sequence[str] = ("1 day",), model_id_col: str | None = "model_version",
                  model_name_col: str | None = "model_name", prediction_col: str | None = "prediction",
                  label_col: str | None = None, probability_col: str | None = None,
                  problem_type: str = "classification", baseline: str | None = None,
                  slicing_exprs: Sequence[str] | None = None, columns: Sequence[str] | None = None,
                  custom_metrics: Any = None, alerts: Any = None, alert_url: str | None = None,
                  label_table: str | None = None, id_cols: Sequence[str] | None = None,
                  output_dir: str | None = None) -> MonitorConfig:
        """The monitor these arguments describe, checked against the table; nothing recorded."""
        arguments = dict(locals())  # every keyword argument, as _checked takes them
        del arguments["self"], arguments["table"]
        ref = TableRef.parse(table, "create_monitor table")
        if inputs.is_inference_records(self.client, ref.ref):
            frame, _ = inputs.read(self.client, ref.ref)
            record_types = {name: kind for name, kind in _types(frame.schema).items() if name not in inputs.RECORD_COLUMNS}
            arguments["timestamp_col"] = arguments["timestamp_col"] or "timestamp"
            arguments["output_dir"] = arguments["output_dir"] or spark_uri(self.client.store.location.child("monitoring"))
        else:
            frame, record_types = ref.read(self.spark), {}
        return _checked(self.spark, ref, frame, record_types, **arguments)

    def list_monitors(self) -> list[str]:
        """The monitored tables, sorted."""
        return list(self._record.current())

    def get_monitor(self, table: str) -> Monitor:
        found = self._record.current().get(TableRef.parse(table, "get_monitor table").ref)
        if found is None:
            raise MonitorNotFoundError(table)
        return Monitor(MonitorConfig.from_dict(found["config"]), found["table_version"], found["state"])

    def drift_history(self, table: str) -> list[dict[str, Any]]:
        """The whole table's drift rows (no slice) at the monitor's first granularity, oldest
        window first, read from the drift table by delta-rs: no JVM. Each row: ``window_start``
        (ISO-8601; null for a snapshot), ``drift_type``, ``model_name``, ``model_version``,
        ``column_name``, ``data_type`` and the statistics (``ks_statistic``, ``ks_pvalue``,
        ``chi_squared_pvalue``, ``population_stability_index``, ``js_distance``,
        ``wasserstein_distance``)."""
        import pyarrow.compute as pc

        from sparktrack.engine.delta import open_table

        config = self.get_monitor(table).config
        ref = TableRef.parse(config.drift_table)
        if ref.path is None:
            raise InvalidValueError("The drift table of the monitor on " + config.table_name, ref.ref,
                                    "a Delta path to read without Spark (a catalog table needs Spark: "
                                    "query it with spark.sql)")
        rows = open_table(ref.path, self.client.store.location.storage_options,
                          " (refresh the monitor first)").to_pyarrow_table()
        windowing = config.windowings[0]
        rows = rows.filter(pc.and_(pc.is_null(rows["slice_key"]), pc.equal(rows["granularity"], windowing)))
        out = []
        for row in rows.to_pylist():
            start = (row["window"] or {}).get("start")
            out.append({"window_start": start.isoformat() if start else None, "drift_type": row["drift_type"],
                        "model_name": row["model_name"], "model_version": row["model_version"],
                        "column_name": row["column_name"], "data_type": row["data_type"],
                        "ks_statistic": (row["ks_test"] or {}).get("statistic"),
                        "ks_pvalue": (row["ks_test"] or {}).get("pvalue"),
                        "chi_squared_pvalue": (row["chi_squared_test"] or {}).get("pvalue"),
                        **{k: row[k] for k in ("population_stability_index", "js_distance", "wasserstein_distance")}})
        return sorted(out, key=lambda r: (r["window_start"] or "", r["column_name"], r["drift_type"],
                                          str(r["model_name"]), str(r["model_version"])))

    def delete_monitor(self, table: str) -> None:
        """Forget the monitor (its output tables stay, as Databricks leaves them)."""
        monitor = self.get_monitor(table)
        self._record.record(monitor.config.table_name, DELETE, monitor.config.to_dict(), monitor.state,
                            monitor.table_version)

    def refresh_monitor(self, table: str) -> RefreshResult:
        monitor = self.get_monitor(table)
        config, spark = monitor.config, self.spark
        frame, version = inputs.read(self.client, config.table_name, config.record_types or None)
        label_version = None
        if config.label_table is not None:
            labels, label_version = read_pinned(spark, TableRef.parse(config.label_table))
            frame = with_labels(frame, labels, config)
        state = monitor.state
        outputs_exist = all(TableRef.parse(t).exists(spark) for t in (config.profile_table, config.drift_table))
        if not outputs_exist:  # an output table was dropped: start again from nothing
            state = {}
        unchanged = (bool(state) and version is not None and version == monitor.table_version
                     and label_version == state.get("label_version"))
        base_frame, base_state = None, None
        if config.baseline is not None:
            base_frame, base_state = read_pinned(spark, TableRef.parse(config.baseline))
            unchanged = unchanged and base_state == state.get("baseline")
        if unchanged:  # the same rows name the same model versions, whose training data is pinned
            return RefreshResult(version, {}, {})
        if config.lineage:
            base_frame, base_state = self._lineage_baseline(config, frame)
        baseline_changed = base_state != state.get("baseline")
        fingerprints = dict(state.get("fingerprints", {}))
        recomputed, removed, alerts = {}, {}, []
        base = (_baseline_summary(base_frame, config, reuse.kept_baseline(state, base_state))
                if base_frame is not None else None)
        base_rows = self._baseline_rows(config, base, version) if base is not None else {}
        if base is not None and baseline_changed:
            outputs.write(spark, TableRef.parse(config.profile_table), [r for rows in base_rows.values() for r in rows],
                          config.staged("profile"), None, [], drift=False)
        appended = self._appended(config, state, monitor.table_version, version)
        added = reuse.appended_rows(spark, frame, appended) if appended else None
        for granularity in config.windowings:
            old = fingerprints.get(granularity, {})
            if appended is None:
                found = profile.fingerprints(frame, config, granularity)
            else:  # an append: the old fingerprints and the new files' rows
                found = reuse.extended(old, profile.fingerprints(added, config, granularity) if appended else {})
            changed = {w for w in found if old.get(w) != found[w]}
            gone = set(old) - set(found)
            order = sorted(found, key=_start_order)
            after = {w: order[i + 1] for i, w in enumerate(order[:-1])}
            before = {w: order[i - 1] for i, w in enumerate(order) if i}
            drifted = set(found) if (baseline_changed and base is not None) else set(changed)
            drifted |= {after[w] for w in changed if w in after}
            # the window after a removed one now compares with another
            drifted |= {min((x for x in order if _start_order(x) > _start_order(w)), key=_start_order, default=None)
                        for w in gone} - {None}
            scanned = changed | drifted | {before[w] for w in drifted if w in before}
            if scanned or gone:
                alerts += self._recompute(frame, config, granularity, version, base, base_rows, _starts(scanned),
                                          _starts(changed), _starts(drifted), before, _starts(gone))
            fingerprints[granularity] = found
            recomputed[granularity] = sorted(_starts(changed), key=lambda s: -1 if s is None else s)
            removed[granularity] = sorted(_starts(gone), key=lambda s: -1 if s is None else s)
        new_state = {"fingerprints": fingerprints, "baseline": base_state, "label_version": label_version,
                     **reuse.baseline_state(base, base_state)}
        self._record.record(config.table_name, REFRESH, config.to_dict(), new_state, version)
        triggered = [a for a in alerts if a["state"] == alerting.TRIGGERED]
        delivery_error = None
        if triggered and config.alert_url:
            delivery_error = alerting.post(config.alert_url, config.table_name, version, triggered)
        return RefreshResult(version, recomputed, removed, triggered, delivery_error)

    def _appended(self, config: MonitorConfig, state: Mapping[str, Any], old_version: int | None,
                  version: int | None) -> list[str] | None:
        """The files appended since the last refresh's version, when that is all that changed
        and the fingerprints may be extended (see ``reuse``); None otherwise."""
        path = TableRef.parse(config.table_name).path
        if version is None or not reuse.can_append(config, path, state, old_version):
            return None
        return reuse.appended_files(path, old_version, version, self.client.store.location.storage_options)

    def _lineage_baseline(self, config: MonitorConfig, frame: DataFrame) -> tuple[DataFrame | None, dict[str, Any]]:
        """The training data of every model version the rows name, and where each was read (or,
        for a version whose run logged no Delta training input, why it has no baseline: its rows
        get CONSECUTIVE drift only)."""
        pairs = lineage.model_versions(frame.select(config.model_name_col, config.model_id_col).distinct().collect())
        trained, missing = [], {}
        for name, model_version in pairs:
            try:
                trained.append(lineage.training_data(self.client, name, model_version))
            except lineage.LineageError as error:
                missing[f"{name}/{model_version}"] = {"error": str(error)}
        pinned = {**lineage.pinned_state(trained), **missing}
        if not trained:
            return None, pinned
        base_frame = lineage.baseline_frame(self.client, trained, list(config.column_kinds),
                                            (config.model_id_col, config.model_name_col))
        return base_frame, pinned

    def _baseline_rows(self, config: MonitorConfig, base: Mapping[str, Any], version: int) -> dict[tuple, list[dict]]:
        """Per baseline group, its profile rows (log_type BASELINE, no window), with the derived
        custom metrics."""
        built = {key: outputs.profile_rows(None, (None, None, *key), summary, base["counts"].get(key, {}),
                                           base["kinds"], config.column_types, version, outputs.BASELINE_LOG)
                 for key, summary in base["summaries"].items()}
        custom.derive(self.spark, [row for rows in built.values() for row in rows], config.custom)
        return built

    def _recompute(self, frame: DataFrame, config: MonitorConfig, granularity: str, version: int,
                   base: dict[str, Any] | None, base_rows: Mapping[tuple, list[dict]],
                   scanned: list[int | None], changed: list[int | None],
                   drifted: list[int | None], before: Mapping[str, str],
                   gone: list[int | None]) -> list[dict[str, Any]]:
        """Rewrite the rows of the windows that changed or drift differently, and their alerts
        (which it returns)."""
        from pyspark.sql import functions as F

        spark = self.spark
        numeric = [n for n, k in config.column_kinds.items() if k == NUMERIC]
        categorical = [n for n, k in config.column_kinds.items() if k == CATEGORICAL]
        rows = (profile.in_windows(profile.windowed(profile.since(frame, config, scanned), config, granularity),
                                   scanned) if scanned else None)
        profile_rows: list[dict[str, Any]] = []
        drift_rows: list[dict[str, Any]] = []
        if rows is not None:
            rows = rows.persist()
            try:
                summaries = profile.profiles(rows, config)
                counts = profile.category_counts(rows, categorical)
                whole = rows.where(F.col(profile.SLICE[0]).isNull())
                pooled = [whole] + ([base["frame"]] if base is not None else [])
                edges = profile.pooled_edges(pooled, numeric)
                hists = profile.histograms(rows, edges)
                base_hists = profile.histograms(base["sliced"], edges, profile.BASELINE_GROUP) if base else {}
            finally:
                rows.unpersist()
            # every scanned group's rows (the derived metrics, and what custom drift metrics read)
            built = {key: outputs.profile_rows(granularity, key, summary, counts.get(key, {}), config.column_kinds,
                                               config.column_types, version) for key, summary in summaries.items()}
            custom.derive(spark, [row for group in built.values() for row in group], config.custom)
            profile_rows = [row for key, group in built.items() if key[0] in changed for row in group]
            pairs: list[tuple[dict, dict]] = []  # (the window's profile row, the compared one's)
            drift_custom = [m for m in config.custom if m.type == custom.DRIFT]
            table_drift = any(custom.TABLE_INPUT in m.input_columns for m in drift_custom)
            for key, summary in summaries.items():
                if key[0] not in drifted:
                    continue
                mine = _sides(key, summary, counts, hists, edges)
                comparisons = []
                previous = before.get(_start_key(key[0]))
                if previous is not None:
                    prev_start = None if previous == "" else int(previous)
                    match = [k for k in summaries if k[0] == prev_start and k[2:] == key[2:]]
                    if match:
                        comparisons.append((outputs.CONSECUTIVE, match[0][:2],
                                            _sides(match[0], summaries[match[0]], counts, hists, edges),
                                            built[match[0]]))
                base_key = _baseline_key(key, base)
                if base_key is not None:
                    comparisons.append((outputs.BASELINE, (None, None),
                                        _sides(base_key, base["summaries"][base_key], base["counts"], base_hists,
                                               edges), base_rows[base_key]))
                by_column = {row["column_name"]: row for row in built[key]}
                for drift_type, cmp_window, theirs, their_rows in comparisons:
                    compared = {row["column_name"]: row for row in their_rows}
                    for name, kind in config.column_kinds.items():
                        if name not in theirs:  # a column the baseline has not (a prediction, say)
                            continue
                        drift_rows.append(outputs.drift_row(drift_type, granularity, key, cmp_window, name, kind,
                                                            config.column_types[name], mine[name], theirs[name],
                                                            version))
                        pairs.append((by_column[name], compared[name]))
                    if table_drift:
                        pair = (by_column[outputs.TABLE_ROW], compared[outputs.TABLE_ROW])
                        drift_rows.append(outputs.table_drift_row(drift_type, granularity, key, cmp_window, *pair,
                                                                  version))
                        pairs.append(pair)
            for row, values in zip(drift_rows, custom.drift(spark, pairs, config.custom)):
                row.update(values)
        outputs.write(spark, TableRef.parse(config.profile_table), profile_rows, config.staged("profile"),
                      granularity, [*changed, *gone], drift=False)
        outputs.write(spark, TableRef.parse(config.drift_table), drift_rows, config.staged("drift"),
                      granularity, [*drifted, *gone], drift=True)
        rules = config.alert_rules
        if not rules:
            return []
        alert_rows = alerting.evaluate(rules, profile_rows, drift_rows, base is not None, version)
        drift_metrics = ", ".join(sql_string(r.metric) for r in rules if r.kind == "drift") or "NULL"
        predicate = (f"({outputs.window_predicate(granularity, [*changed, *gone])} AND metric NOT IN ({drift_metrics}))"
                     f" OR ({outputs.window_predicate(granularity, [*drifted, *gone])} AND metric IN ({drift_metrics}))")
        outputs.write(spark, TableRef.parse(config.alerts_table), alert_rows, alerting.ALERTS_STAGED, granularity,
                      [], drift=False, predicate=predicate)
        return alert_rows


def _start_order(start: str) -> int:
    return -1 if start == "" else int(start)


def _start_key(start: int | None) -> str:
    return "" if start is None else str(start)


def _starts(windows: set[str] | Sequence[str]) -> list[int | None]:
    return [None if w == "" else int(w) for w in windows]


def _sides(key: tuple, summary: Mapping[str, Any], counts: Mapping[tuple, Any], hists: Mapping[tuple, Any],
           edges: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column, what the drift statistics need of one side."""
    out = {}
    for name, metrics in summary["columns"].items():
        side: dict[str, Any] = {"rows": summary["rows"], "metrics": metrics}
        if name in edges:
            counted = hists.get(key, {}).get(name)
            side["binned"] = Binned(edges[name], counted) if counted is not None else None
        else:
            side["counts"] = counts.get(key, {}).get(name, {})
        out[name] = side
    return out


def _baseline_key(key: tuple, base: Mapping[str, Any] | None) -> tuple | None:
    """What a group compares with in the baseline: the same slice of its own model version's
    training data, or the same slice of an explicit baseline (which has no model)."""
    if base is None:
        return None
    for candidate in (key[2:], (*key[2:4], None, None)):
        if candidate in base["summaries"]:
            return candidate
    return None


def _baseline_summary(frame: DataFrame, config: MonitorConfig,
                      kept: tuple[dict[tuple, Any], dict[tuple, Any]] | None = None) -> dict[str, Any]:
    """The baseline per slice and model version (all of it is one window): an explicit baseline
    has no model version, the training data of the lineage has one per model version. ``kept``:
    its summaries and category counts from the last refresh's state, when the baseline is the same."""
    from dataclasses import replace

    plain = replace(config, probability_col=None, profile_type="snapshot",
                    column_kinds={n: k for n, k in config.column_kinds.items() if n in frame.columns})
    if not config.lineage:
        plain = replace(plain, model_id_col=None, model_name_col=None)
    sliced = profile.windowed(frame, plain, SNAPSHOT)
    categorical = [n for n, k in plain.column_kinds.items() if k == CATEGORICAL]
    if kept is not None:
        summaries, counts = kept
    else:
        summaries = {key[2:]: value for key, value in profile.profiles(sliced, plain, baseline=True).items()}
        counts = profile.category_counts(sliced, categorical, profile.BASELINE_GROUP)
    return {"frame": frame.select(*plain.column_kinds), "sliced": sliced, "summaries": summaries, "counts": counts,
            "kinds": plain.column_kinds}


# -- checks -----------------------------------------------------------------------------------

def _checked(spark: SparkSession, ref: TableRef, frame: DataFrame, record_types: Mapping[str, str], *, profile_type: str, timestamp_col: str | None,
             granularities: Sequence[str], model_id_col: str | None, model_name_col: str | None,
             prediction_col: str | None,
             label_col: str | None, probability_col: str | None, problem_type: str, baseline: str | None,
             slicing_exprs: Sequence[str] | None, columns: Sequence[str] | None, custom_metrics: Any,
             alerts: Any, alert_url: str | None, label_table: str | None, id_cols: Sequence[str] | None,
             output_dir: str | None) -> MonitorConfig:
    if profile_type not in PROFILE_TYPES:
        raise InvalidValueError("create_monitor profile_type", profile_type, f"one of {list(PROFILE_TYPES)}")
    if problem_type not in PROBLEM_TYPES:
        raise InvalidValueError("create_monitor problem_type", problem_type, f"one of {list(PROBLEM_TYPES)}")
    types = _types(frame.schema)

    def column(what: str, name: str | None, required: bool) -> str | None:
        if name is None:
            if required:
                raise InvalidValueError(f"create_monitor {what}", None, f"a column of {ref.ref} for this profile")
            return None
        if name not in types:
            raise InvalidValueError(f"create_monitor {what}", name, f"a column of {ref.ref}; it has {list(types)}")
        return name

    if profile_type == "snapshot":
        if label_col is not None:
            raise InvalidValueError("create_monitor label_col", label_col,
                                    "None for a snapshot profile (model quality needs an inference profile, "
                                    "whose rows have predictions and a time)")
        timestamp_col, granularities = None, ()
    else:
        column("timestamp_col", timestamp_col, True)
        if types[timestamp_col] not in TIME_TYPES:
            raise InvalidValueError("create_monitor timestamp_col", timestamp_col,
                                    f"a timestamp or date column; it is {types[timestamp_col]}")
        granularities = _checked_granularities(frame, timestamp_col, granularities)
    inference = profile_type == "inference"
    if model_id_col == "model_version" and "model_version" not in types:  # the default, for tables without it
        model_id_col = None
    model_id_col = column("model_id_col", model_id_col, False) if inference else None
    if model_name_col == "model_name" and "model_name" not in types:  # the default, for tables without it
        model_name_col = None
    model_name_col = column("model_name_col", model_name_col, False) if model_id_col else None
    if prediction_col == "prediction" and "prediction" not in types and not inference:  # the default
        prediction_col = None
    prediction_col = column("prediction_col", prediction_col, inference or label_col is not None)
    label_table, id_cols = _checked_labels(spark, ref, types, label_table, id_cols, label_col)
    label_col = label_col if label_table is not None else column("label_col", label_col, False)
    probability_col = column("probability_col", probability_col, False)
    if probability_col is not None and types[probability_col] not in NUMERIC_TYPES:
        raise InvalidValueError("create_monitor probability_col", probability_col,
                                f"a numeric column (the probability of class 1); it is {types[probability_col]}")
    slices = tuple(slicing_exprs or ())
    for text in slices:
        _check_expr(frame, text, ref.ref)
    skipped = {timestamp_col, model_id_col, model_name_col, *BOOKKEEPING_COLUMNS}
    if columns is None:
        chosen = [n for n, t in types.items() if n not in skipped and kind_of(t) is not None]
    else:
        chosen = list(dict.fromkeys(columns))
        for name in chosen:
            column("columns", name, True)
            if kind_of(types[name]) is None:
                raise InvalidValueError("create_monitor columns", name,
                                        f"a numeric, string or boolean column; {name} is {types[name]}")
    kinds = {n: kind_of(types[n]) for n in chosen}
    if baseline is not None:
        base_ref = TableRef.parse(baseline, "create_monitor baseline")
        base_types = _types(base_ref.read(spark).schema)
        missing = [n for n in kinds if n not in base_types]
        other = {n: base_types[n] for n in kinds if n in base_types and kind_of(base_types[n]) != kinds[n]}
        if missing or other:
            raise InvalidValueError("create_monitor baseline", baseline,
                                    f"a table with the monitored columns, of the same kinds; missing {missing}, "
                                    f"of another kind {other}")
        for text in slices:
            _check_expr(base_ref.read(spark), text, baseline)
        baseline = base_ref.ref
    profile_table, drift_table, alerts_table = _output_names(ref, output_dir)
    taken = outputs.column_names(outputs.PROFILE_STAGED) + outputs.column_names(outputs.DRIFT_STAGED)
    metrics = custom.parse(spark, custom_metrics, frame, kinds, prediction_col, label_col,
                           [*taken, "window", "window_cmp", "computed_at"])
    rules = alerting.parse_rules(alerts, list(kinds), label_col is not None, problem_type, metrics)
    return MonitorConfig(
        table_name=ref.ref, profile_type=profile_type, timestamp_col=timestamp_col, granularities=granularities,
        model_id_col=model_id_col, model_name_col=model_name_col, prediction_col=prediction_col,
        label_col=label_col, probability_col=probability_col, problem_type=problem_type, baseline=baseline,
        slicing_exprs=slices,
        column_kinds=kinds, column_types={n: types[n] for n in chosen}, profile_table=profile_table,
        drift_table=drift_table, alerts_table=alerts_table, alerts=tuple(r.to_dict() for r in rules),
        alert_url=alerting.check_url(alert_url), label_table=label_table, id_cols=id_cols,
        custom_metrics=tuple(m.to_dict() for m in metrics), record_types=dict(record_types))


def _checked_labels(spark: SparkSession, ref: TableRef, types: Mapping[str, str], label_table: str | None,
                    id_cols: Sequence[str] | None, label_col: str | None) -> tuple[str | None, tuple[str, ...]]:
    if label_table is None:
        if id_cols:
            raise InvalidValueError("create_monitor id_cols", id_cols, "None without a label_table")
        return None, ()
    labels = TableRef.parse(label_table, "create_monitor label_table")
    label_types = _types(labels.read(spark).schema)
    if label_col is None or label_col not in label_types:
        raise InvalidValueError("create_monitor label_col", label_col,
                                f"a column of the label_table {labels.ref}; it has {list(label_types)}")
    if isinstance(id_cols, str) or not id_cols or not all(isinstance(c, str) for c in id_cols):
        raise InvalidValueError("create_monitor id_cols", id_cols,
                                "the columns that join a row to its label, e.g. ['request_id']")
    missing = {where: [c for c in id_cols if c not in found]
               for where, found in ((ref.ref, types), (labels.ref, label_types))}
    if any(missing.values()):
        raise InvalidValueError("create_monitor id_cols", list(id_cols),
                                f"columns of both the table and the label_table; missing {missing}")
    return labels.ref, tuple(dict.fromkeys(id_cols))


def with_labels(frame: DataFrame, labels: DataFrame, config: MonitorConfig) -> DataFrame:
    """The monitored rows with the label table's label (over any label the row had), joined on
    the id columns; an id with several labels takes the greatest, so no row is multiplied."""
    from pyspark.sql import functions as F

    ids, label = list(config.id_cols), config.label_col
    latest = labels.groupBy(*ids).agg(F.max(label).alias("__label"))
    joined = frame.join(latest, ids, "left")
    value = F.coalesce("__label", label) if label in frame.columns else F.col("__label")
    return joined.withColumn(label, value).drop("__label")


def _types(schema: StructType) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in schema.fields}


def _checked_granularities(frame: DataFrame, timestamp_col: str, granularities: Sequence[str]) -> tuple[str, ...]:
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    if isinstance(granularities, str) or not granularities:
        raise InvalidValueError("create_monitor granularities", granularities,
                                "a non-empty list of window durations, e.g. ['1 day']")
    checked = []
    for text in granularities:
        if not isinstance(text, str) or not text.strip():
            raise InvalidValueError("create_monitor granularities", text, "a window duration such as '1 day'")
        try:
            frame.select(F.window(F.col(timestamp_col).cast("timestamp"), text)).schema
        except (PySparkException, ValueError) as error:
            first = str(error).strip().splitlines()[0][:200]
            raise InvalidValueError("create_monitor granularity", text,
                                    f"a window duration Spark parses, such as '1 hour', '1 day' or '7 days' "
                                    f"(Spark said: {first})") from None
        checked.append(text.strip())
    return tuple(checked)


def _check_expr(frame: DataFrame, text: str, table: str) -> None:
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    if not isinstance(text, str) or not text.strip():
        raise InvalidValueError("create_monitor slicing_exprs", text, "SQL expressions such as 'country'")
    try:
        frame.select(F.expr(text)).schema
    except (PySparkException, ValueError) as error:
        first = str(error).strip().splitlines()[0][:200]
        raise InvalidValueError("create_monitor slicing_exprs", text,
                                f"a SQL expression over the columns of {table} (Spark said: {first})") from None


OUTPUT_SUFFIXES = ("_profile_metrics", "_drift_metrics", "_alerts")


def _output_names(ref: TableRef, output_dir: str | None) -> tuple[str, str, str]:
    """The profile, drift and alerts tables: beside the monitored table, or in ``output_dir``."""
    from sparktrack.engine.location import join_uri

    if output_dir is not None:
        base = ref.ref.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        return tuple(join_uri(output_dir, base + suffix) for suffix in OUTPUT_SUFFIXES)
    return tuple(ref.ref.rstrip("/") + suffix for suffix in OUTPUT_SUFFIXES)
