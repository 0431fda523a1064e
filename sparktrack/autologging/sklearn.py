"""scikit-learn autologging: every estimator's ``fit`` is tracked, with MLflow's names.

``autolog()`` patches ``fit`` on each class ``sklearn.utils.all_estimators()`` lists (and on
Pipeline and the searches), whether the class defines it or inherits it. Only the outermost fit is logged: a
Pipeline's steps, a search's inner fits and a ``super().fit`` run unpatched inside it.

For the outermost fit:
- With no active run, a run is created (tag ``sparktrack.autologging=sklearn``) and ended
  FINISHED, or FAILED when the fit raises or is interrupted.
- With an active run, it is logged into and left open; a second autologged fit in the same run
  goes to a nested child run instead (MLflow fails on "changing param values" there). With
  ``exclusive=True`` nothing is logged into a run the user started.
- Logged: ``get_params(deep=True)`` (a search's ``deep=False``, as MLflow), the tags ``estimator_name`` and ``estimator_class``, the
  training metrics (one ``predict`` pass, and one ``predict_proba`` pass for classifiers that
  have it), the fitted estimator itself as the model (with a signature for a pandas ``X``, and
  an input example when asked), and ``X`` as a dataset input (context ``train``).
- Afterwards, metrics on its predictions are logged to its run (``post_training``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sparktrack.autologging import post_training, safety

FLAVOR = "sklearn"
AUTOLOG_TAG = safety.AUTOLOG_TAG
#: Searches whose fit is patched although all_estimators() does not list them as such.
_EXTRA = ("sklearn.pipeline.Pipeline", "sklearn.model_selection.GridSearchCV",
          "sklearn.model_selection.RandomizedSearchCV")
_FIT_METHODS = ("fit",)


@dataclass(frozen=True)
class AutologConfig:
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_models: bool = True
    log_datasets: bool = True
    exclusive: bool = False
    silent: bool = False
    max_tuning_runs: int | None = 5
    log_post_training_metrics: bool = True
    training_metrics: bool = True
    registered_model_name: str | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)


_config: AutologConfig | None = None
_runs = safety.FitRuns(FLAVOR)


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True, log_models: bool = True,
            log_datasets: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            max_tuning_runs: int | None = 5, log_post_training_metrics: bool = True,
            registered_model_name: str | None = None, extra_tags: Mapping[str, Any] | None = None,
            training_metrics: bool = True) -> None:
    """Turn scikit-learn autologging on with these settings (again: new settings), or off with
    ``disable=True``, which puts every patched ``fit`` back."""
    global _config
    from sparktrack.errors import InvalidValueError

    safety.restore(FLAVOR)
    post_training.restore()
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
        log_input_examples=log_input_examples, log_model_signatures=log_model_signatures, log_models=log_models,
        log_datasets=log_datasets, exclusive=exclusive, silent=silent, max_tuning_runs=max_tuning_runs,
        log_post_training_metrics=log_post_training_metrics, training_metrics=training_metrics,
        registered_model_name=registered_model_name,
        extra_tags={str(k): str(v) for k, v in (extra_tags or {}).items()})
    classes = _estimator_classes()
    for cls in classes:
        for name in _FIT_METHODS:
            if callable(getattr(cls, name, None)):
                safety.patch(FLAVOR, cls, name, _patched_fit)
    if log_post_training_metrics:
        post_training.patch_all(classes)


def _estimator_classes() -> list[type]:
    import importlib

    from sklearn.utils import all_estimators

    classes = {cls for _, cls in all_estimators()}
    for path in _EXTRA:
        module, _, name = path.rpartition(".")
        classes.add(getattr(importlib.import_module(module), name))
    return sorted(classes, key=lambda c: (c.__module__, c.__qualname__))


def _patched_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = _config
        with safety.outermost(FLAVOR) as outermost:
            if config is None or not outermost:
                return original(self, *args, **kwargs)
            return _fit_and_log(config, original, self, args, kwargs)

    return fit


def _fit_and_log(config: AutologConfig, original: Callable[..., Any], estimator: Any, args: tuple,
                 kwargs: dict) -> Any:
    return safety.fit_in_run(
        _runs, config, lambda: original(estimator, *args, **kwargs),
        log=lambda client, run_id, owned, _: _log_fit(config, client, run_id, estimator, args, kwargs),
        track=lambda run_id, owned, _: post_training.track(estimator, run_id, owned))


def _log_fit(config: AutologConfig, client: Any, run_id: str, estimator: Any, args: tuple, kwargs: dict) -> None:
    from sparktrack.entities import Metric, Param, RunTag, now_ms
    from sparktrack.tracking.validation import MAX_PARAM_VALUE_LENGTH

    X, y = _fit_data(args, kwargs)
    search = hasattr(estimator, "cv_results_") and hasattr(estimator, "best_params_")
    # A search's own params only (as MLflow logs them): its estimator's are in best_<param>.
    found = estimator.get_params(deep=not search)
    params = [Param(key=str(k), value=str(v)[:MAX_PARAM_VALUE_LENGTH]) for k, v in found.items()]
    tags = [RunTag(key="estimator_name", value=type(estimator).__name__),
            RunTag(key="estimator_class", value=f"{type(estimator).__module__}.{type(estimator).__qualname__}")]
    metrics, plots = [], None
    if config.training_metrics and X is not None and y is not None:
        now = now_ms()
        found, plots = training_metrics(estimator, X, y, kwargs.get("sample_weight"))
        metrics = [Metric(key=k, value=v, timestamp=now, step=0) for k, v in found.items()]
    if search:
        params += [Param(key=f"best_{k}", value=str(v)[:MAX_PARAM_VALUE_LENGTH]) for k, v in estimator.best_params_.items()]
        metrics.append(Metric(key="best_cv_score", value=float(estimator.best_score_), timestamp=now_ms(), step=0))
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    if plots is not None:
        _log_plots(client, run_id, *plots)
    if config.log_datasets and X is not None:
        from sparktrack.tracking.datasets import pandas_input

        client.log_inputs(run_id, [pandas_input(X, context="train")])
    if search:
        _log_search(config, client, run_id, estimator)
    if config.log_models:
        best = getattr(estimator, "best_estimator_", None) if search else estimator
        if best is not None:
            _log_model(config, client, run_id, best, X)


def _log_search(config: AutologConfig, client: Any, run_id: str, search: Any) -> None:
    """A search's ``cv_results.csv``, and a child run for each of the best ``max_tuning_runs``
    candidates (by ``rank_test_score``) with its params and its mean_/std_/rank_ results."""
    import pandas as pd

    from sparktrack.entities import Metric, Param, RunStatus, now_ms

    results = pd.DataFrame(search.cv_results_)
    client.log_text(run_id, results.to_csv(index=False), "cv_results.csv")
    ranked = results.sort_values("rank_test_score", kind="stable") if "rank_test_score" in results else results
    chosen = ranked if config.max_tuning_runs is None else ranked.head(config.max_tuning_runs)
    run = client.get_run(run_id)
    now = now_ms()
    for _, row in chosen.iterrows():
        child = client.create_run(run.info.experiment_id, parent_run_id=run_id,
                                  tags={AUTOLOG_TAG: FLAVOR, **config.extra_tags})
        metrics = [Metric(key=str(k), value=float(v), timestamp=now, step=0) for k, v in row.items()
                   if str(k).startswith(("mean_", "std_", "rank_")) and isinstance(v, (int, float))]
        params = [Param(key=str(k), value=str(v)) for k, v in row["params"].items()]
        client.log_batch(child.info.run_id, metrics=metrics, params=params)
        client.set_terminated(child.info.run_id, RunStatus.FINISHED)


def _fit_data(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    return X, y


def training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any) -> tuple[dict[str, float], tuple | None]:
    """MLflow's training metrics: for classifiers accuracy, weighted precision, recall and F1,
    log loss and ROC AUC (with predict_proba); for regressors MSE, RMSE, MAE and R²; for both
    ``training_score``. One predict pass (and one predict_proba pass). And for a classifier, what
    its plots are drawn from (the same predictions: no second pass)."""
    from sklearn import metrics as m
    from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier, is_regressor

    found: dict[str, float] = {}
    plots = None
    if not callable(getattr(estimator, "predict", None)):
        return found, plots
    predicted = estimator.predict(X)
    weights = {"sample_weight": sample_weight}
    if is_classifier(estimator):
        probabilities = None
        found["training_accuracy_score"] = m.accuracy_score(y, predicted, **weights)
        for name, score in (("precision", m.precision_score), ("recall", m.recall_score), ("f1", m.f1_score)):
            found[f"training_{name}_score"] = score(y, predicted, average="weighted", zero_division=0, **weights)
        if callable(getattr(estimator, "predict_proba", None)):
            probabilities = estimator.predict_proba(X)
            found["training_log_loss"] = m.log_loss(y, probabilities, labels=estimator.classes_, **weights)
            if probabilities.shape[1] == 2:
                found["training_roc_auc"] = m.roc_auc_score(y, probabilities[:, 1], **weights)
            elif probabilities.shape[1] > 2:
                found["training_roc_auc"] = m.roc_auc_score(y, probabilities, multi_class="ovr",
                                                            labels=estimator.classes_, **weights)
        if type(estimator).score is ClassifierMixin.score:  # the accuracy, already computed
            found["training_score"] = found["training_accuracy_score"]
        plots = (estimator, y, predicted, probabilities, sample_weight)
    elif is_regressor(estimator):
        mse = m.mean_squared_error(y, predicted, **weights)
        found.update({"training_mean_squared_error": mse, "training_root_mean_squared_error": math.sqrt(mse),
                      "training_mean_absolute_error": m.mean_absolute_error(y, predicted, **weights),
                      "training_r2_score": m.r2_score(y, predicted, **weights)})
        if type(estimator).score is RegressorMixin.score:  # R², already computed
            found["training_score"] = found["training_r2_score"]
    if "training_score" not in found and callable(getattr(estimator, "score", None)):
        found["training_score"] = estimator.score(X, y, **({"sample_weight": sample_weight} if sample_weight is not None else {}))
    return {k: float(v) for k, v in found.items()}, plots


def _log_plots(client: Any, run_id: str, estimator: Any, y: Any, predicted: Any, probabilities: Any,
               sample_weight: Any) -> None:
    """MLflow's classifier plots, where matplotlib is installed (nothing, silently, where it is
    not): ``training_confusion_matrix.png``, and for two classes with predict_proba
    ``training_roc_curve.png`` and ``training_precision_recall_curve.png``."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    weights = {"sample_weight": sample_weight}
    plots = [("training_confusion_matrix.png",
              lambda ax: ConfusionMatrixDisplay.from_predictions(y, predicted, ax=ax, **weights))]
    if probabilities is not None and probabilities.shape[1] == 2:
        score, positive = probabilities[:, 1], estimator.classes_[1]
        plots += [("training_roc_curve.png",
                   lambda ax: RocCurveDisplay.from_predictions(y, score, pos_label=positive, ax=ax, **weights)),
                  ("training_precision_recall_curve.png",
                   lambda ax: PrecisionRecallDisplay.from_predictions(y, score, pos_label=positive, ax=ax, **weights))]
    for name, draw in plots:
        figure = Figure()  # not pyplot's: nothing global is kept or shown
        draw(figure.subplots())
        client.log_figure(run_id, figure, name)


def _log_model(config: AutologConfig, client: Any, run_id: str, estimator: Any, X: Any) -> None:
    import pandas as pd

    from sparktrack.models import sklearn as sklearn_models
    from sparktrack.models.signature import from_pandas

    frame = X if isinstance(X, pd.DataFrame) else None
    example = frame.head(5) if frame is not None and config.log_input_examples else None
    signature = from_pandas(frame.head(5)) if frame is not None and config.log_model_signatures else None
    sklearn_models.log_model(estimator, "model", client=client, run_id=run_id, input_example=example,
                             signature=signature, registered_model_name=config.registered_model_name)
