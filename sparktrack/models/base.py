"""What every flavor shares: ``ModelInfo`` (what log_model returns) and ``LoadedModel`` (what
load_model returns), whose ``predict`` checks the input once and then calls the flavor's hook."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparktrack.errors import InvalidValueError
from sparktrack.models.descriptor import ModelDescriptor
from sparktrack.models.signature import check_columns, check_schema, is_pandas_frame, is_spark_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """A logged model: ``model_uri`` (``runs:/<run_id>/<artifact_path>``) loads it back."""

    model_uri: str
    artifact_uri: str  # the model directory (any Hadoop URI)
    run_id: str
    flavor: str
    descriptor: ModelDescriptor
    registered_model_version: Any = None  # set when log_model(registered_model_name=...) ran


class LoadedModel(abc.ABC):
    """A model loaded from its directory. ``predict`` accepts a Spark DataFrame (and returns one,
    with the descriptor's output column added); Python flavors also accept a pandas DataFrame."""

    def __init__(self, native: Any, descriptor: ModelDescriptor, uri: str):
        self.native = native  # the flavor's own model: a PipelineModel, an sklearn estimator...
        self.descriptor = descriptor
        self.uri = uri  # the model directory it was loaded from

    @property
    def output_column(self) -> str:
        return self.descriptor.output_column

    @property
    def input_columns(self) -> list[str] | None:
        """The columns the model reads: its signature's, else those the model itself names (a
        Spark pipeline's stages, a scikit-learn estimator's ``feature_names_in_``), else None."""
        if self.descriptor.signature is not None:
            return self.descriptor.input_columns
        return self._derived_columns()

    def _derived_columns(self) -> list[str] | None:
        return None

    def predict(self, data: Any) -> Any:
        """Score ``data``: a Spark DataFrame gives the DataFrame with the output column added;
        a pandas DataFrame (Python flavors) gives the model's predictions."""
        where = f"the model at {self.uri}"
        if is_spark_frame(data):
            check_schema(data.schema, self.descriptor.signature, self.output_column, where,
                         required=self.input_columns)
            return self._predict_spark(data)
        if is_pandas_frame(data):
            check_columns([str(c) for c in data.columns], self.input_columns, None, where)
            return self._predict_pandas(data)
        raise InvalidValueError(f"{type(self).__name__}.predict data", data,
                                "a Spark DataFrame or a pandas DataFrame")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(flavor={self.descriptor.flavor!r}, uri={self.uri!r})"

    @abc.abstractmethod
    def _predict_spark(self, df: DataFrame) -> DataFrame: ...

    @abc.abstractmethod
    def _predict_pandas(self, frame: Any) -> Any: ...
