"""The model registry: registered models, versions, aliases, tags and stages as Delta rows."""

from __future__ import annotations

from typing import Any, Mapping

from sparktrack.registry.client import RegistryClient
from sparktrack.registry.entities import ModelVersion, RegisteredModel, Stage

__all__ = ["ModelVersion", "RegisteredModel", "RegistryClient", "Stage", "register_model",
           "resolve_models_uri"]


def register_model(model_uri: str, name: str, tags: Mapping[str, Any] | None = None) -> ModelVersion:
    """Register the model at ``model_uri`` (e.g. ``runs:/<run_id>/model``) as a new version of
    ``name`` in the default store (the one ``set_tracking_uri`` set)."""
    return RegistryClient().register_model(model_uri, name, tags)


def resolve_models_uri(model_uri: str) -> str:
    """The artifact location a ``models:/`` URI points at, in the default store."""
    return RegistryClient().resolve_models_uri(model_uri)
