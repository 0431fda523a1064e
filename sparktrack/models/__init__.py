"""Logged models: Spark ML (saved natively, scored with ``transform``), scikit-learn and generic
Python models (pickled, scored on Spark through Arrow with a pandas UDF).

    from sparktrack.models import spark as spark_models, load_model

    info = spark_models.log_model(pipeline_model, "model", client=client, run_id=run_id,
                                  input_example=train_df)
    scored = load_model(info.model_uri, client=client).predict(table_df)

(``sparktrack.spark.log_model`` and friends are the same with the fluent API's client and active
run.)

Each logged model is a directory in the run's artifacts holding ``sparktrack_model.json`` (its
``ModelDescriptor``) and the saved model (``sparkml/`` or ``python_model.pkl``). The flavor
modules (``spark``, ``sklearn``, ``pyfunc``) are imported on first use, so importing this package
imports neither pyspark.ml nor scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sparktrack.models.base import LoadedModel, ModelInfo
from sparktrack.models.descriptor import DESCRIPTOR_FILE, FLAVORS, ModelDescriptor
from sparktrack.models.uris import resolve_model_uri

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient
    from sparktrack.models.pyfunc import PythonModel
    from sparktrack.models.spark import SparkModel

__all__ = [
    "DESCRIPTOR_FILE",
    "FLAVORS",
    "LoadedModel",
    "ModelDescriptor",
    "ModelInfo",
    "load_model",
    "pyfunc",
    "resolve_model_uri",
    "sklearn",
    "spark",
]

_FLAVOR_MODULES = ("spark", "sklearn", "pyfunc")


def load_model(model_uri: str, *, client: SparkTrackClient) -> SparkModel | PythonModel:
    """Load the model at ``model_uri`` with the flavor its descriptor names; ``client`` resolves
    ``runs:/`` and ``models:/`` URIs.

    ``model_uri`` is ``runs:/<run_id>/<artifact_path>``, ``models:/<name>/<version>``,
    ``models:/<name>/latest``, ``models:/<name>@<alias>``, or a directory URI or path that holds
    sparktrack_model.json."""
    from sparktrack.models.descriptor import SPARK
    from sparktrack.models.uris import locate

    located = locate(model_uri, client)
    if located.descriptor.flavor == SPARK:
        from sparktrack.models.spark import load_located

        return load_located(located)
    from sparktrack.models.pyfunc import PYTHON_FLAVORS, load_python_model

    return load_python_model(located, PYTHON_FLAVORS, "sparktrack.load_model")


def __getattr__(name: str) -> Any:
    if name in _FLAVOR_MODULES:
        return importlib.import_module(f"sparktrack.models.{name}")
    raise AttributeError(f"module 'sparktrack.models' has no attribute {name!r}")
