"""``sparktrack.spark``: log and load Spark ML models with the fluent API's client and active run
(see ``sparktrack.models.spark``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparktrack._flavors import client_and_run, loaded
from sparktrack.models.descriptor import DEFAULT_OUTPUT_COLUMN

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient
    from sparktrack.models.base import ModelInfo
    from sparktrack.models.spark import SparkModel

__all__ = ["autolog", "load_model", "log_model"]


def autolog(**flags: Any) -> None:
    """Track every Spark ML ``fit`` (and ``Evaluator.evaluate`` on its predictions): see
    ``sparktrack.autologging.spark.autolog`` for the flags (MLflow's names and defaults)."""
    from sparktrack.autologging import spark

    spark.autolog(**flags)


def log_model(model: Any, artifact_path: str, *, input_example: Any = None, signature: Any = None,
              output_column: str = DEFAULT_OUTPUT_COLUMN, registered_model_name: str | None = None,
              run_id: str | None = None, client: SparkTrackClient | None = None) -> ModelInfo:
    """Save a fitted Spark ML model with Spark's own writer into a run's artifacts: ``run_id``,
    else the active run, else a new run (with ``client``, ``run_id`` is required)."""
    from sparktrack.models import spark

    client, run_id = client_and_run(client, run_id)
    return spark.log_model(model, artifact_path, client=client, run_id=run_id, input_example=input_example,
                           signature=signature, output_column=output_column,
                           registered_model_name=registered_model_name)


def load_model(model_uri: str, *, client: SparkTrackClient | None = None) -> SparkModel:
    """Load a model logged by ``log_model``."""
    from sparktrack.models import spark

    return spark.load_model(model_uri, client=loaded(client))
