"""The scikit-learn flavor: an estimator pickled with cloudpickle, scored
on pandas directly and on Spark through Arrow (a pandas UDF over the input columns).

scikit-learn is imported inside the functions, so importing sparktrack never imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sparktrack.models.base import ModelInfo
from sparktrack.models.descriptor import DEFAULT_OUTPUT_COLUMN, SKLEARN
from sparktrack.models.errors import UnsupportedModelError
from sparktrack.models.pyfunc import PythonModel, load_python_model, log_python_model
from sparktrack.models.uris import locate

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient

__all__ = ["PythonModel", "load_model", "log_model"]


def log_model(estimator: Any, artifact_path: str, *, client: SparkTrackClient, run_id: str | Callable[[], str],
              input_example: Any = None, signature: Any = None, output_column: str = DEFAULT_OUTPUT_COLUMN,
              output_type: str | None = None, registered_model_name: str | None = None,
              feature_spec: dict[str, Any] | None = None) -> ModelInfo:
    """Pickle a fitted scikit-learn estimator (or Pipeline) into the run's artifacts.

    ``input_example`` (a pandas DataFrame) gives the signature when none is given and is scored
    once to learn the output type (``output_type`` overrides it; the default is ``double``)."""
    import sklearn
    from sklearn.base import BaseEstimator

    if not isinstance(estimator, BaseEstimator) or not callable(getattr(estimator, "predict", None)):
        raise UnsupportedModelError(
            "sklearn.log_model", estimator, "a fitted scikit-learn estimator with predict()",
            "Log Spark ML models with sparktrack.models.spark.log_model and other Python models "
            "with sparktrack.models.pyfunc.log_model.",
        )
    return log_python_model(estimator, artifact_path, flavor=SKLEARN, client=client, run_id=run_id,
                            versions={"sklearn": sklearn.__version__},
                            input_example=input_example, signature=signature,
                            output_column=output_column, output_type=output_type,
                            registered_model_name=registered_model_name, feature_spec=feature_spec)


def load_model(model_uri: str, *, client: SparkTrackClient) -> PythonModel:
    """Load a model logged by ``log_model``; ``.native`` is the estimator."""
    return load_python_model(locate(model_uri, client), (SKLEARN,), "sparktrack.sklearn.load_model")
