"""The Spark ML flavor: models saved natively (``model.write().save()``) inside the run's
artifact directory, and scored with ``transform`` — in the JVM, never through a Python UDF."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sparktrack.errors import InvalidValueError
from sparktrack.models import writer
from sparktrack.models.base import LoadedModel, ModelInfo
from sparktrack.models.descriptor import DEFAULT_OUTPUT_COLUMN, DEFAULT_OUTPUT_TYPE, SPARK
from sparktrack.models.errors import FlavorMismatchError, UnsupportedModelError
from sparktrack.models.signature import example_records, is_pandas_frame, is_spark_frame, signature_of
from sparktrack.models.uris import LocatedModel, locate
from sparktrack.engine.location import join_uri, spark_uri

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from sparktrack.client import SparkTrackClient

DATA_PATH = "sparkml"
_EXPECTED = "a fitted pyspark.ml Transformer, Model or PipelineModel"


class SparkModel(LoadedModel):
    """A logged Spark ML model. ``predict(df)`` is ``native.transform(df)``."""

    native: PipelineModel

    def _predict_spark(self, df: DataFrame) -> DataFrame:
        return self.native.transform(df)

    def _derived_columns(self) -> list[str] | None:
        return pipeline_input_columns(self.native)

    def _predict_pandas(self, frame: Any) -> Any:
        raise InvalidValueError(
            "SparkModel.predict data", frame,
            "a Spark DataFrame (a Spark ML model scores Spark data: convert a pandas frame with "
            "spark.createDataFrame(frame))",
        )


def log_model(model: Any, artifact_path: str, *, client: SparkTrackClient, run_id: str | Callable[[], str],
              input_example: Any = None, signature: Any = None, output_column: str = DEFAULT_OUTPUT_COLUMN,
              registered_model_name: str | None = None, feature_spec: dict[str, Any] | None = None) -> ModelInfo:
    """Save a fitted Spark ML model into the run's artifacts at ``artifact_path``.

    ``signature`` is a StructType or a DataFrame (its schema), else the schema of
    ``input_example`` (a Spark or pandas DataFrame, of which five rows are kept). A model that is
    not a PipelineModel is saved as a one-stage PipelineModel, so every logged Spark model loads
    the same way."""
    pipeline = _as_pipeline_model(model)
    columns = signature_of(signature, input_example)
    target = writer.prepare(artifact_path, client=client, run_id=run_id, output_column=output_column,
                            registered_model_name=registered_model_name)
    spark = client.spark
    schema = _input_schema(spark, signature, input_example)
    output_type = _output_type(pipeline, spark, schema, output_column)
    pipeline.write().overwrite().save(spark_uri(join_uri(target.uri, DATA_PATH)))
    return writer.finish(
        target, flavor=SPARK, data_path=DATA_PATH,
        versions=writer.library_versions(spark=spark.version),
        signature=columns,
        input_example=example_records(input_example),
        output_column=output_column, output_type=output_type,
        registered_model_name=registered_model_name, feature_spec=feature_spec,
    )


def load_model(model_uri: str, *, client: SparkTrackClient) -> SparkModel:
    """Load a model logged by ``log_model`` (any model URI ``sparktrack.models`` accepts)."""
    return load_located(locate(model_uri, client))


def load_located(located: LocatedModel) -> SparkModel:
    from pyspark.ml import PipelineModel

    descriptor = located.descriptor
    if descriptor.flavor != SPARK:
        raise FlavorMismatchError(located.uri, descriptor.flavor, [SPARK], "sparktrack.spark.load_model")
    located.client.spark  # the client's session (started if need be) is the one Spark ML loads with
    native = PipelineModel.load(spark_uri(join_uri(located.uri, descriptor.data_path)))
    return SparkModel(native, descriptor, located.uri)


#: Params naming the columns a stage reads, and those naming the columns it writes.
_INPUT_PARAMS = ("inputCol", "inputCols", "featuresCol")
_OUTPUT_PARAMS = ("outputCol", "outputCols", "predictionCol", "rawPredictionCol", "probabilityCol")


def pipeline_input_columns(pipeline: PipelineModel) -> list[str] | None:
    """The input columns a pipeline reads that no earlier stage writes, from its stages' params
    (``inputCol(s)``, ``featuresCol``). None when a stage's inputs cannot be known from its params
    (a SQLTransformer, a stage with none of them): then only the stages before it are known, and
    nothing is checked rather than something wrong."""
    from pyspark.ml import PipelineModel as Pipeline

    required: list[str] = []
    written: set[str] = set()
    stages = list(pipeline.stages)
    while stages:
        stage = stages.pop(0)
        if isinstance(stage, Pipeline):
            stages[:0] = list(stage.stages)
            continue
        reads = _param_columns(stage, _INPUT_PARAMS)
        if reads is None:
            return None
        required.extend(c for c in reads if c not in written and c not in required)
        written.update(_param_columns(stage, _OUTPUT_PARAMS) or [])
    return required


def _param_columns(stage: Any, names: tuple[str, ...]) -> list[str] | None:
    columns: list[str] | None = None
    for name in names:
        if stage.hasParam(name) and stage.isDefined(stage.getParam(name)):
            value = stage.getOrDefault(stage.getParam(name))
            columns = (columns or []) + ([value] if isinstance(value, str) else list(value))
    return columns


def _as_pipeline_model(model: Any) -> PipelineModel:
    from pyspark.ml import Estimator, PipelineModel, Transformer
    from pyspark.ml.util import MLWritable

    if isinstance(model, Estimator):
        raise UnsupportedModelError("spark.log_model", model, _EXPECTED,
                                    "It is an Estimator: log the model its fit() returns.")
    if not isinstance(model, Transformer):
        raise UnsupportedModelError(
            "spark.log_model", model, _EXPECTED,
            "Log scikit-learn models with sparktrack.models.sklearn.log_model and other Python "
            "models with sparktrack.models.pyfunc.log_model.",
        )
    pipeline = model if isinstance(model, PipelineModel) else PipelineModel(stages=[model])
    for stage in pipeline.stages:
        if not isinstance(stage, MLWritable):
            raise UnsupportedModelError(
                "spark.log_model", stage, "stages that Spark ML can save (MLWritable)",
                "Give the custom stage persistence (e.g. DefaultParamsReadable and "
                "DefaultParamsWritable), or log it with sparktrack.models.pyfunc.log_model.",
            )
    return pipeline


def _input_schema(spark: SparkSession, signature: Any, input_example: Any) -> StructType | None:
    from pyspark.sql.types import StructType

    if isinstance(signature, StructType):
        return signature
    for frame in (signature, input_example):
        if is_spark_frame(frame):
            return frame.schema
    for frame in (signature, input_example):
        if is_pandas_frame(frame):
            return spark.createDataFrame(frame.head(1)).schema
    return None


def _output_type(pipeline: PipelineModel, spark: SparkSession, schema: StructType | None,
                 output_column: str) -> str:
    """The output column's type, read from the schema ``transform`` gives the input schema
    (no job runs); ``double``, Spark ML's prediction type, when no schema is known."""
    if schema is None:
        return DEFAULT_OUTPUT_TYPE
    output = pipeline.transform(spark.createDataFrame([], schema)).schema
    if output_column not in output.fieldNames():
        raise InvalidValueError(
            "output_column", output_column,
            f"a column the model writes; its output columns are {output.fieldNames()}",
        )
    return output[output_column].dataType.simpleString()
