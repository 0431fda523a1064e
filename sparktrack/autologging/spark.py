"""Spark ML autologging: every ``Estimator.fit`` is tracked, with MLflow's names.

``autolog()`` patches ``pyspark.ml.base.Estimator.fit`` (which covers Pipeline, CrossValidator,
TrainValidationSplit and every estimator, since they implement ``_fit``),
``pyspark.ml.base.Transformer.transform`` and ``pyspark.ml.evaluation.Evaluator.evaluate``.
Only the outermost fit is logged: a Pipeline's stages and a search's inner fits (which Spark runs
in a thread pool) are inside it. As in MLflow, a featurizer (``pyspark.ml.feature``) fitted on
its own and a ``fit`` with a list of param maps are not logged.

For the outermost fit:
- The run is chosen as in ``sparktrack.autologging.sklearn``: a new run (tag
  ``sparktrack.autologging=spark``) ended FINISHED or FAILED; or the active run, left open; or a
  nested child run for a second fit in the same run; nothing with ``exclusive=True`` and a run the
  user started.
- Params: every stage's params, ``param`` for the fitted estimator itself and ``Stage.param`` for
  the stages inside it, where ``Stage`` is the class name, or ``Class_n`` (depth-first order) when
  a class occurs more than once. A Pipeline's ``stages`` and a search's ``estimator`` and
  ``evaluator`` are logged as those names. ``estimator_info.json`` holds the stage hierarchy (and
  for a search its param maps); the tags ``estimator_name`` and ``estimator_class`` are set.
- A search (CrossValidator, TrainValidationSplit) gets a child run per param map, with that
  map's params and ``avg_{metric}`` / ``std_{metric}`` (CV) or ``{metric}`` (TVS); the parent
  gets ``best_{Stage.param}`` params, ``best_parameters.json``, the search model as ``model`` and
  its best model as ``best_model``.
- The model is logged natively (``sparktrack.models.spark``) with a signature of the training
  DataFrame's input columns, and the DataFrame as a dataset input (context ``train``, with the
  Delta table path and version when it was read from Delta).

Post-training metrics: ``evaluator.evaluate(df)`` on the result of an autologged model's
``transform`` logs ``{metricName}[-{n}]_{dataset}`` into that model's run, where ``dataset`` is
the name of the variable passed to ``transform`` (``unknown_dataset`` when it has none; another
DataFrame under the same name becomes ``name-2``), and ``-{n}`` numbers the second and later
calls of the same metric in that run. Nothing is logged into a run the user has already ended.

A DataFrame derived from that result (``filter``, ``limit``, ``select``, ``orderBy``, ``join``,
``cache``...) is traced back to the model through the columns the model added: Spark gives each
column of a plan an expression id that those operations keep and that a recomputed or renamed
column does not, so ``transform`` records the ids of its new columns and ``evaluate`` looks up
the ids of the evaluator's prediction columns (``predictionCol``, ``rawPredictionCol``,
``probabilityCol``) in the DataFrame it is given. The DataFrame itself is not changed. (MLflow
only finds the very DataFrame ``transform`` returned.) This needs classic PySpark (a JVM-backed
DataFrame); with Spark Connect only that very DataFrame is found.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sys
import threading
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from sparktrack.autologging import safety

FLAVOR = "spark"
AUTOLOG_TAG = safety.AUTOLOG_TAG
UNKNOWN_DATASET = "unknown_dataset"


@dataclass(frozen=True)
class AutologConfig:
    log_models: bool = True
    log_datasets: bool = True
    exclusive: bool = False
    silent: bool = False
    log_post_training_metrics: bool = True
    registered_model_name: str | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_model_allowlist: frozenset[str] | None = None
    max_tuning_runs: int | None = None


@dataclass(frozen=True)
class _Target:
    """Where an autologged model's post-training metrics go: its run, and whether the user owns
    that run (then nothing is logged once the user has ended it)."""

    run_id: str
    users_run: bool


_config: AutologConfig | None = None
_runs = safety.FitRuns(FLAVOR)
#: Outermost fits in progress in any thread: a search fits its candidates in a thread pool.
_fits = 0
_fits_lock = threading.Lock()
#: Fitted model -> its run; transformed DataFrame -> (its model's run, the dataset's name).
_model_targets: weakref.WeakKeyDictionary[Any, _Target] = weakref.WeakKeyDictionary()
_predictions: weakref.WeakKeyDictionary[Any, tuple[_Target, str]] = weakref.WeakKeyDictionary()
#: Expression id of a column an autologged model's transform added -> (its run, the dataset's name);
#: the oldest are dropped beyond _LINEAGE_LIMIT.
_lineage: dict[int, tuple[_Target, str]] = {}
_LINEAGE_LIMIT = 100_000
_lineage_lock = threading.Lock()
#: The evaluator params that name the columns a model produced, in the order they are looked up.
_PREDICTION_PARAMS = ("predictionCol", "rawPredictionCol", "probabilityCol")
#: run id -> dataset name -> ids of the DataFrames seen under it; run id -> metric name -> calls.
_dataset_ids: defaultdict[str, defaultdict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
_metric_calls: defaultdict[str, Counter[str]] = defaultdict(Counter)


def autolog(log_models: bool = True, log_datasets: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            log_post_training_metrics: bool = True, registered_model_name: str | None = None,
            log_input_examples: bool = False, log_model_signatures: bool = True,
            log_model_allowlist: list[str] | None = None, extra_tags: Mapping[str, Any] | None = None,
            max_tuning_runs: int | None = None, training_metrics: bool = True) -> None:
    """Turn Spark ML autologging on with these settings (again: new settings), or off with
    ``disable=True``, which puts ``fit``, ``transform`` and ``evaluate`` back.
    ``disable_for_unsupported_versions`` is accepted for MLflow's signature and ignored; with
    ``log_model_allowlist`` (fully qualified class names) only models of those classes are logged;
    ``max_tuning_runs`` keeps a search's child runs to its best N param maps (all by default, as
    MLflow's Spark autolog does). ``training_metrics`` is accepted so that the same flags turn
    both flavors' extra passes off, and changes nothing here: a Spark ML fit computes no training
    metrics (a search's child-run metrics are the ones Spark computed while searching), and
    ``log_post_training_metrics`` runs no Spark job either (it logs the value the user's
    ``evaluate`` returned)."""
    global _config
    from sparktrack.errors import InvalidValueError

    safety.restore(FLAVOR)
    _config = None
    if disable:
        return
    if max_tuning_runs is not None and (isinstance(max_tuning_runs, bool) or not isinstance(max_tuning_runs, int)
                                        or max_tuning_runs < 0):
        raise InvalidValueError("autolog max_tuning_runs", max_tuning_runs, "None or an integer >= 0")
    if registered_model_name is not None:
        from sparktrack.registry.client import validate_model_name

        validate_model_name(registered_model_name)
    _config = AutologConfig(
        log_models=log_models, log_datasets=log_datasets, exclusive=exclusive, silent=silent,
        log_post_training_metrics=log_post_training_metrics, registered_model_name=registered_model_name,
        extra_tags={str(k): str(v) for k, v in (extra_tags or {}).items()},
        log_input_examples=log_input_examples, log_model_signatures=log_model_signatures,
        log_model_allowlist=None if log_model_allowlist is None else frozenset(c.strip() for c in log_model_allowlist),
        max_tuning_runs=max_tuning_runs)
    from pyspark.ml.base import Estimator, Transformer
    from pyspark.ml.evaluation import Evaluator

    safety.patch(FLAVOR, Estimator, "fit", _patched_fit)
    safety.patch(FLAVOR, Transformer, "transform", _patched_transform)
    safety.patch(FLAVOR, Evaluator, "evaluate", _patched_evaluate)


@contextlib.contextmanager
def _fit_scope() -> Iterator[bool]:
    """True when no other autologged fit is in progress in any thread."""
    global _fits
    with _fits_lock:
        first = _fits == 0
        _fits += 1
    try:
        yield first
    finally:
        with _fits_lock:
            _fits -= 1


def _patched_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = _config
        params = args[1] if len(args) > 1 else kwargs.get("params")
        with safety.outermost(FLAVOR) as outermost, _fit_scope() as first:
            if (config is None or not outermost or not first or isinstance(params, (list, tuple))
                    or type(self).__module__.startswith("pyspark.ml.feature")):
                return original(self, *args, **kwargs)
            return _fit_and_log(config, original, self, args, kwargs)

    return fit


def _fit_and_log(config: AutologConfig, original: Callable[..., Any], estimator: Any, args: tuple,
                 kwargs: dict) -> Any:
    dataset = args[0] if args else kwargs.get("dataset")
    params = args[1] if len(args) > 1 else kwargs.get("params")
    fitted = estimator.copy(params) if isinstance(params, dict) and params else estimator

    def track(run_id: str, owned: bool, model: Any) -> None:
        if _weakrefable(model):
            _model_targets[model] = _Target(run_id=run_id, users_run=not owned)

    return safety.fit_in_run(
        _runs, config, lambda: original(estimator, *args, **kwargs),
        log=lambda client, run_id, owned, model: _log_fit(config, client, run_id, fitted, dataset, model),
        track=track)


# --- what a fit logs ---------------------------------------------------------------------------

def _log_fit(config: AutologConfig, client: Any, run_id: str, estimator: Any, dataset: Any, model: Any) -> None:
    names = indexed_names(estimator)
    params = param_map(estimator, names)
    info: dict[str, Any] = {"hierarchy": hierarchy(estimator, names)}
    for search in (s for s in _traverse(estimator) if _is_search(s)):
        info[names[search.uid]] = {
            "tuning_parameter_map_list": _tuning_maps(search, names),
            "tuned_estimator_parameter_map": _param_map(search.getEstimator(), names, top=False),
        }
    if _is_search(estimator):
        _log_search(config, client, run_id, estimator, model, names, params)
    _log_params_and_tags(client, run_id, params, _estimator_tags(estimator))
    client.log_dict(run_id, info, "estimator_info.json")
    if config.log_datasets and dataset is not None:
        from sparktrack.tracking.datasets import dataset_input

        client.log_inputs(run_id, [dataset_input(dataset, context="train")])
    if config.log_models and _allowed(config, model):
        _log_model(config, client, run_id, model, dataset, "model")
        if _is_search_model(model):
            _log_model(config, client, run_id, model.bestModel, dataset, "best_model")


def _log_params_and_tags(client: Any, run_id: str, params: Mapping[str, Any], tags: Mapping[str, str] = {},
                         metrics: Mapping[str, float] = {}) -> None:
    from sparktrack.entities import Metric, Param, RunTag, now_ms
    from sparktrack.tracking.validation import MAX_PARAM_VALUE_LENGTH

    now = now_ms()
    client.log_batch(
        run_id,
        metrics=[Metric(key=k, value=float(v), timestamp=now, step=0) for k, v in metrics.items()],
        params=[Param(key=k, value=_param_text(v)[:MAX_PARAM_VALUE_LENGTH]) for k, v in params.items()],
        tags=[RunTag(key=k, value=v) for k, v in tags.items()])


def _param_text(value: Any) -> str:
    return str(value)


def _estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"}


def _log_search(config: AutologConfig, client: Any, run_id: str, search: Any, model: Any,
                names: Mapping[str, str], params: dict[str, Any]) -> None:
    """A child run per param map, with its params and metrics; ``best_*`` params (added to
    ``params``, logged by the caller) and ``best_parameters.json`` on the parent."""
    from sparktrack.entities import RunStatus

    metrics, best = search_metrics(search, model)
    maps = search.getEstimatorParamMaps()
    tuned = search.getEstimator()
    experiment_id = client.get_run(run_id).info.experiment_id
    tags = {AUTOLOG_TAG: FLAVOR, **config.extra_tags}
    scores = next(iter(metrics.values()))
    ranked = sorted(range(len(maps)), key=scores.__getitem__, reverse=search.getEvaluator().isLargerBetter())
    kept = set(ranked[:config.max_tuning_runs] if config.max_tuning_runs is not None else ranked)
    for i, candidate_map in enumerate(maps):
        if i not in kept:
            continue
        candidate = tuned.copy(candidate_map)
        child = client.create_run(experiment_id, tags={**tags, **_estimator_tags(candidate)}, parent_run_id=run_id)
        _log_params_and_tags(client, child.info.run_id, param_map(candidate, names),
                             metrics={k: values[i] for k, values in metrics.items()})
        client.set_terminated(child.info.run_id, RunStatus.FINISHED)
    best_map = _tuning_maps(search, names)[best]
    params.update({f"best_{k}": v for k, v in best_map.items()})
    client.log_dict(run_id, {k: _param_text(v) for k, v in best_map.items()}, "best_parameters.json")


def search_metrics(search: Any, model: Any) -> tuple[dict[str, list[float]], int]:
    """MLflow's metric names per param map (``avg_``/``std_`` for CrossValidator, the metric's
    own name for TrainValidationSplit) and the index of the best map."""
    from pyspark.ml.tuning import CrossValidatorModel

    evaluator = search.getEvaluator()
    name = evaluator.getMetricName()
    if isinstance(model, CrossValidatorModel):
        scores = list(model.avgMetrics)
        metrics = {f"avg_{name}": scores, f"std_{name}": list(model.stdMetrics)}
    else:
        scores = list(model.validationMetrics)
        metrics = {name: scores}
    pick = max if evaluator.isLargerBetter() else min
    return metrics, pick(range(len(scores)), key=scores.__getitem__)


def _allowed(config: AutologConfig, model: Any) -> bool:
    if config.log_model_allowlist is None:
        return True
    from pyspark.ml import Model, PipelineModel

    models = [model]
    while models:
        current = models.pop()
        if _is_search_model(current):
            models.append(current.bestModel)
        elif isinstance(current, PipelineModel):
            models.extend(s for s in current.stages if isinstance(s, Model))
        elif f"{type(current).__module__}.{type(current).__qualname__}" not in config.log_model_allowlist:
            return False
    return True


def _log_model(config: AutologConfig, client: Any, run_id: str, model: Any, dataset: Any, artifact_path: str) -> None:
    from sparktrack.models import spark as spark_models

    schema = input_schema(model, dataset) if dataset is not None else None
    example = dataset.select(schema.fieldNames()).limit(5) if schema is not None and config.log_input_examples else None
    spark_models.log_model(model, artifact_path, client=client, run_id=run_id, input_example=example,
                           signature=schema if config.log_model_signatures else None,
                           registered_model_name=config.registered_model_name if artifact_path == "model" else None)


def input_schema(model: Any, dataset: Any) -> Any:
    """The training DataFrame's schema narrowed to the columns the fitted model reads (from its
    stages' ``inputCol(s)``/``featuresCol`` params), or all of it when those are not known."""
    from pyspark.ml import PipelineModel
    from pyspark.sql.types import StructType

    from sparktrack.models.spark import pipeline_input_columns

    while _is_search_model(model):
        model = model.bestModel
    pipeline = model if isinstance(model, PipelineModel) else PipelineModel(stages=[model])
    columns = pipeline_input_columns(pipeline)
    schema = dataset.schema
    if not columns or any(c not in schema.fieldNames() for c in columns):
        return schema
    return StructType([schema[c] for c in columns])


# --- MLflow's stage names ----------------------------------------------------------------------

def _is_search(stage: Any) -> bool:
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    return isinstance(stage, (CrossValidator, TrainValidationSplit))


def _is_search_model(model: Any) -> bool:
    from pyspark.ml.tuning import CrossValidatorModel, TrainValidationSplitModel

    return isinstance(model, (CrossValidatorModel, TrainValidationSplitModel))


def _children(stage: Any) -> list[Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import OneVsRest

    if isinstance(stage, Pipeline):
        return list(stage.getStages())
    if isinstance(stage, OneVsRest):
        return [stage.getClassifier()]
    if _is_search(stage):
        return [stage.getEstimator(), stage.getEvaluator()]
    return []


def _traverse(stage: Any) -> Iterator[Any]:
    yield stage
    for child in _children(stage):
        yield from _traverse(child)


def indexed_names(estimator: Any) -> dict[str, str]:
    """uid -> the stage's logged name: its class name, or ``Class_n`` when the class occurs more
    than once (n counts from 1 in depth-first order)."""
    counts: Counter[str] = Counter()
    numbered: dict[str, tuple[str, int]] = {}
    for stage in _traverse(estimator):
        name = type(stage).__name__
        counts[name] += 1
        numbered[stage.uid] = (name, counts[name])
    return {uid: f"{name}_{n}" if counts[name] > 1 else name for uid, (name, n) in numbered.items()}


def hierarchy(stage: Any, names: Mapping[str, str]) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import OneVsRest

    node: dict[str, Any] = {"name": names[stage.uid]}
    if isinstance(stage, Pipeline):
        node["stages"] = [hierarchy(s, names) for s in stage.getStages()]
    elif isinstance(stage, OneVsRest):
        node["classifier"] = hierarchy(stage.getClassifier(), names)
    elif _is_search(stage):
        node["evaluator"] = hierarchy(stage.getEvaluator(), names)
        node["tuned_estimator"] = hierarchy(stage.getEstimator(), names)
    return node


def param_map(estimator: Any, names: Mapping[str, str]) -> dict[str, Any]:
    """The estimator's params unprefixed, its stages' params as ``Stage.param``."""
    return _param_map(estimator, names, top=True)


def _param_map(instance: Any, names: Mapping[str, str], top: bool) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.param import Params

    prefix = "" if top else names[instance.uid] + "."
    search = _is_search(instance)
    found: dict[str, Any] = {}
    for param in instance.params:
        if not instance.isDefined(param):
            continue
        key, value = prefix + param.name, instance.getOrDefault(param)
        if isinstance(instance, Pipeline) and param.name == "stages":
            found[key] = [names[s.uid] for s in value]
            for stage in value:
                found.update(_param_map(stage, names, top=False))
        elif search and param.name == "estimator":
            found[key] = names[value.uid]  # its params are in estimator_info.json and the child runs
        elif search and param.name == "estimatorParamMaps":
            continue  # in estimator_info.json
        elif isinstance(value, Params):
            found[key] = names[value.uid]
            found.update(_param_map(value, names, top=False))
        else:
            found[key] = value
    return found


def _tuning_maps(search: Any, names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{f"{names[p.parent]}.{p.name}": v for p, v in candidate.items()}
            for candidate in search.getEstimatorParamMaps()]


# --- post-training metrics ---------------------------------------------------------------------

def _patched_transform(original: Callable[..., Any]) -> Callable[..., Any]:
    def transform(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        config = _config
        target = (_model_targets.get(self) if config is not None and config.log_post_training_metrics
                  and _weakrefable(self) else None)
        if target is not None and _fits == 0:
            dataset = args[0] if args else kwargs.get("dataset")
            name = variable_name(dataset, sys._getframe(1))
            safety.guarded(FLAVOR, config.silent, lambda: _remember_prediction(target, dataset, name, result))
        return result

    return transform


def _remember_prediction(target: _Target, dataset: Any, name: str, result: Any) -> None:
    seen = _dataset_ids[target.run_id][name]
    if id(dataset) not in seen:
        seen.append(id(dataset))
    index = seen.index(id(dataset))
    found = (target, name if index == 0 else f"{name}-{index + 1}")
    _predictions[result] = found
    added = set(column_ids(result).values()) - set(column_ids(dataset).values())
    with _lineage_lock:
        for expr_id in added:
            _lineage.pop(expr_id, None)
            _lineage[expr_id] = found
        excess = len(_lineage) - _LINEAGE_LIMIT
        for oldest in list(itertools.islice(_lineage, excess)) if excess > 0 else []:
            del _lineage[oldest]


_ATTRIBUTE = re.compile(r"(.*)#(\d+)[^#]*", re.DOTALL)


def column_ids(frame: Any) -> dict[str, int]:
    """Column name -> Spark's expression id for the columns of a classic (JVM-backed) DataFrame,
    from its analyzed plan's output (one JVM call); empty for anything else (Spark Connect). A
    name that occurs twice (after a join) keeps its last id."""
    jdf = getattr(frame, "_jdf", None)
    if jdf is None:
        return {}
    text = jdf.queryExecution().analyzed().output().mkString("\u0000")
    found: dict[str, int] = {}
    for attribute in text.split("\u0000") if text else []:
        match = _ATTRIBUTE.fullmatch(attribute)  # AttributeReference.toString: name#id[type suffix]
        if match:
            found[match.group(1)] = int(match.group(2))
    return found


def prediction_of(evaluator: Any, dataset: Any) -> tuple[_Target, str] | None:
    """The autologged model's run and dataset name that ``dataset``'s predictions come from:
    ``dataset`` itself as ``transform`` returned it, or a DataFrame derived from it whose
    evaluator-read prediction column is the model's own (same expression id). An evaluator with
    none of ``_PREDICTION_PARAMS`` is matched on the latest model column ``dataset`` has."""
    found = _predictions.get(dataset) if _weakrefable(dataset) else None
    if found is not None or not _lineage:
        return found
    ids = column_ids(dataset)
    columns = [evaluator.getOrDefault(p) for p in _PREDICTION_PARAMS
               if evaluator.hasParam(p) and evaluator.isDefined(p)]
    with _lineage_lock:
        if columns:
            return next((_lineage[ids[c]] for c in columns if c in ids and ids[c] in _lineage), None)
        known = [i for i in ids.values() if i in _lineage]
        return _lineage[max(known)] if known else None


def variable_name(value: Any, frame: Any) -> str:
    """The name bound to ``value`` in the first frame outside pyspark and sparktrack, from
    ``frame`` outwards; ``unknown_dataset`` when there is none (an expression)."""
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in ("pyspark", "sparktrack"):
        frame = frame.f_back
    if frame is None:
        return UNKNOWN_DATASET
    names = [k for k, v in frame.f_locals.items() if v is value]
    return (sorted(names, key=lambda k: (k.startswith("_"), k)) or [UNKNOWN_DATASET])[0]


def _patched_evaluate(original: Callable[..., Any]) -> Callable[..., Any]:
    def evaluate(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = original(self, *args, **kwargs)
        config = _config
        dataset = args[0] if args else kwargs.get("dataset")
        if config is None or not config.log_post_training_metrics or _fits != 0:
            return value
        params = args[1] if len(args) > 1 else kwargs.get("params")

        def log() -> None:
            evaluator = self.copy(params) if params else self
            found = prediction_of(evaluator, dataset)
            if found is not None:
                _log_metric(evaluator, *found, value)

        safety.guarded(FLAVOR, config.silent, log)
        return value

    return evaluate


def _weakrefable(value: Any) -> bool:
    try:
        weakref.ref(value)
    except TypeError:
        return False
    return True


def _log_metric(evaluator: Any, target: _Target, dataset_name: str, value: Any) -> None:
    import numbers

    from sparktrack.tracking import fluent

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return
    client = fluent.client()
    if target.users_run and client.get_run(target.run_id).info.status != "RUNNING":
        return  # the user has ended that run
    metric = evaluator.getMetricName()
    calls = _metric_calls[target.run_id]
    calls[metric] += 1
    numbered = metric if calls[metric] == 1 else f"{metric}-{calls[metric]}"
    client.log_metric(target.run_id, f"{numbered}_{dataset_name}", float(value))
