"""scikit-learn post-training metrics: a ``sklearn.metrics`` call on an autologged model's
predictions, or that model's ``score`` on other data, is logged to the model's run as
``{metric}_{variable name}`` (``accuracy_score_X_test``, ``LogisticRegression_score_X_test``),
with ``-2``, ``-3``... for repeats, as MLflow names them.

The variable name is the one the caller bound the data to when it called ``predict`` (or
``score``), found among the caller's locals (else ``unknown_dataset``). A prediction is found again
by identity, or through the array it is a view of, so a slice of a prediction (``pred[:100]``)
still belongs to its model, where MLflow loses it. Nothing is logged to a run the user started
and has ended; runs autolog made take metrics after their fit, as in MLflow.

Only ``sklearn.metrics.<name>`` as looked up after ``autolog()`` is patched: a function imported
before (``from sklearn.metrics import accuracy_score`` run earlier) is the original.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from typing import Any, Callable

from sparktrack.autologging import safety

FLAVOR = "sklearn_post_training"
UNKNOWN = "unknown_dataset"
METRICS = ("accuracy_score", "balanced_accuracy_score", "precision_score", "recall_score", "f1_score",
           "fbeta_score", "log_loss", "roc_auc_score", "average_precision_score", "hamming_loss",
           "jaccard_score", "matthews_corrcoef", "mean_squared_error", "root_mean_squared_error",
           "mean_absolute_error", "median_absolute_error", "mean_absolute_percentage_error", "r2_score",
           "explained_variance_score", "max_error", "mean_squared_log_error")
#: The argument of each metric that holds the predictions (else the second positional one).
_PREDICTION_ARGUMENTS = ("y_pred", "y_score", "y_prob", "y_proba", "probas_pred")

_models: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # fitted estimator -> run id
_predictions: dict[int, tuple[weakref.ref, str, str]] = {}  # id(result) -> (ref, run id, dataset name)
_counts: dict[tuple[str, str], int] = {}
_owned: set[str] = set()  # runs autolog made (they take metrics after they end)
_lock = threading.Lock()

def track(estimator: Any, run_id: str, owned: bool) -> None:
    """Follow ``estimator``'s predictions from now on; metrics on them go to ``run_id``."""
    _models[estimator] = run_id
    if owned:
        _owned.add(run_id)

def patch_all(classes: list[type]) -> None:
    import sklearn.metrics

    for cls in classes:
        for name in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
            if callable(getattr(cls, name, None)):
                safety.patch(FLAVOR, cls, name, _patched_predict)
        if callable(getattr(cls, "score", None)):
            safety.patch(FLAVOR, cls, "score", _patched_score)
    for name in METRICS:
        if callable(getattr(sklearn.metrics, name, None)):
            safety.patch(FLAVOR, sklearn.metrics, name, lambda original, name=name: _patched_metric(original, name))

def restore() -> None:
    safety.restore(FLAVOR)
    with _lock:
        _predictions.clear()
        _counts.clear()

def _caller_name(value: Any, frame: Any) -> str:
    """The name ``value`` is bound to among the locals of ``frame`` (the caller's)."""
    try:
        for name, bound in frame.f_locals.items():
            if bound is value and not name.startswith("_"):
                return name
    finally:
        del frame
    return UNKNOWN

def _patched_predict(original: Callable[..., Any]) -> Callable[..., Any]:
    def predict(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        in_fit = safety.depth("sklearn") > 0
        with safety.outermost(FLAVOR) as outermost, safety.outermost("sklearn"):  # fits inside are not runs
            result = original(self, X, *args, **kwargs)
        if outermost and not in_fit and self in _models:
            frame = inspect.currentframe().f_back
            safety.guarded("sklearn", True, lambda: _remember(result, _models[self], _caller_name(X, frame)))
        return result

    return predict

def _remember(result: Any, run_id: str, dataset: str) -> None:
    try:
        ref = weakref.ref(result)
    except TypeError:
        return
    with _lock:
        for key in [k for k, (r, _, _) in _predictions.items() if r() is None]:
            del _predictions[key]
        _predictions[id(result)] = (ref, run_id, dataset)

def _found(prediction: Any) -> tuple[str, str] | None:
    """(run id, dataset name) of the prediction ``prediction`` is, or is a view of."""
    seen = 0
    while prediction is not None and seen < 8:
        with _lock:
            held = _predictions.get(id(prediction))
        if held is not None and held[0]() is prediction:
            return held[1], held[2]
        prediction = getattr(prediction, "base", None)
        seen += 1
    return None

def _patched_metric(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    def metric(*args: Any, **kwargs: Any) -> Any:
        in_fit = safety.depth("sklearn") > 0
        with safety.outermost("sklearn"):  # a LabelEncoder fitted inside a metric is not a run
            result = original(*args, **kwargs)
        if not in_fit:
            prediction = next((kwargs[k] for k in _PREDICTION_ARGUMENTS if k in kwargs),
                              args[1] if len(args) > 1 else None)
            safety.guarded("sklearn", True, lambda: _log_metric(prediction, name, result))
        return result

    return metric

def _patched_score(original: Callable[..., Any]) -> Callable[..., Any]:
    def score(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        in_fit = safety.depth("sklearn") > 0
        with safety.outermost(FLAVOR) as outermost, safety.outermost("sklearn"):
            result = original(self, X, *args, **kwargs)
        if outermost and not in_fit and self in _models:
            frame = inspect.currentframe().f_back
            run_id, dataset = _models[self], _caller_name(X, frame)
            safety.guarded("sklearn", True,
                           lambda: _log(run_id, f"{type(self).__name__}_score_{dataset}", result))
        return result

    return score

def _log_metric(prediction: Any, name: str, value: Any) -> None:
    found = _found(prediction)
    if found is not None:
        _log(found[0], f"{name}_{found[1]}", value)

def _log(run_id: str, key: str, value: Any) -> None:
    import numbers

    from sparktrack.tracking import fluent

    if not isinstance(value, numbers.Number):
        return
    client = fluent.client()
    if run_id not in _owned and client.get_run(run_id).info.status != "RUNNING":
        return  # the user ended that run: log nothing there
    with _lock:
        count = _counts.get((run_id, key), 0) + 1
        _counts[run_id, key] = count
    client.log_metric(run_id, key if count == 1 else f"{key}-{count}", float(value))
