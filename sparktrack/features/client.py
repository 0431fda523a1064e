"""``FeatureEngineeringClient``: create, write, read, tag, find and drop feature tables, build
point-in-time training sets from them, log models that know their features, and score with
automatic lookups. Keyword arguments, as Databricks' client takes them.

Every change to a feature table is also recorded in the store (``features.store``), where
``search_tables``, the CLI and the ``sparktrack.feature_tables`` view find it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack.errors import InvalidValueError, NotFoundError
from sparktrack.features import join, tables
from sparktrack.features.lookup import FeatureLookup
from sparktrack.features.spec import FeatureSpec, LookupSpec, with_features
from sparktrack.features.store import CREATE, DELETE_TAG, DROP, SET_TAG, WRITE, FeatureTableStore
from sparktrack.features.tables import FeatureTable

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from sparktrack.client import SparkTrackClient
    from sparktrack.models.base import ModelInfo

#: Context of the run inputs that record a model's feature tables (and their Delta versions).
FEATURE_CONTEXT = "feature_lookup"


@dataclass(frozen=True)
class ResolvedLookup:
    """A lookup with its table as it was when the training set was built."""

    lookup: FeatureLookup
    table: FeatureTable  # its delta_version is the version the training set reads
    plan: join.JoinPlan


class TrainingSet:
    """Labels (``df``) and the lookups that add features to them; ``load_df()`` joins them, each
    table read at the Delta version it had when the training set was created."""

    def __init__(self, spark: SparkSession, df: DataFrame, lookups: Sequence[ResolvedLookup],
                 label: str | None, exclude_columns: Sequence[str]):
        self._spark = spark
        self._df = df
        self.lookups = tuple(lookups)
        self.label = label
        self.exclude_columns = tuple(exclude_columns)

    @property
    def feature_table_versions(self) -> dict[str, int]:
        return {resolved.table.name: resolved.table.delta_version for resolved in self.lookups}

    @property
    def feature_spec(self) -> FeatureSpec:
        """What a model trained on this set looks up, less the excluded columns."""
        excluded = set(self.exclude_columns)
        lookups = []
        for resolved in self.lookups:
            spec = LookupSpec.of(resolved)
            kept = tuple(f for f in spec.features if f[1] not in excluded)
            if kept:
                lookups.append(replace(spec, features=kept))
        looked_up = {out for spec in lookups for out in spec.outputs}
        columns = [c for c in self._df.columns if c != self.label and c not in excluded and c not in looked_up]
        return FeatureSpec(tuple(lookups), tuple(columns), self.label, self.exclude_columns)

    def load_df(self) -> DataFrame:
        frame = self._df
        for resolved in self.lookups:
            table = tables.read(self._spark, resolved.table.name, resolved.table.delta_version)
            frame = join.lookup(frame, table, resolved.plan)
        return frame.drop(*self.exclude_columns) if self.exclude_columns else frame


class FeatureEngineeringClient:
    """Feature tables and training sets on the store ``store`` (default: the fluent API's, which
    ``set_tracking_uri`` sets) and ``spark`` (default: the session sparktrack resolves), or on
    ``client``'s."""

    def __init__(self, *, store: str | None = None, spark: SparkSession | None = None,
                 client: SparkTrackClient | None = None):
        if client is None:
            from sparktrack.client import SparkTrackClient
            from sparktrack.tracking import fluent

            fluent_client = fluent.client()
            same = store is None or store == fluent_client.store_root
            client = fluent_client if same and spark is None else SparkTrackClient(store, spark)
        self.client = client
        self._record = client.store.shared(FeatureTableStore)

    @property
    def spark(self) -> SparkSession:
        """The session (started on first use: finding tables in the store needs none)."""
        return self.client.spark

    def _changed(self, name: str, action: str) -> FeatureTable:
        table = tables.describe(self.spark, name)
        self._record.record(table, action)
        return table

    def create_table(self, *, name: str, primary_keys: str | Sequence[str], df: DataFrame | None = None,
                     schema: StructType | None = None, timeseries_column: str | None = None,
                     partition_columns: Sequence[str] | None = None, description: str | None = None,
                     tags: Mapping[str, str] | None = None) -> FeatureTable:
        """Create a feature table from ``df`` (written as its first version) or ``schema``."""
        if df is None and schema is None:
            raise InvalidValueError("create_table", "neither df nor schema", "df or schema, to give the columns")
        if df is not None and schema is not None and df.schema != schema:
            raise InvalidValueError("create_table schema", schema.simpleString(),
                                    f"df's schema ({df.schema.simpleString()}), or leave schema out")
        tables.create(self.spark, name, primary_keys, df.schema if df is not None else schema,
                      timeseries_column, partition_columns, description, tags)
        table = self._changed(name, CREATE)
        if df is not None:
            tables.merge(self.spark, table, df)
            table = self._changed(name, WRITE)
        return table

    def write_table(self, *, name: str, df: DataFrame, mode: str = "merge") -> None:
        """Upsert ``df`` on the table's full primary key (``mode="merge"``, the only mode)."""
        if mode != "merge":
            raise InvalidValueError("write_table mode", mode, "'merge' (an upsert on the primary key)")
        tables.merge(self.spark, tables.describe(self.spark, name), df)
        self._changed(name, WRITE)

    def read_table(self, *, name: str, as_of: Any = None) -> DataFrame:
        tables.describe(self.spark, name)  # a clear error for a table that is not a feature table
        return tables.read(self.spark, name, as_of)

    def get_table(self, *, name: str) -> FeatureTable:
        return tables.describe(self.spark, name)

    def drop_table(self, *, name: str) -> None:
        """Drop the feature table and its Delta table (its data is gone; the store keeps its
        history, and models trained on it keep the versions they used in their lineage)."""
        table = tables.describe(self.spark, name)
        tables.drop(self.spark, table)
        self._record.record(table, DROP)

    def set_feature_table_tag(self, *, name: str, key: str, value: str) -> None:
        tables.set_tag(self.spark, tables.describe(self.spark, name), key, value)
        self._changed(name, SET_TAG)

    def delete_feature_table_tag(self, *, name: str, key: str) -> None:
        tables.delete_tag(self.spark, tables.describe(self.spark, name), key)
        self._changed(name, DELETE_TAG)

    def search_tables(self, *, filter_string: str | None = None, max_results: int = 1000,
                      order_by: Sequence[str] | None = None) -> list[FeatureTable]:
        """The feature tables recorded in the store, by MLflow's filter grammar over ``name``,
        ``description``, ``timeseries_column`` and ``tags.<key>`` (e.g. ``"name LIKE '%customer%'
        AND tags.team = 'growth'"``), as of their last change through sparktrack."""
        from sparktrack import search
        from sparktrack.tracking import validation

        query = search.bind(validation.validate_filter(filter_string), validation.validate_order_by(order_by),
                            search.FEATURE_TABLES)
        limit = validation.validate_max_results(max_results)
        rows = self._record.current()
        matches = search.arrow.apply(search.arrow.rows_table(rows, search.FEATURE_TABLES, query.keys), query)
        by_name = {row["name"]: row for row in rows}
        return [_recorded(by_name[n]) for n in matches["name"].to_pylist()[:limit]]

    def create_training_set(self, *, df: DataFrame, feature_lookups: Sequence[FeatureLookup],
                            label: str | None, exclude_columns: Sequence[str] | None = None) -> TrainingSet:
        """Check every lookup against ``df`` and its table now, pin each table's Delta version,
        and return the training set (nothing is joined until ``load_df``)."""
        if label is not None and label not in df.columns:
            raise InvalidValueError("create_training_set label", label, f"a column of df; df has {df.columns}")
        resolved: list[ResolvedLookup] = []
        outputs: dict[str, str] = {c: "df" for c in df.columns}
        for lookup in feature_lookups:
            if not isinstance(lookup, FeatureLookup):
                raise InvalidValueError("create_training_set feature_lookups", lookup, "a list of FeatureLookup")
            table = tables.describe(self.spark, lookup.table_name)
            plan = lookup.resolve(table, df)
            for _, out in plan.features:
                if out in outputs:
                    raise InvalidValueError(
                        "create_training_set feature_lookups", out,
                        f"distinct output columns; {out!r} comes from both {outputs[out]} and "
                        f"{table.name}. Rename one with rename_outputs")
                outputs[out] = table.name
            resolved.append(ResolvedLookup(lookup, table, plan))
        excluded = list(exclude_columns or ())
        unknown = [c for c in excluded if c not in outputs]
        if unknown:
            raise InvalidValueError("create_training_set exclude_columns", excluded,
                                    f"columns of the training set; unknown {unknown}")
        return TrainingSet(self.spark, df, resolved, label, excluded)

    def table_history(self, *, name: str) -> list[dict[str, Any]]:
        """The Delta versions of the feature table (newest first): ``version``, ``timestamp``
        (epoch ms), ``operation`` and its parameters, read from its log by delta-rs (no Spark)."""
        from sparktrack.engine.delta import open_table

        found = [t for t in self.search_tables(max_results=10_000) if t.name == name]
        if not found:
            raise NotFoundError(f"No feature table {name!r} in the store; list them with search_tables().")
        history = open_table(found[0].location, self.client.store.location.storage_options).history()
        return [{"version": h.get("version"), "timestamp": h.get("timestamp"), "operation": h.get("operation"),
                 "parameters": h.get("operationParameters") or {}} for h in history]

    def trained_on(self, *, name: str) -> list[dict[str, Any]]:
        """The registered model versions trained with features of ``name``: model name, version,
        run id and the table's Delta version they trained on (from the runs' inputs; no Spark)."""
        from sparktrack.store import layout

        inputs = self.client.store.reads.rows(layout.INPUTS).to_pylist()
        used = {(row["run_id"], row["delta_version"]) for row in inputs
                if row["context"] == FEATURE_CONTEXT and row["name"] == name}
        found = []
        for run_id, delta_version in sorted(used):
            for version in self.client.search_model_versions(f"run_id = '{run_id}'"):
                found.append({"model_name": version.name, "model_version": int(version.version),
                              "run_id": run_id, "delta_version": delta_version})
        return sorted(found, key=lambda row: (row["model_name"], row["model_version"]))

    def log_model(self, *, model: Any, artifact_path: str, flavor: Any, training_set: TrainingSet,
                  registered_model_name: str | None = None, run_id: str | None = None,
                  **flavor_arguments: Any) -> ModelInfo:
        """Log ``model`` with ``flavor`` (``sparktrack.sklearn``, ``sparktrack.spark``,
        ``sparktrack.pyfunc``, or their names) and the feature spec of ``training_set``, to
        ``run_id`` or the active run (a new run when none is). Each feature table is logged as a
        run input (context ``feature_lookup``) at the Delta version the training set read, then
        the model is registered when ``registered_model_name`` is given. Without a signature or
        input example, the signature is the training set's columns less the label."""
        from sparktrack._flavors import client_and_run
        from sparktrack.models.signature import from_struct
        from sparktrack.tracking import fluent
        from sparktrack.tracking.datasets import dataset_input

        if not isinstance(training_set, TrainingSet):
            raise InvalidValueError("log_model training_set", training_set,
                                    "the TrainingSet create_training_set returned")
        log = _flavor_log_model(flavor)
        if registered_model_name is not None:
            from sparktrack.registry.client import validate_model_name

            validate_model_name(registered_model_name)
        spec = training_set.feature_spec
        if flavor_arguments.get("signature") is None and flavor_arguments.get("input_example") is None:
            schema = training_set.load_df().schema
            flavor_arguments["signature"] = [c for c in from_struct(schema) if c["name"] != training_set.label]
        if run_id is None and self.client.store_root != fluent.client().store_root:
            raise InvalidValueError("log_model run_id", None,
                                    f"a run of {self.client.store_root}: the active run is in another store")
        client, run = client_and_run(self.client, run_id) if run_id is not None else client_and_run(None, None)
        info = log(model, artifact_path, client=client, run_id=run, feature_spec=spec.to_dict(),
                   **flavor_arguments)
        inputs = [dataset_input(_read_columns(self.spark, r.table, spec), FEATURE_CONTEXT, r.table.name)
                  for r in training_set.lookups]
        labels = dataset_input(training_set._df, "training")
        logged = {d.digest for d in client.get_run_inputs(info.run_id)}
        client.log_inputs(info.run_id, [d for d in (labels, *inputs) if d.digest not in logged])
        if registered_model_name is None:
            return info
        version = client.register_model(info.model_uri, registered_model_name).version
        return replace(info, registered_model_version=version)

    def score_batch(self, *, model_uri: str, df: DataFrame, result_type: str | None = None) -> DataFrame:
        """``df`` scored with ``model_uri``: its columns, the features looked up (point in time
        for time-series tables; columns ``df`` has are used instead), and the model's output
        column. ``result_type`` casts the output (a Spark SQL type)."""
        from pyspark.sql import functions as F

        from sparktrack.models import load_model
        from sparktrack.models.signature import check_schema

        model = load_model(model_uri, client=self.client)
        frame = df
        if model.descriptor.feature_spec is not None:
            spec = FeatureSpec.from_dict(model.descriptor.feature_spec)
            frame, _ = with_features(self.spark, spec, df, f"the model {model_uri}")
        check_schema(frame.schema, model.descriptor.signature, model.output_column, f"the model {model_uri}",
                     required=model.input_columns)
        scored = model.predict(frame)
        if result_type is not None:
            scored = scored.withColumn(model.output_column, F.col(model.output_column).cast(result_type))
        return scored


#: Databricks' older client name.
FeatureStoreClient = FeatureEngineeringClient


def _flavor_log_model(flavor: Any) -> Any:
    """The flavor module's client-taking ``log_model`` (``sparktrack.models.<flavor>``)."""
    import importlib

    names = {"spark": "spark", "sklearn": "sklearn", "pyfunc": "pyfunc", "python_function": "pyfunc"}
    name = flavor if isinstance(flavor, str) else getattr(flavor, "__name__", "").rsplit(".", 1)[-1]
    if name not in names:
        raise InvalidValueError("log_model flavor", flavor,
                                "sparktrack.sklearn, sparktrack.spark or sparktrack.pyfunc (or 'sklearn', "
                                "'spark', 'pyfunc')")
    return importlib.import_module(f"sparktrack.models.{names[name]}").log_model


def _read_columns(spark: SparkSession, table: FeatureTable, spec: FeatureSpec) -> DataFrame:
    """The table's keys and the features ``spec`` looks up in it, at the version it trained on
    (what the run input records: the table, its version, and those columns)."""
    from sparktrack.engine.location import quote_identifier
    from sparktrack.tracking.datasets import TableRef

    used = [c for lookup in spec.lookups if lookup.table_name == table.name for c, _, _ in lookup.features]
    columns = ", ".join(quote_identifier(c) for c in dict.fromkeys([*table.primary_keys, *used]))
    return spark.sql(f"SELECT {columns} FROM {TableRef.parse(table.name).sql} VERSION AS OF {table.delta_version}")


def _recorded(row: dict[str, Any]) -> FeatureTable:
    """A FeatureTable as the store recorded it at its last change."""
    features = row["features"]
    return FeatureTable(
        name=row["name"], primary_keys=tuple(row["primary_keys"]), timeseries_column=row["timeseries_column"],
        features=tuple(f["name"] for f in features), schema={f["name"]: f["type"] for f in features},
        description=row["description"], tags=row["tags"], delta_version=row["delta_version"],
        location=row["location"])
