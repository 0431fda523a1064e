"""The training job: a Spark ML pipeline built from a config file, trained on a Delta table (pinned
to the version it read), evaluated on a held-out split, logged, and registered only if a metric
passes the configured gate.

    spark-submit --properties-file conf/spark-defaults.conf jobs/train.py \\
        --config conf/jobs/train_churn.toml [--input PATH_OR_TABLE] [--store ROOT] [--set KEY=VALUE]

Exit codes: 0 trained (and registered when configured), 3 trained but the gate was not passed
(nothing registered), 2 bad config or input (nothing trained), 1 a failure while training.
"""

from __future__ import annotations

import argparse
import importlib
import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

from sparktrack.errors import ConfigError, InvalidValueError
from sparktrack import config
from sparktrack.jobs import GATE_NOT_PASSED, OK, run_main

if TYPE_CHECKING:
    from pyspark.ml import Estimator, PipelineModel
    from pyspark.sql import DataFrame

    from sparktrack.client import SparkTrackClient

SECTION = "train"
FEATURES_COLUMN = "features"
#: Where a short estimator name ("GBTClassifier") is looked up.
ESTIMATOR_MODULES = ("pyspark.ml.classification", "pyspark.ml.regression")
CLASSIFICATION_METRICS = ("accuracy", "f1", "weightedPrecision", "weightedRecall")
BINARY_METRICS = ("areaUnderROC", "areaUnderPR")
REGRESSION_METRICS = ("rmse", "mse", "mae", "r2")
PROMOTE = ("if_better", "always")


@dataclass(frozen=True)
class EstimatorConfig:
    type: str  # "GBTClassifier", or a full class path such as "pyspark.ml.regression.GBTRegressor"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateConfig:
    """Register only if ``metric`` (a held-out metric) is greater than ``greater_than`` or less
    than ``less_than`` (exactly one of the two)."""

    metric: str
    greater_than: float | None = None
    less_than: float | None = None

    def __post_init__(self) -> None:
        if (self.greater_than is None) == (self.less_than is None):
            raise ConfigError(
                f"[train.gate] needs exactly one of greater_than or less_than (got greater_than="
                f"{self.greater_than!r}, less_than={self.less_than!r}); e.g. metric = \"accuracy\", "
                "greater_than = 0.85")

    @property
    def higher_is_better(self) -> bool:
        return self.greater_than is not None

    def passes(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value > self.greater_than if self.higher_is_better else value < self.less_than

    def describe(self) -> str:
        return (f"{self.metric} > {self.greater_than}" if self.higher_is_better
                else f"{self.metric} < {self.less_than}")


@dataclass(frozen=True)
class RegisterConfig:
    name: str
    alias: str | None = None
    promote: str = "if_better"  # move the alias only when the gate metric beats its holder's
    tags: dict[str, str] = field(default_factory=dict)  # set on the new version

    def __post_init__(self) -> None:
        if self.promote not in PROMOTE:
            raise ConfigError(f"[train.register] promote must be one of {list(PROMOTE)}, got {self.promote!r}")


@dataclass(frozen=True)
class LookupConfig:
    """A ``[[train.feature_lookups]]`` table: a FeatureLookup joined onto the input (the labels)."""

    table_name: str
    lookup_key: tuple[str, ...]
    feature_names: tuple[str, ...] | None = None
    rename_outputs: dict[str, str] = field(default_factory=dict)
    timestamp_lookup_key: str | None = None
    lookback_window_seconds: float | None = None
    default_values: dict[str, Any] = field(default_factory=dict)

    def lookup(self) -> Any:
        import datetime as dt

        from sparktrack.features import FeatureLookup

        window = self.lookback_window_seconds
        if window is not None and not (isinstance(window, (int, float)) and window > 0 and math.isfinite(window)):
            raise ConfigError(f"[[train.feature_lookups]] lookback_window_seconds of {self.table_name} must be "
                              f"a positive number of seconds, got {window!r}")
        return FeatureLookup(
            table_name=self.table_name, lookup_key=list(self.lookup_key),
            feature_names=list(self.feature_names) if self.feature_names is not None else None,
            rename_outputs=self.rename_outputs or None, timestamp_lookup_key=self.timestamp_lookup_key,
            lookback_window=dt.timedelta(seconds=window) if window is not None else None,
            default_values=self.default_values or None)


@dataclass(frozen=True)
class TrainConfig:
    input: str  # Delta table path or catalog table name (the labels, when there are lookups)
    label: str
    features: tuple[str, ...]  # numeric (or boolean) columns
    estimator: EstimatorConfig
    categorical: tuple[str, ...] = ()  # string columns: indexed and one-hot encoded
    experiment: str = "Default"
    run_name: str | None = None
    test_fraction: float = 0.2
    seed: int = 42
    store: str | None = None
    gate: GateConfig | None = None
    register: RegisterConfig | None = None
    #: Features looked up for each input row (point in time on a timestamp key) before training;
    #: the model is logged with the training set, so scoring looks them up too.
    feature_lookups: tuple[LookupConfig, ...] = ()
    exclude_columns: tuple[str, ...] = ()  # training-set columns the model does not see (e.g. keys)

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"[train] test_fraction must be between 0 and 1, got {self.test_fraction!r}")
        if not self.features and not self.categorical:
            raise ConfigError("[train] needs at least one column in features or categorical")
        if self.register and self.register.alias and self.register.promote == "if_better" and not self.gate:
            raise ConfigError(
                "[train.register] promote = \"if_better\" compares the gate metric, so it needs a "
                "[train.gate] table; add one, or set promote = \"always\"")


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    metrics: dict[str, float]
    input: str
    input_version: int | None
    gate: str | None = None
    gate_passed: bool | None = None
    model_uri: str | None = None
    registered_name: str | None = None
    registered_version: int | None = None
    alias: str | None = None
    alias_moved: bool | None = None

    @property
    def exit_code(self) -> int:
        return GATE_NOT_PASSED if self.gate_passed is False else OK


def load_config(path: str | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """The [train] table of ``path`` with ``overrides`` (``key=value``) applied."""
    values = config.apply_overrides(config.read_section(path, SECTION), overrides)
    return config.build(TrainConfig, values, f"[{SECTION}] of {path or 'the command line'}")


def train(cfg: TrainConfig, spark: Any = None, client: SparkTrackClient | None = None) -> TrainResult:
    """Train, evaluate, log and (if the gate passes) register, as ``cfg`` says.

    The run is logged through ``client`` (default: a client on ``cfg.store`` and ``spark``, or
    on the default store), nested in the fluent API's active run when there is one in that store."""
    from sparktrack.client import SparkTrackClient
    from sparktrack.entities import Metric, Param, RunStatus, now_ms
    from sparktrack.models import spark as spark_models
    from sparktrack.tracking import fluent
    from sparktrack.tracking.datasets import TableRef, dataset_input, read_pinned

    if client is None:
        client = SparkTrackClient(cfg.store, spark) if cfg.store or spark else SparkTrackClient.default()
    spark = client.spark
    estimator = build_estimator(cfg)  # config errors surface before any data is read
    table = TableRef.parse(cfg.input, "[train] input")
    labels, version = read_pinned(spark, table)
    training_set = None
    if cfg.feature_lookups:
        from sparktrack.features import FeatureEngineeringClient

        fe = FeatureEngineeringClient(client=client)
        training_set = fe.create_training_set(df=labels, feature_lookups=[c.lookup() for c in cfg.feature_lookups],
                                                    label=cfg.label, exclude_columns=list(cfg.exclude_columns))
    data = training_set.load_df() if training_set is not None else labels
    metric_names = _check_input(cfg, data, estimator)
    experiment = client.get_or_create_experiment(cfg.experiment)
    parent = fluent.active_run()
    parent_id = parent.info.run_id if parent is not None and fluent.get_tracking_uri() == client.store_root else None
    train_df, test_df = data.randomSplit([1 - cfg.test_fraction, cfg.test_fraction], seed=cfg.seed)
    train_df, test_df = train_df.cache(), test_df.cache()
    run = client.create_run(experiment.experiment_id, run_name=cfg.run_name, parent_run_id=parent_id,
                            tags={"sparktrack.job": "train"})
    run_id = run.info.run_id
    status = RunStatus.FAILED
    try:
        client.log_batch(run_id, params=[Param(key=k, value=v) for k, v in _params(cfg, version).items()])
        client.log_inputs(run_id, [dataset_input(labels, context="training")])
        client.log_dict(run_id, _config_dict(cfg), "job_config.json")
        model = build_pipeline(cfg, estimator).fit(train_df)
        client.log_batch(run_id, metrics=_loss_history(model, test_df))
        metrics = evaluate(model, test_df, cfg.label, metric_names)
        now = now_ms()
        counts = {"train_rows": float(train_df.count()), "test_rows": float(test_df.count())}
        client.log_batch(run_id, metrics=[Metric(key=k, value=v, timestamp=now) for k, v in {**metrics, **counts}.items()])
        columns = [*cfg.features, *cfg.categorical]
        example = test_df.select(*columns).limit(5)
        if training_set is not None:
            info = fe.log_model(model=model, artifact_path="model", flavor="spark", training_set=training_set,
                                      run_id=run_id, input_example=example)
        else:
            info = spark_models.log_model(model, "model", client=client, run_id=run_id, input_example=example)
        result = TrainResult(run_id=run_id, metrics=metrics, input=table.ref, input_version=version,
                             model_uri=info.model_uri)
        if cfg.gate is not None:
            passed = cfg.gate.passes(metrics[cfg.gate.metric])
            client.set_tag(run_id, "sparktrack.gate", cfg.gate.describe())
            client.set_tag(run_id, "sparktrack.gate.passed", str(passed).lower())
            result = replace(result, gate=cfg.gate.describe(), gate_passed=passed)
        if cfg.register is not None and result.gate_passed is not False:
            result = _register(client, cfg, result, metrics)
        status = RunStatus.FINISHED
    finally:
        client.set_terminated(run_id, status)
        train_df.unpersist()
        test_df.unpersist()
    return result


def build_estimator(cfg: TrainConfig) -> Estimator:
    """The configured estimator with its params set; unknown classes and params are errors."""
    from pyspark.ml import Estimator

    cls = _estimator_class(cfg.estimator.type)
    estimator = cls()
    if not isinstance(estimator, Estimator):
        raise ConfigError(f"[train.estimator] type {cfg.estimator.type!r} is not a Spark ML Estimator")
    reserved = {"featuresCol", "labelCol"}
    for name, value in cfg.estimator.params.items():
        if name in reserved:
            raise ConfigError(
                f"[train.estimator.params] sets {name!r}; the job sets it from features/label. "
                "Remove it.")
        if not estimator.hasParam(name):
            known = sorted(p.name for p in estimator.params if p.name not in reserved)
            raise ConfigError(
                f"{type(estimator).__name__} has no param {name!r} ([train.estimator.params]). "
                f"Its params: {known}.")
        try:
            estimator.set(estimator.getParam(name), value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[train.estimator.params] {name} = {value!r} is invalid: {exc}") from None
    for name, value in (("featuresCol", FEATURES_COLUMN), ("labelCol", cfg.label)):
        if estimator.hasParam(name):
            estimator.set(estimator.getParam(name), value)
    return estimator


def build_pipeline(cfg: TrainConfig, estimator: Estimator) -> Any:
    """Index and one-hot encode the categorical columns, assemble the features, then estimate."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

    stages: list[Any] = []
    encoded: list[str] = []
    if cfg.categorical:
        indexed = [f"{c}__index" for c in cfg.categorical]
        encoded = [f"{c}__onehot" for c in cfg.categorical]
        stages.append(StringIndexer(inputCols=list(cfg.categorical), outputCols=indexed, handleInvalid="keep"))
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"))
    stages.append(VectorAssembler(inputCols=[*cfg.features, *encoded], outputCol=FEATURES_COLUMN))
    stages.append(estimator)
    return Pipeline(stages=stages)


def evaluate(model: PipelineModel, test: DataFrame, label: str, names: Sequence[str]) -> dict[str, float]:
    """Held-out metrics: Spark ML's evaluators on ``model.transform(test)``."""
    from pyspark.ml.evaluation import (
        BinaryClassificationEvaluator,
        MulticlassClassificationEvaluator,
        RegressionEvaluator,
    )

    predictions = model.transform(test).cache()
    try:
        metrics = {}
        for name in names:
            if name in CLASSIFICATION_METRICS:
                evaluator: Any = MulticlassClassificationEvaluator(labelCol=label, metricName=name)
            elif name in BINARY_METRICS:
                evaluator = BinaryClassificationEvaluator(labelCol=label, metricName=name)
            else:
                evaluator = RegressionEvaluator(labelCol=label, metricName=name)
            metrics[name] = float(evaluator.evaluate(predictions))
        return metrics
    finally:
        predictions.unpersist()


def _loss_history(model: PipelineModel, test: DataFrame) -> list[Any]:
    """Boosted trees: the held-out loss after each iteration, as ``val_loss`` by step."""
    from pyspark.ml import PipelineModel

    from sparktrack.entities import Metric, now_ms

    last = model.stages[-1]
    if not hasattr(last, "evaluateEachIteration"):
        return []
    features = PipelineModel(stages=model.stages[:-1]).transform(test)
    now = now_ms()
    return [Metric(key="val_loss", value=float(loss), timestamp=now, step=step)
            for step, loss in enumerate(last.evaluateEachIteration(features), start=1)]


def _estimator_class(type_name: str) -> type:
    module_name, _, class_name = type_name.rpartition(".")
    candidates = [module_name] if module_name else list(ESTIMATOR_MODULES)
    for candidate in candidates:
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            continue
        cls = getattr(module, class_name, None)
        if isinstance(cls, type):
            return cls
    where = module_name or " or ".join(ESTIMATOR_MODULES)
    raise ConfigError(
        f"[train.estimator] type {type_name!r}: no class {class_name!r} in {where}. Use a Spark ML "
        "estimator such as \"GBTClassifier\", \"LogisticRegression\", \"RandomForestRegressor\", or "
        "a full class path (\"my_package.MyEstimator\").")


def _check_input(cfg: TrainConfig, data: DataFrame, estimator: Estimator) -> list[str]:
    """Check the input's columns and the gate metric before training; returns the metrics to
    compute."""
    from pyspark.ml.classification import Classifier
    from pyspark.sql import types as T

    fields = {f.name: f.dataType for f in data.schema.fields}
    wanted = [cfg.label, *cfg.features, *cfg.categorical]
    missing = [c for c in wanted if c not in fields]
    if missing:
        raise InvalidValueError(
            f"The columns of {cfg.input}", sorted(fields),
            f"a table with the configured columns; missing {missing}. Fix [train] label, features "
            "or categorical, or the input table")
    numeric = (T.NumericType, T.BooleanType)
    wrong = {c: fields[c].simpleString() for c in [cfg.label, *cfg.features]
             if not isinstance(fields[c], numeric)}
    if wrong:
        raise InvalidValueError(
            f"The label and features columns of {cfg.input}", wrong,
            "numeric or boolean columns; list string columns under [train] categorical (the label "
            "must be numeric: index a string label first)")
    if isinstance(estimator, Classifier):
        names = list(CLASSIFICATION_METRICS)
        labels = data.select(cfg.label).distinct().limit(3).collect()
        if len(labels) <= 2 and all(row[0] in (0, 1) for row in labels):
            names += BINARY_METRICS
    else:
        names = list(REGRESSION_METRICS)
    if cfg.gate is not None and cfg.gate.metric not in names:
        raise ConfigError(
            f"[train.gate] metric {cfg.gate.metric!r} is not computed for a "
            f"{type(estimator).__name__} on this label; the job computes {names}.")
    return names


def _register(client: SparkTrackClient, cfg: TrainConfig, result: TrainResult,
              metrics: dict[str, float]) -> TrainResult:
    reg = cfg.register
    tags = dict(reg.tags)
    if cfg.gate is not None:
        tags.update({"gate": cfg.gate.describe(), "gate_value": repr(metrics[cfg.gate.metric])})
    version = client.register_model(result.model_uri, reg.name, tags=tags)
    client.set_tag(result.run_id, "sparktrack.registered_version", f"{reg.name}/{version.version}")
    result = replace(result, registered_name=reg.name, registered_version=version.version)
    if reg.alias is None:
        return result
    moved = reg.promote == "always" or _beats_alias_holder(client, cfg, metrics)
    if moved:
        client.set_registered_model_alias(reg.name, reg.alias, version.version)
    return replace(result, alias=reg.alias, alias_moved=moved)


def _beats_alias_holder(client: SparkTrackClient, cfg: TrainConfig, metrics: dict[str, float]) -> bool:
    """Whether the new model's gate metric beats that of the version holding the alias now."""
    from sparktrack.errors import NotFoundError

    try:
        holder = client.get_model_version_by_alias(cfg.register.name, cfg.register.alias)
    except NotFoundError:
        return True
    if holder.run_id is None:
        return True
    theirs = client.get_run(holder.run_id).data.metrics.get(cfg.gate.metric)
    if theirs is None or math.isnan(theirs):
        return True
    ours = metrics[cfg.gate.metric]
    return ours > theirs if cfg.gate.higher_is_better else ours < theirs


def _params(cfg: TrainConfig, version: int | None) -> dict[str, Any]:
    params = {f"estimator.{k}": v for k, v in cfg.estimator.params.items()}
    params.update({
        "estimator": cfg.estimator.type, "label": cfg.label, "features": ",".join(cfg.features),
        "test_fraction": cfg.test_fraction, "seed": cfg.seed, "input": cfg.input,
        "input_version": version,
    })
    if cfg.categorical:
        params["categorical"] = ",".join(cfg.categorical)
    if cfg.feature_lookups:
        params["feature_tables"] = ",".join(c.table_name for c in cfg.feature_lookups)
    return {k: v for k, v in params.items() if v is not None}


def _config_dict(cfg: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(cfg).items() if v is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobs/train.py",
        description="Train a Spark ML pipeline from a config file, log it, and register it if it "
                    "passes the gate.",
        epilog="Exit codes: 0 trained (and registered when configured), 3 gate not passed, 2 bad "
               "config or input, 1 failure.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="job config (TOML, a [train] table)")
    parser.add_argument("--input", metavar="TABLE", help="training table: Delta path or catalog name")
    parser.add_argument("--store", metavar="ROOT", help="store root (default: the config's, else $SPARKTRACK_STORE)")
    parser.add_argument("--experiment", metavar="NAME", help="experiment name")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set estimator.params.maxDepth=6 (repeatable)")
    return parser


def _job(argv: Sequence[str] | None) -> tuple[int, dict[str, Any]]:
    args = build_parser().parse_args(argv)
    overrides = list(args.set)
    for key in ("input", "store", "experiment"):
        if getattr(args, key) is not None:
            overrides.append(f"{key}={_toml_string(getattr(args, key))}")
    cfg = load_config(args.config, overrides)
    result = train(cfg)
    return result.exit_code, asdict(result)


def _toml_string(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string literal is a valid TOML basic string


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_job, argv)

