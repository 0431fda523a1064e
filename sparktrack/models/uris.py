"""Model URIs: ``runs:/<run_id>/<path>``, ``models:/...`` (through the registry) and plain
directory URIs or paths, each resolved to the model directory that holds sparktrack_model.json."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparktrack.errors import ArtifactNotFoundError, RunNotFoundError
from sparktrack.models.descriptor import DESCRIPTOR_FILE, ModelDescriptor
from sparktrack.models.errors import ModelNotFoundError, ModelURIError
from sparktrack.store.artifacts import URI_SCHEME, ArtifactRepository, check_relative, join_uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RUNS_PREFIX = "runs:/"
MODELS_PREFIX = "models:/"
_VERSION = re.compile(r"^([1-9][0-9]*|latest)$", re.IGNORECASE)


@dataclass(frozen=True)
class LocatedModel:
    """A model directory, its descriptor, and the session that can read it."""

    uri: str
    descriptor: ModelDescriptor
    spark: SparkSession


def runs_uri(run_id: str, artifact_path: str) -> str:
    return f"{RUNS_PREFIX}{run_id}/{artifact_path}"


def parse_runs_uri(model_uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<artifact_path>`` as (run_id, artifact_path)."""
    if not model_uri.startswith(RUNS_PREFIX):
        raise ModelURIError(model_uri, "does not start with 'runs:/'")
    run_id, _, path = model_uri[len(RUNS_PREFIX):].lstrip("/").partition("/")
    if not run_id:
        raise ModelURIError(model_uri, "has no run id after 'runs:/'")
    if not path.strip("/"):
        raise ModelURIError(model_uri, f"has no artifact path after the run id {run_id!r}")
    return run_id, check_relative(path)


def check_models_uri(model_uri: str) -> None:
    """Reject a ``models:/`` URI of none of the registry's forms before asking the registry."""
    if not model_uri.startswith(MODELS_PREFIX):
        raise ModelURIError(model_uri, "does not start with 'models:/'")
    rest = model_uri[len(MODELS_PREFIX):]
    name, at, alias = rest.partition("@")
    if at:
        if name and alias and "/" not in name and "/" not in alias:
            return
        raise ModelURIError(model_uri, "is not of the form models:/<name>@<alias>")
    name, slash, version = rest.partition("/")
    if not name:
        raise ModelURIError(model_uri, "has no model name after 'models:/'")
    if not slash or not _VERSION.match(version):
        raise ModelURIError(model_uri, "needs a version number, 'latest' or '@<alias>' after the name")


def resolve_model_uri(model_uri: str) -> str:
    """The URI of the model directory (it holds sparktrack_model.json) that ``model_uri`` names."""
    return locate(model_uri).uri


def locate(model_uri: str) -> LocatedModel:
    """Resolve ``model_uri`` and read its descriptor."""
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise ModelURIError(model_uri, "is not a non-empty string")
    if model_uri.startswith("runs:"):
        return _locate_run_model(model_uri)
    if model_uri.startswith("models:"):
        check_models_uri(model_uri)
        from sparktrack.registry import resolve_models_uri

        target = resolve_models_uri(model_uri)
        if not isinstance(target, str) or target.startswith("models:"):
            raise ModelURIError(model_uri, f"resolved to {target!r}, which is not a model location")
        return locate(target)
    from sparktrack.session import resolve_session

    return _read(model_uri, _directory_uri(model_uri), resolve_session())


def _locate_run_model(model_uri: str) -> LocatedModel:
    from sparktrack.tracking import fluent

    run_id, path = parse_runs_uri(model_uri)
    client = fluent.client()
    try:
        directory = client.get_artifact_uri(run_id, path)
    except RunNotFoundError:
        raise ModelNotFoundError(
            model_uri, f"no run with id {run_id!r} in the store {client.store_root}") from None
    return _read(model_uri, directory, client.spark)


def _directory_uri(model_uri: str) -> str:
    """A path on local disk becomes a ``file:`` URI; any other URI is left to Hadoop."""
    if not URI_SCHEME.match(model_uri) and os.path.exists(model_uri):
        return f"file:{os.path.abspath(model_uri)}"
    return model_uri.rstrip("/") or model_uri


def _read(model_uri: str, directory: str, spark: SparkSession) -> LocatedModel:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import IllegalArgumentException

    try:
        repository = ArtifactRepository(spark, directory)
        text = repository.read_text(DESCRIPTOR_FILE)
    except ArtifactNotFoundError:
        raise ModelNotFoundError(model_uri, f"{directory} has no {DESCRIPTOR_FILE}") from None
    except Py4JJavaError as error:
        detail = str(error.java_exception)
        if "UnsupportedFileSystemException" in detail or "No FileSystem for scheme" in detail:
            scheme = URI_SCHEME.match(model_uri)
            raise ModelURIError(
                model_uri, f"has a scheme ({scheme.group(1) if scheme else '?'}:) that no Hadoop "
                           "FileSystem serves") from None
        raise
    except IllegalArgumentException as error:
        if "URISyntaxException" in str(error):
            raise ModelURIError(model_uri, "is not a valid URI or path") from None
        raise
    return LocatedModel(directory, ModelDescriptor.from_json(text, join_uri(directory, DESCRIPTOR_FILE)),
                        spark)
