"""Model URIs: ``runs:/<run_id>/<path>``, ``models:/...`` (through the registry) and plain
directory URIs or paths, each resolved, through a client, to the model directory that holds
sparktrack_model.json. Nothing here needs Spark."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparktrack.engine.files import ArtifactRepository, check_relative
from sparktrack.engine.location import URI_SCHEME
from sparktrack.errors import ArtifactNotFoundError, InvalidValueError, RunNotFoundError
from sparktrack.models.descriptor import DESCRIPTOR_FILE, ModelDescriptor
from sparktrack.models.errors import ModelNotFoundError, ModelURIError

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient

RUNS_PREFIX = "runs:/"
MODELS_PREFIX = "models:/"
_VERSION = re.compile(r"^([1-9][0-9]*|latest)$", re.IGNORECASE)


@dataclass(frozen=True)
class LocatedModel:
    """A model directory, its descriptor, and the client that found it."""

    uri: str
    descriptor: ModelDescriptor
    client: SparkTrackClient

    @property
    def repository(self) -> ArtifactRepository:
        return ArtifactRepository(self.uri, self.client.store.location.storage_options)


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


def resolve_model_uri(model_uri: str, client: SparkTrackClient) -> str:
    """The URI of the model directory (it holds sparktrack_model.json) that ``model_uri`` names."""
    return locate(model_uri, client).uri


def locate(model_uri: str, client: SparkTrackClient) -> LocatedModel:
    """Resolve ``model_uri`` with ``client`` (its runs and its registry) and read its descriptor."""
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise ModelURIError(model_uri, "is not a non-empty string")
    if model_uri.startswith("runs:"):
        run_id, path = parse_runs_uri(model_uri)
        try:
            directory = client.get_artifact_uri(run_id, path)
        except RunNotFoundError:
            raise ModelNotFoundError(
                model_uri, f"no run with id {run_id!r} in the store {client.store_root}") from None
        return _read(model_uri, directory, client)
    if model_uri.startswith("models:"):
        check_models_uri(model_uri)
        target = client.resolve_models_uri(model_uri)
        if not isinstance(target, str) or target.startswith("models:"):
            raise ModelURIError(model_uri, f"resolved to {target!r}, which is not a model location")
        return locate(target, client)
    return _read(model_uri, _directory_uri(model_uri), client)


def _directory_uri(model_uri: str) -> str:
    """A path on local disk becomes a ``file:`` URI; any other URI is kept."""
    if not URI_SCHEME.match(model_uri):
        return f"file:{os.path.abspath(os.path.expanduser(model_uri))}"
    return model_uri.rstrip("/") or model_uri


def _read(model_uri: str, directory: str, client: SparkTrackClient) -> LocatedModel:
    try:
        text = ArtifactRepository(directory, client.store.location.storage_options).read_text(DESCRIPTOR_FILE)
    except ArtifactNotFoundError:
        raise ModelNotFoundError(model_uri, f"{directory} has no {DESCRIPTOR_FILE}") from None
    except OSError as error:  # the storage is unreachable or refuses: credentials, an unknown bucket
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelNotFoundError(model_uri, f"{directory} cannot be read ({detail})") from None
    except InvalidValueError:
        scheme = URI_SCHEME.match(model_uri)
        raise ModelURIError(model_uri, f"has a scheme ({scheme.group(1) if scheme else '?'}:) that no "
                                       "filesystem serves (pyarrow.fs: local, s3, s3a, gs, abfss, hdfs)") from None
    from sparktrack.engine.location import join_uri

    return LocatedModel(directory, ModelDescriptor.from_json(text, join_uri(directory, DESCRIPTOR_FILE)), client)
