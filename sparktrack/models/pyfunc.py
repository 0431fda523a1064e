"""The generic Python flavor: any object with ``predict(pandas.DataFrame)`` (or a plain function
of a pandas DataFrame), pickled with cloudpickle. A Spark DataFrame is scored through Arrow by a
pandas UDF over the model's input columns: only those travel to Python and only the prediction
comes back, the other columns stay in the JVM. The model travels to the executors inside the
scoring function.

The model's classes must be importable wherever it is loaded (classes defined in ``__main__`` or
inside a function are pickled by value and need nothing)."""

from __future__ import annotations

import pickle
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterator

from sparktrack.engine.location import quote_identifier
from sparktrack.errors import InvalidValueError
from sparktrack.models import writer
from sparktrack.models.base import LoadedModel, ModelInfo
from sparktrack.models.descriptor import (
    DEFAULT_OUTPUT_COLUMN,
    DEFAULT_OUTPUT_TYPE,
    PYTHON_FUNCTION,
    SKLEARN,
    ModelDescriptor,
)
from sparktrack.models.errors import FlavorMismatchError, UnsupportedModelError
from sparktrack.models import types
from sparktrack.models.signature import (
    check_columns,
    example_records,
    is_pandas_frame,
    signature_of,
    spark_type_of_values,
)
from sparktrack.models.uris import LocatedModel, locate

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from sparktrack.client import SparkTrackClient

DATA_PATH = "python_model.pkl"
PYTHON_FLAVORS = (PYTHON_FUNCTION, SKLEARN)


class PythonModel(LoadedModel):
    """A logged Python model (python_function or sklearn flavor).

    ``predict(pandas_frame)`` returns the model's predictions; ``predict(spark_df)`` returns
    ``spark_df`` with the output column added, computed by a pandas UDF."""

    def _predict_pandas(self, frame: pd.DataFrame) -> Any:
        columns = self.input_columns
        return _predict_function(self.native)(frame if columns is None else frame[columns])

    def _derived_columns(self) -> list[str] | None:
        """A scikit-learn estimator fitted on a DataFrame names its columns in ``feature_names_in_``."""
        names = getattr(self.native, "feature_names_in_", None)
        return None if names is None else [str(name) for name in names]

    def _predict_spark(self, df: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F
        from pyspark.sql.functions import pandas_udf

        columns = self.input_columns or [c for c in df.columns if c != self.output_column]
        scorer = pandas_udf(_batch_scorer(_predict_function(self.native)),  # type: ignore[call-overload]
                            returnType=self.descriptor.output_type)
        inputs = F.struct(*(F.col(quote_identifier(c)) for c in columns))
        return df.withColumn(self.output_column, scorer(inputs))


def log_model(python_model: Any, artifact_path: str, *, client: SparkTrackClient, run_id: str | Callable[[], str],
              input_example: Any = None, signature: Any = None, output_column: str = DEFAULT_OUTPUT_COLUMN,
              output_type: str | None = None, registered_model_name: str | None = None,
              feature_spec: dict[str, Any] | None = None) -> ModelInfo:
    """Pickle a Python model into the run's artifacts at ``artifact_path``.

    ``python_model`` has ``predict(pandas.DataFrame)`` returning an array or Series, or is itself
    such a function. ``input_example`` (a pandas DataFrame) gives the signature when none is
    given, and is scored once to learn the output type (``output_type`` overrides it; the default
    is ``double``)."""
    if not callable(getattr(python_model, "predict", None)) and not callable(python_model):
        raise UnsupportedModelError(
            "pyfunc.log_model", python_model,
            "an object with a predict(pandas.DataFrame) method, or a function of a pandas DataFrame",
        )
    return log_python_model(python_model, artifact_path, flavor=PYTHON_FUNCTION, client=client, run_id=run_id,
                            versions={}, input_example=input_example, signature=signature,
                            output_column=output_column, output_type=output_type,
                            registered_model_name=registered_model_name, feature_spec=feature_spec)


def load_model(model_uri: str, *, client: SparkTrackClient) -> PythonModel:
    """Load a python_function or sklearn model (any model URI ``sparktrack.models`` accepts)."""
    return load_python_model(locate(model_uri, client), PYTHON_FLAVORS, "sparktrack.pyfunc.load_model")


# -- shared with the sklearn flavor ----------------------------------------------------------------
def log_python_model(model: Any, artifact_path: str, *, flavor: str, client: SparkTrackClient, run_id: str | Callable[[], str],
                     versions: dict[str, str], input_example: Any, signature: Any, output_column: str,
                     output_type: str | None, registered_model_name: str | None,
                     feature_spec: dict[str, Any] | None = None) -> ModelInfo:
    import cloudpickle

    if input_example is not None and not is_pandas_frame(input_example):
        raise InvalidValueError("input_example", input_example, "a pandas DataFrame")
    columns = signature_of(signature, input_example)
    names = None if columns is None else [column["name"] for column in columns]
    if input_example is not None:
        check_columns([str(c) for c in input_example.columns], names, None, "the signature")
    if output_type is not None:
        output_type = types.canonical(output_type)
    elif input_example is not None:
        example = input_example if names is None else input_example[names]
        output_type = spark_type_of_values(_predict_function(model)(example.head(5)))
    else:
        output_type = DEFAULT_OUTPUT_TYPE
    target = writer.prepare(artifact_path, client=client, run_id=run_id, output_column=output_column,
                            registered_model_name=registered_model_name)
    target.repository.write_bytes(cloudpickle.dumps(model), DATA_PATH)
    return writer.finish(
        target, flavor=flavor, data_path=DATA_PATH,
        versions=writer.library_versions(cloudpickle=cloudpickle.__version__, **versions),
        signature=columns, input_example=example_records(input_example),
        output_column=output_column, output_type=output_type,
        registered_model_name=registered_model_name, feature_spec=feature_spec,
    )


def load_python_model(located: LocatedModel, flavors: tuple[str, ...], loader: str) -> PythonModel:
    descriptor = located.descriptor
    if descriptor.flavor not in flavors:
        raise FlavorMismatchError(located.uri, descriptor.flavor, flavors, loader)
    _warn_on_version_drift(descriptor)
    native = pickle.loads(located.repository.read_bytes(descriptor.data_path))
    return PythonModel(native, descriptor, located.uri)


def _predict_function(model: Any) -> Callable[[Any], Any]:
    predict = getattr(model, "predict", None)
    return predict if callable(predict) else model


def _warn_on_version_drift(descriptor: ModelDescriptor) -> None:
    import platform

    current = {"python": platform.python_version()}
    if descriptor.flavor == SKLEARN:
        import sklearn

        current["sklearn"] = sklearn.__version__
    for library, now in current.items():
        then = descriptor.library_versions.get(library)
        if then and then.split(".")[:2] != now.split(".")[:2]:
            warnings.warn(
                f"The model at {descriptor.run_id}/{descriptor.artifact_path} was logged with "
                f"{library} {then}; this process has {now}. Unpickling across versions may fail "
                "or change predictions.",
                stacklevel=3,
            )


def _batch_scorer(predict: Callable[[Any], Any]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function the pandas UDF runs on the executors: each Arrow batch of the input columns
    (one struct) arrives as a pandas DataFrame with those columns, and one prediction per row goes
    back. It is pickled by value with only what it closes over (the model's predict), so
    executors need no sparktrack."""
    import pandas as pd

    def score(batches):  # type: ignore[no-untyped-def] - hinted below, as pandas_udf reads hints
        import numpy as np

        for batch in batches:
            if len(batch) == 0:
                yield pd.Series([], dtype=object)
                continue
            values = np.asarray(predict(batch))
            if values.ndim == 2 and values.shape[1] == 1:
                values = values.ravel()
            if values.shape != (len(batch),):
                raise ValueError(
                    f"The model returned predictions of shape {values.shape} for {len(batch)} "
                    "rows; predict() must return one value per row."
                )
            yield pd.Series(values)

    score.__annotations__ = {"batches": Iterator[pd.DataFrame], "return": Iterator[pd.Series]}
    return score
