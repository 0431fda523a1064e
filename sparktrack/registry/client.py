"""``RegistryClient``: MLflow's model registry operations on Delta tables.

State lives in three append-only tables: name reservations (``registered_models``), versions
(``model_versions``) and every change (``registry_events``, which is also the audit log). Current
state is computed by the ``registered_models`` and ``model_versions`` views, "as of" any time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sparktrack import settings
from sparktrack.entities import now_ms
from sparktrack.errors import (
    AlreadyExistsError,
    InvalidNameError,
    InvalidValueError,
    RegisteredModelNotFoundError,
    PromotionBlockedError,
)
from sparktrack.registry import state
from sparktrack.registry.entities import ModelVersion, RegisteredModel, Stage
from sparktrack.registry.state import RegistryState
from sparktrack.store import tables
from sparktrack.tracking import context, validation
from sparktrack.tracking.client import SEARCH_MAX_RESULTS_DEFAULT, TrackingClient

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

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
    """Registry operations on a store (default: ``SPARKTRACK_STORE``)."""

    def __init__(self, store: str | None = None, spark: SparkSession | None = None,
                 database: str | None = None, policy: Mapping[str, Mapping[str, str]] | None = None):
        self._tracking = TrackingClient(store, spark, database)
        self._delta = self._tracking._delta
        self._policy = dict(policy) if policy is not None else settings.PROMOTION_POLICY.get()
        self._seq = itertools.count(1)

    @property
    def spark(self) -> SparkSession:
        return self._delta.spark

    # -- reads ----------------------------------------------------------------------------------
    def _models(self, as_of: Any = None) -> DataFrame:
        return self._delta.view("registered_models_current", self._as_of(as_of))

    def _versions(self, as_of: Any = None) -> DataFrame:
        return self._delta.view("model_versions_current", self._as_of(as_of))

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
            from pyspark.sql import functions as F

            path = self._delta.path(tables.REGISTRY_EVENTS).replace("`", "``")
            rows = (self.spark.sql(f"DESCRIBE HISTORY delta.`{path}`")
                    .filter(F.col("version") == as_of).select("timestamp").collect())
            if not rows:
                raise InvalidValueError("as_of", as_of, "a version of sparktrack.registry_audit that exists")
            return self._as_of(rows[0]["timestamp"])
        raise InvalidValueError("as_of", as_of, "a datetime, an ISO-8601 string or a store version (int)")

    def _state(self) -> RegistryState:
        """The registry now, folded from its tables' rows (see registry.state); on a local store,
        folded once per commit to any of them."""
        sources = (tables.REGISTERED_MODELS, tables.MODEL_VERSIONS, tables.REGISTRY_EVENTS)

        def fold() -> RegistryState:
            return state.fold(*self._delta.read_rows(*((table, {}) for table in sources)))

        return self._delta.memo(("registry state",), sources, fold)

    def _model_row(self, name: str, as_of: Any = None, allow_deleted: bool = False) -> Any:
        from pyspark.sql import functions as F

        validate_model_name(name)
        if as_of is None:
            model = self._state().model_named(name)
            rows = [model] if model is not None else []
        else:
            rows = self._models(as_of).filter(F.col("name") == F.lit(name)).collect()
        return self._found_model(name, rows, allow_deleted)

    @staticmethod
    def _found_model(name: str, rows: list, allow_deleted: bool = False) -> Any:
        if not rows or (rows[0]["deleted"] and not allow_deleted):
            state = " (it is deleted; restore_registered_model() brings it back)" if rows else ""
            raise RegisteredModelNotFoundError(
                f"Registered model {name!r}{state}",
                "List models with search_registered_models() or `sparktrack models list`.",
            )
        return rows[0]

    def _model_and_version(self, name: str, version: int | str, as_of: Any = None) -> tuple[Any, ModelVersion]:
        """The model's row and one of its versions, read side by side."""
        from pyspark.sql import functions as F

        number = _version_number(version)
        validate_model_name(name)
        if as_of is None:
            now = self._state()
            model = now.model_named(name)
            models = [model] if model is not None else []
            version_row = now.versions.get((model["model_id"], number)) if model is not None else None
            versions = [version_row] if version_row is not None else []
        else:
            models, versions = self._delta.read_parallel(
                self._models(as_of).filter(F.col("name") == F.lit(name)),
                self._versions(as_of).filter((F.col("name") == F.lit(name)) & (F.col("version") == F.lit(number))),
            )
        model = self._found_model(name, models)
        if not versions or versions[0]["deleted"]:
            raise RegisteredModelNotFoundError(
                f"Version {number} of registered model {name!r}",
                "List its versions with search_model_versions(\"name = '...'\").",
            )
        return model, ModelVersion.from_row(versions[0])

    def get_registered_model(self, name: str, as_of: Any = None) -> RegisteredModel:
        return RegisteredModel.from_row(self._model_row(name, as_of))

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                                 order_by: Sequence[str] | None = None) -> list[RegisteredModel]:
        from sparktrack.tracking import filters

        frame = filters.apply(self._models().filter("NOT deleted"), validation.validate_filter(filter_string),
                              validation.validate_order_by(order_by), filters.REGISTERED_MODELS)
        return [RegisteredModel.from_row(r) for r in frame.limit(_limit(max_results)).collect()]

    def get_model_version(self, name: str, version: int | str, as_of: Any = None) -> ModelVersion:
        return self._model_and_version(name, version, as_of)[1]

    def get_model_version_by_alias(self, name: str, alias: str, as_of: Any = None) -> ModelVersion:
        model = self._model_row(name, as_of)
        aliases = dict(model["aliases"] or {})
        if alias not in aliases:
            raise RegisteredModelNotFoundError(
                f"Alias {alias!r} of registered model {name!r}",
                f"Its aliases are {sorted(aliases) or 'none'}; set one with "
                "set_registered_model_alias(name, alias, version).",
            )
        return self.get_model_version(name, aliases[alias], as_of)

    def _live_versions(self, name: str) -> list[ModelVersion]:
        """The versions of the model called ``name`` that are not deleted, newest first."""
        now = self._state()
        model = now.model_named(validate_model_name(name))
        return [] if model is None else [ModelVersion.from_row(row) for row in now.versions_of(model["model_id"])]

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """The newest version in each stage (all stages when ``stages`` is None)."""
        versions = self._live_versions(name)
        latest: dict[str, ModelVersion] = {}
        for version in sorted(versions, key=lambda v: v.version):
            latest[version.current_stage] = version
        wanted = [_stage(s).value for s in stages] if stages else list(latest)
        return [latest[s] for s in wanted if s in latest]

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                              order_by: Sequence[str] | None = None) -> list[ModelVersion]:
        """MLflow's filter grammar over ``name``, ``version_number``, ``run_id``, ``source``,
        ``current_stage``, ``tags.<key>``."""
        from sparktrack.tracking import filters

        frame = filters.apply(self._versions().filter("NOT deleted"), validation.validate_filter(filter_string),
                              validation.validate_order_by(order_by), filters.MODEL_VERSIONS)
        return [ModelVersion.from_row(r) for r in frame.limit(_limit(max_results)).collect()]

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
    def _event(self, model_id: str, name: str, action: str, *, version: int | None = None,
               key: str | None = None, value: str | None = None, before: Any = None,
               after: Any = None) -> None:
        row = (uuid.uuid4().hex, now_ms(), next(self._seq), context.current_user(), model_id, name,
               version, action, key, value, _json(before), _json(after))
        self._delta.append(tables.REGISTRY_EVENTS, [row])

    def create_registered_model(self, name: str, tags: Mapping[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        tag_values = {validation.validate_key(k, "tag"): validation.tag_value(k, v) for k, v in (tags or {}).items()}
        model_id = self._reserve(validate_model_name(name), renamed_from=None)
        if model_id is None:
            raise AlreadyExistsError("Registered model", name,
                                     "Register a new version with register_model(), or pick another name.")
        now = now_ms()
        self._event(model_id, name, "create_model", after={"name": name, "description": description})
        if description is not None:
            self._event(model_id, name, "set_model_description", value=description, after=description)
        for key, value in tag_values.items():
            self._event(model_id, name, "set_model_tag", key=key, value=value, after=value)
        return RegisteredModel(name=name, model_id=model_id, creation_timestamp=now,
                               last_updated_timestamp=now, description=description, tags=tag_values)

    def _reserve(self, name: str, renamed_from: str | None, model_id: str | None = None) -> str | None:
        """Reserve a name (insert-only MERGE); the model id, or None when the name is taken."""
        model_id = model_id or uuid.uuid4().hex
        row = (model_id, name, now_ms(), context.current_user(), renamed_from)
        self._delta.insert_if_absent(tables.REGISTERED_MODELS, [row], key="name")
        (owner,) = self._delta.read_rows((tables.REGISTERED_MODELS, {"name": [name]}))
        return model_id if owner.num_rows and owner["model_id"][0].as_py() == model_id else None

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
        self._event(model["model_id"], name, "set_model_description", value=description,
                    before=model["description"], after=description)
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        validate_model_name(new_name)
        model = self._model_row(name)
        if self._reserve(new_name, renamed_from=name, model_id=model["model_id"]) is None:
            raise AlreadyExistsError("Registered model name", new_name,
                                     "Names stay reserved once used; pick another name.")
        self._event(model["model_id"], new_name, "rename_model", key="name", value=new_name,
                    before=name, after=new_name)
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        """Soft delete: the model disappears from reads; its rows and history stay."""
        model = self._model_row(name)
        self._event(model["model_id"], name, "delete_model", before="active", after="deleted")

    def restore_registered_model(self, name: str) -> RegisteredModel:
        model = self._model_row(name, allow_deleted=True)
        self._event(model["model_id"], name, "restore_model", before="deleted", after="active")
        return self.get_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        validation.validate_key(key, "tag")
        text = validation.tag_value(key, value)
        model = self._model_row(name)
        self._event(model["model_id"], name, "set_model_tag", key=key, value=text,
                    before=model["tags"].get(key), after=text)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        model = self._model_row(name)
        self._event(model["model_id"], name, "delete_model_tag", key=key, before=model["tags"].get(key))

    def register_model(self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None,
                       description: str | None = None) -> ModelVersion:
        """A new version of ``name`` (created if missing) for the model at ``model_uri``.

        Versions are consecutive and unique across processes: each is allocated with an
        insert-only MERGE on (model, version), which Delta makes conflict when two processes
        take the same number; the loser reads the new maximum and tries the next number."""
        source, run_id = self._source(model_uri)
        tag_values = {validation.validate_key(k, "tag"): validation.tag_value(k, v) for k, v in (tags or {}).items()}
        model_id = self._get_or_create(validate_model_name(name))
        version = self._allocate_version(model_id, source, run_id)
        now = now_ms()
        self._event(model_id, name, "create_version", version=version,
                    after={"source": source, "run_id": run_id, "model_uri": model_uri})
        if description is not None:
            self._event(model_id, name, "set_version_description", version=version, value=description,
                        after=description)
        for key, value in tag_values.items():
            self._event(model_id, name, "set_version_tag", version=version, key=key, value=value, after=value)
        return ModelVersion(name=name, version=version, source=source, run_id=run_id,
                            creation_timestamp=now, last_updated_timestamp=now, description=description,
                            tags=tag_values, user_id=context.current_user())

    def _source(self, model_uri: str) -> tuple[str, str | None]:
        if not isinstance(model_uri, str) or not model_uri:
            raise InvalidValueError("model_uri", model_uri, "a model URI such as runs:/<run_id>/model")
        match = re.match(r"^runs:/([^/]+)/(.+)$", model_uri)
        if match:
            run_id, path = match.groups()
            return self._tracking.get_artifact_uri(run_id, path), run_id
        if model_uri.startswith("models:/"):
            return self.resolve_models_uri(model_uri), None
        if model_uri.startswith("runs:"):
            raise InvalidNameError("model URI", model_uri, "use runs:/<run_id>/<artifact path>")
        return model_uri, None

    def _allocate_version(self, model_id: str, source: str, run_id: str | None) -> int:
        version_id = uuid.uuid4().hex

        def taken() -> dict[int, str]:  # version -> the version id that holds it
            (rows,) = self._delta.read_rows((tables.MODEL_VERSIONS, {"model_id": [model_id]}))
            return dict(zip(rows["version"].to_pylist(), rows["version_id"].to_pylist()))

        for _ in range(100):
            with self._delta.locked(tables.MODEL_VERSIONS):  # local stores: read and MERGE as one
                number = max(taken(), default=0) + 1
                row = (model_id, number, version_id, source, run_id, now_ms(), context.current_user())
                self._delta.insert_if_absent(tables.MODEL_VERSIONS, [row], key=("model_id", "version"))
            if taken().get(number) == version_id:
                return number
        raise RuntimeError(f"Could not allocate a version of model {model_id} after 100 attempts")

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        current = self.get_model_version(name, version)
        model_id = self._model_row(name)["model_id"]
        self._event(model_id, name, "set_version_description", version=current.version,
                    value=description, before=current.description, after=description)
        return self.get_model_version(name, current.version)

    def delete_model_version(self, name: str, version: int | str) -> None:
        current = self.get_model_version(name, version)
        model = self._model_row(name)
        for alias in current.aliases:
            self._event(model["model_id"], name, "delete_alias", key=alias, before=str(current.version))
        self._event(model["model_id"], name, "delete_version", version=current.version,
                    before="active", after="deleted")

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        validation.validate_key(key, "tag")
        text = validation.tag_value(key, value)
        current = self.get_model_version(name, version)
        self._event(self._model_row(name)["model_id"], name, "set_version_tag", version=current.version,
                    key=key, value=text, before=current.tags.get(key), after=text)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        current = self.get_model_version(name, version)
        self._event(self._model_row(name)["model_id"], name, "delete_version_tag",
                    version=current.version, key=key, before=current.tags.get(key))

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at a version (moving it if it pointed elsewhere), if the policy allows."""
        validate_alias(alias)
        model, target = self._model_and_version(name, version)
        self._check_policy(alias, f"alias {alias!r}", target)
        before = dict(model["aliases"] or {}).get(alias)
        self._event(model["model_id"], name, "set_alias", key=alias, value=str(target.version),
                    before=before, after=target.version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        model = self._model_row(name)
        aliases = dict(model["aliases"] or {})
        if alias not in aliases:
            raise RegisteredModelNotFoundError(f"Alias {alias!r} of registered model {name!r}",
                                     f"Its aliases are {sorted(aliases) or 'none'}.")
        self._event(model["model_id"], name, "delete_alias", key=alias, before=aliases[alias])

    def transition_model_version_stage(self, name: str, version: int | str, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        """MLflow's legacy stages; with ``archive_existing_versions`` the versions already in the
        target stage (Staging or Production) move to Archived."""
        target_stage = _stage(stage)
        target = self.get_model_version(name, version)
        self._check_policy(target_stage.value, f"stage {target_stage.value!r}", target)
        model_id = self._model_row(name)["model_id"]
        if archive_existing_versions and target_stage in (Stage.STAGING, Stage.PRODUCTION):
            for other in self._live_versions(name):
                if other.version != target.version and other.current_stage == target_stage.value:
                    self._event(model_id, name, "transition_stage", version=other.version,
                                value=Stage.ARCHIVED.value, before=other.current_stage,
                                after=Stage.ARCHIVED.value)
        self._event(model_id, name, "transition_stage", version=target.version,
                    value=target_stage.value, before=target.current_stage, after=target_stage.value)
        return self.get_model_version(name, target.version)

    def _check_policy(self, policy_key: str, what: str, version: ModelVersion) -> None:
        required = self._policy.get(policy_key, {})
        missing = {k: v for k, v in required.items() if version.tags.get(k) != v}
        if missing:
            raise PromotionBlockedError(what, version.name, version.version, missing, dict(version.tags))

    def lineage(self, name: str, version: int | str) -> Any:
        """The ``model_lineage`` row of a version: its run, params, metrics, commit and inputs."""
        from pyspark.sql import functions as F

        number = _version_number(version)
        rows = self._delta.view("model_lineage").filter(
            (F.col("name") == F.lit(name)) & (F.col("version") == F.lit(number))).collect()
        return rows[0] if rows else None

    # -- audit ----------------------------------------------------------------------------------
    def audit_log(self, name: str | None = None) -> DataFrame:
        """Every registry change (who, when, what, before/after), oldest first."""
        from pyspark.sql import functions as F

        frame = self._delta.table(tables.REGISTRY_EVENTS)
        if name is not None:
            frame = frame.filter(F.col("model_id") == F.lit(self._model_row(name, allow_deleted=True)["model_id"]))
        return frame.orderBy("event_time", "seq")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _limit(max_results: int) -> int:
    if not isinstance(max_results, int) or isinstance(max_results, bool) or not 0 < max_results <= 1_000_000:
        raise InvalidValueError("max_results", max_results, "an integer from 1 to 1000000")
    return max_results


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
