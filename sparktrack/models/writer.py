"""What every flavor's ``log_model`` does around saving the model itself: check the arguments,
claim the model directory in the run, write the descriptor last (a directory with a descriptor
holds a whole model), and register the model when asked. The run and the client are given: the
fluent wrappers (``sparktrack.sklearn.log_model``...) pick them."""

from __future__ import annotations

import platform
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from sparktrack.entities import now_ms
from sparktrack.errors import InvalidNameError, InvalidValueError
from sparktrack.models.base import ModelInfo
from sparktrack.models.descriptor import DESCRIPTOR_FILE, ModelDescriptor
from sparktrack.models.errors import ModelExistsError
from sparktrack.models.uris import runs_uri
from sparktrack.engine.files import ArtifactRepository, check_relative
from sparktrack.tracking.validation import validate_id

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient


@dataclass(frozen=True)
class ModelTarget:
    """Where a model is being logged: the run, the path in it, and the model directory."""

    client: SparkTrackClient
    run_id: str
    artifact_path: str
    uri: str  # the model directory
    repository: ArtifactRepository

    @property
    def model_uri(self) -> str:
        return runs_uri(self.run_id, self.artifact_path)


def prepare(artifact_path: str, *, client: SparkTrackClient, run_id: str | Callable[[], str],
            output_column: str, registered_model_name: str | None) -> ModelTarget:
    """Check the arguments every flavor shares and claim the model directory in the run.

    ``run_id`` may be a function that returns the id: it is called once every argument passed its
    checks (the fluent API starts a run there, so bad arguments leave no empty run behind)."""
    if not isinstance(artifact_path, str) or not check_relative(artifact_path):
        raise InvalidNameError("artifact path", artifact_path,
                               "must name the model's directory inside the run, e.g. 'model'")
    path = check_relative(artifact_path)
    if not isinstance(output_column, str) or not output_column:
        raise InvalidValueError("output_column", output_column, "a non-empty column name")
    if registered_model_name is not None:
        from sparktrack.registry.client import validate_model_name

        validate_model_name(registered_model_name)  # fail before writing anything
    if callable(run_id):
        run_id = run_id()
    uri = client.get_artifact_uri(validate_id(run_id, "run"), path)  # RunNotFoundError for an unknown run
    repository = ArtifactRepository(uri, client.store.location.storage_options)
    if repository.exists(DESCRIPTOR_FILE):
        raise ModelExistsError(runs_uri(run_id, path))
    return ModelTarget(client, run_id, path, uri, repository)


def library_versions(**extra: str) -> dict[str, str]:
    from importlib.metadata import version

    return {"python": platform.python_version(), "pyspark": version("pyspark"), **extra}


def finish(target: ModelTarget, *, flavor: str, data_path: str, versions: dict[str, str],
           signature: list[dict[str, str]] | None, input_example: list[dict[str, Any]] | None,
           output_column: str, output_type: str, registered_model_name: str | None,
           feature_spec: dict[str, Any] | None = None) -> ModelInfo:
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
        feature_spec=feature_spec,
    )
    target.repository.write_text(descriptor.to_json(), DESCRIPTOR_FILE)
    version = None
    if registered_model_name is not None:
        version = target.client.register_model(target.model_uri, registered_model_name).version
    return ModelInfo(model_uri=target.model_uri, artifact_uri=target.uri, run_id=target.run_id,
                     flavor=flavor, descriptor=descriptor, registered_model_version=version)
