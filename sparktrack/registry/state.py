"""The registry's current state folded from its three tables' rows in the driver.

The ``registered_models`` and ``model_versions`` views compute the same in Spark, and their rules
are these: a model is its name reservation without ``renamed_from``, named by its latest rename;
of each kind of event the latest (by event time, then sequence) wins: a description, a deletion
or restore, a stage, each tag key and each alias (a delete removes the key). The last update is the
latest event of the model (or of the version). Rows are dicts with the views' column names, so
``RegisteredModel.from_row`` and ``ModelVersion.from_row`` read them as they read the views' rows.

A registry holds few rows (a model's every change is one event), so this is plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


_SETTERS = {"set_model_tag": "delete_model_tag", "set_alias": "delete_alias",
            "set_version_tag": "delete_version_tag"}
_DELETERS = {deleter: setter for setter, deleter in _SETTERS.items()}


@dataclass(frozen=True)
class RegistryState:
    models: dict[str, dict[str, Any]]  # model id -> a registered_models row
    versions: dict[tuple[str, int], dict[str, Any]]  # (model id, version) -> a model_versions row

    def model_named(self, name: str) -> dict[str, Any] | None:
        """The model now called ``name`` (deleted or not)."""
        return next((row for row in self.models.values() if row["name"] == name), None)

    def versions_of(self, model_id: str) -> list[dict[str, Any]]:
        """The model's versions that are not deleted, newest first."""
        found = [row for (owner, _), row in self.versions.items() if owner == model_id and not row["deleted"]]
        return sorted(found, key=lambda row: row["version"], reverse=True)


def fold(models: pa.Table, versions: pa.Table, events: pa.Table) -> RegistryState:
    """The state of the models in ``models`` (rows of registered_models) and of their versions,
    from the rows of model_versions and registry_events that concern them."""
    ordered = sorted(events.to_pylist(), key=lambda e: (e["event_time"], e["seq"]))
    model_state: dict[str, dict[str, Any]] = {}
    version_state: dict[tuple[str, int], dict[str, Any]] = {}
    for event in ordered:
        action, model_id = event["action"], event["model_id"]
        if event["version"] is None:
            state = model_state.setdefault(model_id, {"tags": {}, "aliases": {}})
        else:
            state = version_state.setdefault((model_id, event["version"]), {"tags": {}})
            model_state.setdefault(model_id, {"tags": {}, "aliases": {}})
        state["last_event"] = event["event_time"]
        if action in ("rename_model", "set_model_description", "set_version_description", "transition_stage"):
            state[action] = event["value"]
        elif action in ("delete_model", "restore_model", "delete_version", "restore_version"):
            state["deleted"] = action.startswith("delete")
        elif action in _SETTERS or action in _DELETERS:
            mapping = model_state[model_id]["aliases"] if "alias" in action else state["tags"]
            if action in _SETTERS:
                mapping[event["key"]] = event["value"]
            else:
                mapping.pop(event["key"], None)
        if event["version"] is not None:  # a version's events are the model's events too
            model_state[model_id]["last_event"] = event["event_time"]

    found: dict[str, dict[str, Any]] = {}
    for row in models.to_pylist():
        if row["renamed_from"] is not None:
            continue
        state = model_state.get(row["model_id"], {"tags": {}, "aliases": {}})
        found[row["model_id"]] = {
            "model_id": row["model_id"], "name": state.get("rename_model") or row["name"],
            "creation_time": row["creation_time"],
            "last_updated_time": max(row["creation_time"], state.get("last_event", row["creation_time"])),
            "description": state.get("set_model_description"), "deleted": state.get("deleted", False),
            "tags": dict(state["tags"]), "aliases": {k: int(v) for k, v in state["aliases"].items()},
            "user_id": row["user_id"],
        }
    aliases_of: dict[tuple[str, int], list[str]] = {}
    for model_id, model in found.items():
        for alias, number in model["aliases"].items():
            aliases_of.setdefault((model_id, number), []).append(alias)
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for row in versions.to_pylist():
        model = found.get(row["model_id"])
        if model is None:
            continue
        key = (row["model_id"], row["version"])
        state = version_state.get(key, {"tags": {}})
        rows[key] = {
            "name": model["name"], "version": row["version"], "model_id": row["model_id"],
            "source": row["source"], "run_id": row["run_id"], "creation_time": row["creation_time"],
            "last_updated_time": max(row["creation_time"], state.get("last_event", row["creation_time"])),
            "current_stage": state.get("transition_stage") or "None",
            "description": state.get("set_version_description"), "deleted": state.get("deleted", False),
            "status": "READY", "tags": dict(state["tags"]), "aliases": sorted(aliases_of.get(key, [])),
            "user_id": row["user_id"],
        }
    return RegistryState(models=found, versions=rows)
