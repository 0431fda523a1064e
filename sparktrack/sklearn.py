"""``sparktrack.sklearn``: log and load scikit-learn models with the fluent API's client and active
run (see ``sparktrack.models.sklearn`` for the flavor, which takes a client)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparktrack._flavors import client_and_run, loaded
from sparktrack.models.descriptor import DEFAULT_OUTPUT_COLUMN

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient
    from sparktrack.models.base import ModelInfo
    from sparktrack.models.pyfunc import PythonModel

__all__ = ["autolog", "load_model", "log_model"]


def autolog(**flags: Any) -> None:
    """Track every scikit-learn ``fit``: see ``sparktrack.autologging.sklearn.autolog`` for the
    flags (MLflow's names and defaults)."""
    from sparktrack.autologging import sklearn

    sklearn.autolog(**flags)


def log_model(estimator: Any, artifact_path: str, *, input_example: Any = None, signature: Any = None,
              output_column: str = DEFAULT_OUTPUT_COLUMN, output_type: str | None = None,
              registered_model_name: str | None = None, run_id: str | None = None,
              client: SparkTrackClient | None = None) -> ModelInfo:
    """Pickle a fitted scikit-learn estimator (or Pipeline) into a run's artifacts: ``run_id``,
    else the active run, else a new run (with ``client``, ``run_id`` is required)."""
    from sparktrack.models import sklearn

    client, run_id = client_and_run(client, run_id)
    return sklearn.log_model(estimator, artifact_path, client=client, run_id=run_id, input_example=input_example,
                             signature=signature, output_column=output_column, output_type=output_type,
                             registered_model_name=registered_model_name)


def load_model(model_uri: str, *, client: SparkTrackClient | None = None) -> PythonModel:
    """Load a model logged by ``log_model``; ``.native`` is the estimator."""
    from sparktrack.models import sklearn

    return sklearn.load_model(model_uri, client=loaded(client))
