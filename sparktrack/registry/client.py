"""``RegistryClient``: MLflow's model registry operations, over a registry store.

The rules live here once: names and aliases are validated, the promotion policy is checked, and
every change is recorded as an event (``registry_audit``), the source of the current state. The
store (see registry.store) claims names and version numbers and folds the events, now or "as of"
any time. No JVM is involved.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack import defaults, search, settings
from sparktrack.engine.location import join_uri
from sparktrack.entities import now_ms
from sparktrack.errors import (
    AlreadyExistsError,
    InvalidNameError,
    InvalidValueError,
    PromotionBlockedError,
    RegisteredModelNotFoundError,
)
from sparktrack.registry.entities import ModelVersion, RegisteredModel, Stage
from sparktrack.registry.state import RegistryState
from sparktrack.registry.store import DeltaRegistryStore, RegistryEvent
from sparktrack.search.schemas import NUMBER, STRING
from sparktrack.store.store import open_store
from sparktrack.tracking import context, validation
from sparktrack.tracking.store import DeltaTrackingStore

#: The id columns a registry search keeps beside the columns it reads.
_IDS = {"model_id": STRING, "version": NUMBER}

if TYPE_CHECKING:
    import pandas as pd

_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+){0,2}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,254}$")
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))$")
MAX_NAME_LENGTH = 256


def validate_model_name(name: object) -> str:
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME.match(name):
        raise InvalidNameError(
            "registered model name", name,
            "use letters, digits, '_' and '-', with up to three dot-separated parts as in Unity "
            "Catalog ('churn_model' or 'main.ml.churn_model'), at most 256 characters",
        )
    return name


def validate_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or re.fullmatch(r"[vV]\d+|latest", alias):
        raise InvalidNameError(
            "alias", alias, "start with a letter or '_', then letters, digits, '_' or '-'; "
            "'latest' and 'v<number>' are reserved",
        )
    return alias


class RegistryClient:
    """Registry operations on a store root: ``store``, else the one ``set_tracking_uri`` set,
    else the ``store`` setting (``SPARKTRACK_STORE``)."""

    def __init__(self, store: str | None = None, policy: Mapping[str, Mapping[str, str]] | None = None):
        opened = open_store(store if store is not None else defaults.store())
        self.store_root = opened.root
        self._store = opened.shared(DeltaRegistryStore)
        self._runs = opened.shared(DeltaTrackingStore)  # model sources given as runs:/ URIs, lineage
        self._policy = dict(policy) if policy is not None else settings.PROMOTION_POLICY.get()

    # -- reads ----------------------------------------------------------------------------------
    def _state(self, as_of: Any = None) -> RegistryState:
        return self._store.state(self._as_of(as_of))

    def _as_of(self, as_of: Any) -> dt.datetime | None:
        """A datetime, an ISO-8601 string, or an int: a version of the audit table (registry_audit)."""
        if as_of is None or isinstance(as_of, dt.datetime):
            return as_of if as_of is None or as_of.tzinfo else as_of.replace(tzinfo=dt.timezone.utc)
        if isinstance(as_of, str):
            try:
                return self._as_of(dt.datetime.fromisoformat(as_of))
            except ValueError:
                raise InvalidValueError("as_of", as_of, "an ISO-8601 time such as '2026-11-01T12:00:00'") from None
        if isinstance(as_of, int) and not isinstance(as_of, bool) and as_of >= 0:
            when = self._store.event_log_time(as_of)
            if when is None:
                raise InvalidValueError("as_of", as_of, "a version of sparktrack.registry_audit that exists")
            return when
        raise InvalidValueError("as_of", as_of, "a datetime, an ISO-8601 string or a store version (int)")

    def _model_row(self, name: str, as_of: Any = None, allow_deleted: bool = False) -> dict[str, Any]:
        validate_model_name(name)
        model = self._state(as_of).model_named(name)
        if model is None or (model["deleted"] and not allow_deleted):
            hint = " (it is deleted; restore_registered_model() brings it back)" if model else ""
            raise RegisteredModelNotFoundError(
                f"Registered model {name!r}{hint}",
                "List models with search_registered_models() or `sparktrack models list`.",
            )
        return model

    def _model_and_version(self, name: str, version: int | str, as_of: Any = None) -> tuple[dict, ModelVersion]:
        number = _version_number(version)
        validate_model_name(name)
        then = self._state(as_of)
        model = then.model_named(name)
        if model is None or model["deleted"]:
            self._model_row(name, as_of)  # raises, naming why
        row = then.versions.get((model["model_id"], number))
        if row is None or row["deleted"]:
            raise RegisteredModelNotFoundError(
                f"Version {number} of registered model {name!r}",
                "List its versions with search_model_versions(\"name = '...'\").",
            )
        return model, ModelVersion.from_row(row)

    def get_registered_model(self, name: str, as_of: Any = None) -> RegisteredModel:
        return RegisteredModel.from_row(self._model_row(name, as_of))

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int = validation.SEARCH_MAX_RESULTS_DEFAULT,
                                 order_by: Sequence[str] | None = None) -> list[RegisteredModel]:
        """MLflow's filter grammar over ``name``, ``description``, ``tags.<key>`` and the times."""
        query = search.bind(validation.validate_filter(filter_string), validation.validate_order_by(order_by),
                            search.REGISTERED_MODELS)
        limit = validation.validate_max_results(max_results)
        models = [row for row in self._state().models.values() if not row["deleted"]]
        matches = search.arrow.apply(search.arrow.rows_table(models, search.REGISTERED_MODELS, query.keys, _IDS), query)
        by_id = {row["model_id"]: row for row in models}
        return [RegisteredModel.from_row(by_id[i]) for i in matches["model_id"].to_pylist()[:limit]]

    def get_model_version(self, name: str, version: int | str, as_of: Any = None) -> ModelVersion:
        return self._model_and_version(name, version, as_of)[1]

    def get_model_version_by_alias(self, name: str, alias: str, as_of: Any = None) -> ModelVersion:
        model = self._model_row(name, as_of)
        aliases = dict(model["aliases"])
        if alias not in aliases:
            raise RegisteredModelNotFoundError(
                f"Alias {alias!r} of registered model {name!r}",
                f"Its aliases are {sorted(aliases) or 'none'}; set one with "
                "set_registered_model_alias(name, alias, version).",
            )
        return self.get_model_version(name, aliases[alias], as_of)

    def _live_versions(self, name: str, as_of: Any = None) -> list[ModelVersion]:
        """The versions of the model called ``name`` that are not deleted, newest first."""
        then = self._state(as_of)
        model = then.model_named(validate_model_name(name))
        return [] if model is None else [ModelVersion.from_row(row) for row in then.versions_of(model["model_id"])]

    def get_model_versions(self, name: str, as_of: Any = None) -> list[ModelVersion]:
        """Every version of the model (not deleted), newest first, as the registry was at
        ``as_of`` (None: now)."""
        self._model_row(name, as_of)  # an unknown model is an error
        return self._live_versions(name, as_of)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """The newest version in each stage (all stages when ``stages`` is None)."""
        latest: dict[str, ModelVersion] = {}
        for version in sorted(self._live_versions(name), key=lambda v: v.version):
            latest[version.current_stage] = version
        wanted = [_stage(s).value for s in stages] if stages else list(latest)
        return [latest[s] for s in wanted if s in latest]

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int = validation.SEARCH_MAX_RESULTS_DEFAULT,
                              order_by: Sequence[str] | None = None) -> list[ModelVersion]:
        """MLflow's filter grammar over ``name``, ``version_number``, ``run_id``, ``source``,
        ``current_stage``, ``user_id``, ``tags.<key>`` and the times."""
        query = search.bind(validation.validate_filter(filter_string), validation.validate_order_by(order_by),
                            search.MODEL_VERSIONS)
        limit = validation.validate_max_results(max_results)
        versions = [row for row in self._state().versions.values() if not row["deleted"]]
        matches = search.arrow.apply(search.arrow.rows_table(versions, search.MODEL_VERSIONS, query.keys, _IDS), query)
        by_key = {(row["model_id"], row["version"]): row for row in versions}
        keys = zip(matches["model_id"].to_pylist()[:limit], matches["version"].to_pylist()[:limit])
        return [ModelVersion.from_row(by_key[key]) for key in keys]

    def resolve_models_uri(self, model_uri: str) -> str:
        """The artifact location of ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
        ``models:/<name>/latest``."""
        return self.get_model_version_by_uri(model_uri).source

    def get_model_version_by_uri(self, model_uri: str) -> ModelVersion:
        """The version that ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
        ``models:/<name>/latest`` names now."""
        match = _MODELS_URI.match(model_uri) if isinstance(model_uri, str) else None
        if match is None:
            raise InvalidNameError(
                "model URI", model_uri,
                "use models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/latest",
            )
        name, version, alias = match["name"], match["version"], match["alias"]
        if alias is not None:
            return self.get_model_version_by_alias(name, alias)
        if version == "latest":
            versions = self._live_versions(name)
            if not versions:
                self._model_row(name)
                raise RegisteredModelNotFoundError(f"A version of registered model {name!r}",
                                                   "Register one with register_model(model_uri, name).")
            return versions[0]
        return self.get_model_version(name, version)

    # -- writes ---------------------------------------------------------------------------------
    def _events(self, model_id: str, name: str, *changes: dict[str, Any]) -> None:
        """Record changes of one model (``action=..., version=..., key=..., value=..., before=...,
        after=...`` each) in one commit."""
        user = context.current_user()
        self._store.append_events([RegistryEvent(
            model_id=model_id, name=name, user_id=user, action=c["action"], version=c.get("version"),
            key=c.get("key"), value=c.get("value"), before=_json(c.get("before")), after=_json(c.get("after")),
        ) for c in changes])

    def create_registered_model(self, name: str, tags: Mapping[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        tag_values = validation.validate_tags(tags)
        validate_model_name(name)
        model_id = uuid.uuid4().hex
        if not self._store.reserve_name(name, model_id=model_id, user_id=context.current_user(), renamed_from=None):
            raise AlreadyExistsError("Registered model", name,
                                     "Register a new version with register_model(), or pick another name.")
        changes = [{"action": "create_model", "after": {"name": name, "description": description}}]
        if description is not None:
            changes.append({"action": "set_model_description", "value": description, "after": description})
        changes += [{"action": "set_model_tag", "key": k, "value": v, "after": v} for k, v in tag_values.items()]
        self._events(model_id, name, *changes)
        now = now_ms()  # what a read would fold from these rows, without reading them back
        return RegisteredModel(name=name, model_id=model_id, creation_timestamp=now, last_updated_timestamp=now,
                               description=description, tags=tag_values)

    def _get_or_create(self, name: str) -> str:
        """The id of the model named ``name``, created if missing (safe under concurrency)."""
        try:
            return self._model_row(name)["model_id"]
        except RegisteredModelNotFoundError:
            try:
                return self.create_registered_model(name).model_id
            except AlreadyExistsError:  # another process created it first
                return self._model_row(name)["model_id"]

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        model = self._model_row(name)
        self._events(model["model_id"], name, {"action": "set_model_description", "value": description,
                                               "before": model["description"], "after": description})
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        validate_model_name(new_name)
        model = self._model_row(name)
        if not self._store.reserve_name(new_name, model_id=model["model_id"], user_id=context.current_user(),
                                        renamed_from=name):
            raise AlreadyExistsError("Registered model name", new_name,
                                     "Names stay reserved once used; pick another name.")
        self._events(model["model_id"], new_name, {"action": "rename_model", "key": "name", "value": new_name,
                                                   "before": name, "after": new_name})
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        """Soft delete: the model disappears from reads; its rows and history stay."""
        model = self._model_row(name)
        self._events(model["model_id"], name, {"action": "delete_model", "before": "active", "after": "deleted"})

    def restore_registered_model(self, name: str) -> RegisteredModel:
        model = self._model_row(name, allow_deleted=True)
        self._events(model["model_id"], name, {"action": "restore_model", "before": "deleted", "after": "active"})
        return self.get_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        validation.validate_key(key, "tag")
        text = validation.tag_value(key, value)
        model = self._model_row(name)
        self._events(model["model_id"], name, {"action": "set_model_tag", "key": key, "value": text,
                                               "before": model["tags"].get(key), "after": text})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        model = self._model_row(name)
        self._events(model["model_id"], name, {"action": "delete_model_tag", "key": key,
                                               "before": model["tags"].get(key)})

    def register_model(self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None,
                       description: str | None = None) -> ModelVersion:
        """A new version of ``name`` (created if missing) for the model at ``model_uri``.
        Versions are consecutive and unique across processes (see DeltaRegistryStore.allocate_version)."""
        source, run_id = self._source(model_uri)
        tag_values = validation.validate_tags(tags)
        model_id = self._get_or_create(validate_model_name(name))
        version = self._store.allocate_version(model_id, source=source, run_id=run_id,
                                               user_id=context.current_user())
        changes = [{"action": "create_version", "version": version,
                    "after": {"source": source, "run_id": run_id, "model_uri": model_uri}}]
        if description is not None:
            changes.append({"action": "set_version_description", "version": version, "value": description,
                            "after": description})
        changes += [{"action": "set_version_tag", "version": version, "key": k, "value": v, "after": v}
                    for k, v in tag_values.items()]
        self._events(model_id, name, *changes)
        now = now_ms()  # what a read would fold from these rows, without reading them back
        return ModelVersion(name=name, version=version, source=source, run_id=run_id, creation_timestamp=now,
                            last_updated_timestamp=now, description=description, tags=tag_values,
                            user_id=context.current_user())

    def _source(self, model_uri: str) -> tuple[str, str | None]:
        from sparktrack.engine.files import check_relative

        if not isinstance(model_uri, str) or not model_uri:
            raise InvalidValueError("model_uri", model_uri, "a model URI such as runs:/<run_id>/model")
        match = re.match(r"^runs:/([^/]+)/(.+)$", model_uri)
        if match:
            run_id, path = match.groups()
            run = self._runs.get_run(validation.validate_id(run_id, "run"))
            return join_uri(run.info.artifact_uri, check_relative(path)), run_id
        if model_uri.startswith("models:/"):
            return self.resolve_models_uri(model_uri), None
        if model_uri.startswith("runs:"):
            raise InvalidNameError("model URI", model_uri, "use runs:/<run_id>/<artifact path>")
        return model_uri, None

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        model, current = self._model_and_version(name, version)
        self._events(model["model_id"], name, {"action": "set_version_description", "version": current.version,
                                               "value": description, "before": current.description,
                                               "after": description})
        return self.get_model_version(name, current.version)

    def delete_model_version(self, name: str, version: int | str) -> None:
        model, current = self._model_and_version(name, version)
        changes = [{"action": "delete_alias", "key": alias, "before": str(current.version)} for alias in current.aliases]
        changes.append({"action": "delete_version", "version": current.version, "before": "active",
                        "after": "deleted"})
        self._events(model["model_id"], name, *changes)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        validation.validate_key(key, "tag")
        text = validation.tag_value(key, value)
        model, current = self._model_and_version(name, version)
        self._events(model["model_id"], name, {"action": "set_version_tag", "version": current.version, "key": key,
                                               "value": text, "before": current.tags.get(key), "after": text})

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        model, current = self._model_and_version(name, version)
        self._events(model["model_id"], name, {"action": "delete_version_tag", "version": current.version,
                                               "key": key, "before": current.tags.get(key)})

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at a version (moving it if it pointed elsewhere), if the policy allows."""
        validate_alias(alias)
        model, target = self._model_and_version(name, version)
        self._check_policy(alias, f"alias {alias!r}", target)
        self._events(model["model_id"], name, {"action": "set_alias", "key": alias, "value": str(target.version),
                                               "before": model["aliases"].get(alias), "after": target.version})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        model = self._model_row(name)
        aliases = dict(model["aliases"])
        if alias not in aliases:
            raise RegisteredModelNotFoundError(f"Alias {alias!r} of registered model {name!r}",
                                               f"Its aliases are {sorted(aliases) or 'none'}.")
        self._events(model["model_id"], name, {"action": "delete_alias", "key": alias, "before": aliases[alias]})

    def transition_model_version_stage(self, name: str, version: int | str, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        """MLflow's legacy stages; with ``archive_existing_versions`` the versions already in the
        target stage (Staging or Production) move to Archived."""
        target_stage = _stage(stage)
        model, target = self._model_and_version(name, version)
        self._check_policy(target_stage.value, f"stage {target_stage.value!r}", target)
        changes = []
        if archive_existing_versions and target_stage in (Stage.STAGING, Stage.PRODUCTION):
            changes = [{"action": "transition_stage", "version": other.version, "value": Stage.ARCHIVED.value,
                        "before": other.current_stage, "after": Stage.ARCHIVED.value}
                       for other in self._live_versions(name)
                       if other.version != target.version and other.current_stage == target_stage.value]
        changes.append({"action": "transition_stage", "version": target.version, "value": target_stage.value,
                        "before": target.current_stage, "after": target_stage.value})
        self._events(model["model_id"], name, *changes)
        return self.get_model_version(name, target.version)

    def _check_policy(self, policy_key: str, what: str, version: ModelVersion) -> None:
        required = self._policy.get(policy_key, {})
        missing = {k: v for k, v in required.items() if version.tags.get(k) != v}
        if missing:
            raise PromotionBlockedError(what, version.name, version.version, missing, dict(version.tags))

    # -- lineage and audit ----------------------------------------------------------------------
    def lineage(self, name: str, version: int | str, as_of: Any = None) -> dict[str, Any]:
        """A version with its run: the run's params, metrics, git commit and training script, and
        the datasets it logged with their Delta versions (a row of ``sparktrack.model_lineage``)."""
        current = self.get_model_version(name, version, as_of)
        found = {"name": current.name, "version": current.version, "aliases": list(current.aliases),
                 "current_stage": current.current_stage, "run_id": current.run_id, "source": current.source,
                 "experiment_id": None, "run_name": None, "run_status": None, "git_commit": None,
                 "source_name": None, "params": {}, "metrics": {}, "inputs": []}
        if current.run_id is None:
            return found
        runs = self._runs.run_rows([current.run_id]).runs()
        if runs:
            run = runs[0]
            found.update(experiment_id=run.info.experiment_id, run_name=run.info.run_name,
                         run_status=run.info.status, git_commit=run.data.tags.get(context.GIT_COMMIT),
                         source_name=run.data.tags.get(context.SOURCE_NAME), params=dict(run.data.params),
                         metrics=dict(run.data.metrics))
            found["inputs"] = [{"name": d.name, "source_type": d.source_type, "source": d.source,
                                "delta_version": d.delta_version, "context": d.context}
                               for d in self._runs.run_inputs(current.run_id)]
        return found

    def audit_log(self, name: str | None = None) -> pd.DataFrame:
        """Every registry change (who, when, what, before/after), oldest first: the rows of
        ``sparktrack.registry_audit`` as a pandas DataFrame."""
        import pandas as pd

        from sparktrack.store import layout

        model_id = None if name is None else self._model_row(name, allow_deleted=True)["model_id"]
        return pd.DataFrame(self._store.events(model_id), columns=list(layout.REGISTRY_EVENTS.names))


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _version_number(version: int | str) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        number = 0
    if isinstance(version, bool) or number <= 0 or str(number) != str(version).strip():
        raise InvalidValueError("Model version", version, "a positive integer such as 3 or '3'")
    return number


def _stage(stage: str) -> Stage:
    for candidate in Stage:
        if isinstance(stage, str) and stage.lower() == candidate.value.lower():
            return candidate
    raise InvalidValueError("Stage", stage, "one of None, Staging, Production, Archived")
