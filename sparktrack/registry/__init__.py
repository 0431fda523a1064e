"""The model registry: registered models, versions, aliases, tags and stages as Delta rows."""

from __future__ import annotations

from typing import Any, Mapping

from sparktrack.registry.client import RegistryClient
from sparktrack.registry.entities import ModelVersion, RegisteredModel, Stage

__all__ = ["ModelVersion", "RegisteredModel", "RegistryClient", "Stage", "register_model",
           "resolve_models_uri"]


def _client() -> RegistryClient:
    from sparktrack.tracking import fluent

    tracking = fluent.client()
    return RegistryClient(tracking.store_root, tracking.spark, tracking.database)


def register_model(model_uri: str, name: str, tags: Mapping[str, Any] | None = None) -> ModelVersion:
    """Register the model at ``model_uri`` (e.g. ``runs:/<run_id>/model``) as a new version of
    ``name`` in the fluent API's store."""
    return _client().register_model(model_uri, name, tags)


def resolve_models_uri(model_uri: str) -> str:
    """The artifact location a ``models:/`` URI points at, in the fluent API's store."""
    return _client().resolve_models_uri(model_uri)
