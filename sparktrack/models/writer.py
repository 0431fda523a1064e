"""What every flavor's ``log_model`` does around saving the model itself: pick the run, claim the
model directory, write the descriptor last (a directory with a descriptor holds a whole model),
and register the model when asked."""

from __future__ import annotations

import platform
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparktrack.entities import now_ms
from sparktrack.errors import ArtifactNotFoundError, InvalidNameError, InvalidValueError
from sparktrack.models.base import ModelInfo
from sparktrack.models.descriptor import DESCRIPTOR_FILE, ModelDescriptor
from sparktrack.models.errors import ModelExistsError
from sparktrack.models.uris import runs_uri
from sparktrack.store.artifacts import ArtifactRepository, check_relative

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.tracking.client import TrackingClient


@dataclass(frozen=True)
class ModelTarget:
    """Where a model is being logged: the run, the path in it, and the model directory."""

    client: TrackingClient
    run_id: str
    artifact_path: str
    uri: str  # the model directory
    repository: ArtifactRepository

    @property
    def spark(self) -> SparkSession:
        return self.client.spark

    @property
    def model_uri(self) -> str:
        return runs_uri(self.run_id, self.artifact_path)


def prepare(artifact_path: str, *, run_id: str | None, output_column: str,
            registered_model_name: str | None) -> ModelTarget:
    """Check the arguments every flavor shares and claim the model directory.

    The run is ``run_id`` when given, else the active run, else a new run (as the fluent API
    starts one on the first log call)."""
    from sparktrack.tracking import fluent

    if not isinstance(artifact_path, str) or not check_relative(artifact_path):
        raise InvalidNameError("artifact path", artifact_path,
                               "must name the model's directory inside the run, e.g. 'model'")
    path = check_relative(artifact_path)
    if not isinstance(output_column, str) or not output_column:
        raise InvalidValueError("output_column", output_column, "a non-empty column name")
    if registered_model_name is not None:
        from sparktrack.registry.client import validate_model_name

        validate_model_name(registered_model_name)  # fail before writing anything
    client = fluent.client()
    if run_id is None:
        active = fluent.active_run()
        run_id = active.info.run_id if active is not None else fluent._run_id()
    uri = client.get_artifact_uri(run_id, path)  # raises RunNotFoundError for an unknown run
    repository = ArtifactRepository(client.spark, uri)
    try:
        repository.read_text(DESCRIPTOR_FILE)
    except ArtifactNotFoundError:
        pass
    else:
        raise ModelExistsError(runs_uri(run_id, path))
    return ModelTarget(client, run_id, path, uri, repository)


def library_versions(**extra: str) -> dict[str, str]:
    import pyspark

    return {"python": platform.python_version(), "pyspark": pyspark.__version__, **extra}


def finish(target: ModelTarget, *, flavor: str, data_path: str, versions: dict[str, str],
           signature: list[dict[str, str]] | None, input_example: list[dict[str, Any]] | None,
           output_column: str, output_type: str,
           registered_model_name: str | None) -> ModelInfo:
    """Write the descriptor (after the model data) and register the model if asked."""
    descriptor = ModelDescriptor(
        flavor=flavor,
        model_uuid=uuid.uuid4().hex,
        run_id=target.run_id,
        artifact_path=target.artifact_path,
        created_at=now_ms(),
        data_path=data_path,
        library_versions=versions,
        signature=signature,
        input_example=input_example,
        output_column=output_column,
        output_type=output_type,
    )
    target.repository.write_text(descriptor.to_json(), DESCRIPTOR_FILE)
    version = None
    if registered_model_name is not None:
        from sparktrack.registry import register_model

        version = register_model(target.model_uri, registered_model_name).version
    return ModelInfo(model_uri=target.model_uri, artifact_uri=target.uri, run_id=target.run_id,
                     flavor=flavor, descriptor=descriptor, registered_model_version=version)
