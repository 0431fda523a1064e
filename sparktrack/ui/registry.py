"""The UI's registry API, through the registry client (so the promotion policy and the audit log
apply to its actions as to any other caller's):

    GET  /api/registry/models?filter=...&as_of=...              the registered models
    GET  /api/registry/models/{name}?as_of=...                   one, with its versions
    GET  /api/registry/models/{name}/versions/{version}/lineage  its run, commit and data versions
    GET  /api/registry/audit?name=...                            the audit log, oldest first
    POST /api/registry/models/{name}/aliases          {"alias", "version"}   move an alias
    POST /api/registry/models/{name}/versions/{version}/tags  {"key", "value"}  tag a version

``as_of`` is an ISO-8601 time or a version of the audit table (time travel). The POSTs need
``Authorization: Bearer <token>`` when the server was started with a token.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from sparktrack.ui.api import ApiError, bad_request, handled, number

if TYPE_CHECKING:
    from starlette.requests import Request

    from sparktrack.registry.client import RegistryClient
    from sparktrack.registry.entities import ModelVersion, RegisteredModel


def routes(registry: RegistryClient, token: str | None) -> list:
    from starlette.routing import Route

    def guarded(handler: Any) -> Any:
        async def endpoint(registry: RegistryClient, request: Request) -> dict[str, Any]:
            _authorize(request, token)
            return handler(registry, request, await _body(request))
        return endpoint

    return [Route("/api/registry/models", handled(registry, _models), methods=["GET"]),
            Route("/api/registry/audit", handled(registry, _audit), methods=["GET"]),
            Route("/api/registry/models/{name}", handled(registry, _model), methods=["GET"]),
            Route("/api/registry/models/{name}/versions/{version}/lineage", handled(registry, _lineage),
                  methods=["GET"]),
            Route("/api/registry/models/{name}/aliases", handled(registry, guarded(_set_alias)), methods=["POST"]),
            Route("/api/registry/models/{name}/versions/{version}/tags", handled(registry, guarded(_set_tag)),
                  methods=["POST"])]


def _as_of(request: Request) -> Any:
    text = request.query_params.get("as_of")
    if text is None or not text.strip():
        return None
    return int(text) if text.strip().isdigit() else text.strip()


def _models(registry: RegistryClient, request: Request) -> dict[str, Any]:
    as_of = _as_of(request)
    found = registry.search_registered_models(request.query_params.get("filter") or None)
    if as_of is not None:  # the models there were then, as they were
        found = [registry.get_registered_model(m.name, as_of) for m in _existing(registry, found, as_of)]
    return {"registered_models": [_model_json(m) for m in found]}


def _existing(registry: RegistryClient, models: list[RegisteredModel], as_of: Any) -> list[RegisteredModel]:
    from sparktrack.errors import NotFoundError

    kept = []
    for model in models:
        try:
            registry.get_registered_model(model.name, as_of)
            kept.append(model)
        except NotFoundError:
            continue
    return kept


def _model(registry: RegistryClient, request: Request) -> dict[str, Any]:
    name, as_of = request.path_params["name"], _as_of(request)
    model = registry.get_registered_model(name, as_of)
    versions = registry.get_model_versions(name, as_of)
    return {"registered_model": _model_json(model), "model_versions": [_version_json(v) for v in versions]}


def _lineage(registry: RegistryClient, request: Request) -> dict[str, Any]:
    found = registry.lineage(request.path_params["name"], request.path_params["version"], _as_of(request))
    found["metrics"] = {key: number(value) for key, value in found["metrics"].items()}  # NaN is not JSON
    return {"lineage": json.loads(json.dumps(found, default=str))}


def _audit(registry: RegistryClient, request: Request) -> dict[str, Any]:
    frame = registry.audit_log(request.query_params.get("name") or None)
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    return {"events": rows}


def _set_alias(registry: RegistryClient, request: Request, body: dict[str, Any]) -> dict[str, Any]:
    name = request.path_params["name"]
    alias, version = _field(body, "alias", str), _field(body, "version", (int, str))
    registry.set_registered_model_alias(name, alias, version)
    return {"model_version": _version_json(registry.get_model_version_by_alias(name, alias))}


def _set_tag(registry: RegistryClient, request: Request, body: dict[str, Any]) -> dict[str, Any]:
    name, version = request.path_params["name"], request.path_params["version"]
    registry.set_model_version_tag(name, version, _field(body, "key", str), _field(body, "value", (str, int, float)))
    return {"model_version": _version_json(registry.get_model_version(name, version))}


def _authorize(request: Request, token: str | None) -> None:
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "UNAUTHENTICATED", "Registry actions on this server need a bearer token: send "
                                               "'Authorization: Bearer <token>' with the token `sparktrack ui` "
                                               "was started with (--token or SPARKTRACK_UI_TOKEN).")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_request(f"The body must be a JSON object; got {raw[:200]!r}.") from None
    if not isinstance(body, dict):
        raise bad_request(f"The body must be a JSON object; got {json.dumps(body)[:200]}.")
    return body


def _field(body: dict[str, Any], key: str, kinds: Any) -> Any:
    value = body.get(key)
    if value is None or isinstance(value, bool) or not isinstance(value, kinds):
        raise bad_request(f"The body needs {key!r} ({getattr(kinds, '__name__', 'a string or number')}); "
                          f"got {json.dumps(body)[:200]}.")
    return value


def _model_json(model: RegisteredModel) -> dict[str, Any]:
    return {"name": model.name, "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp, "description": model.description,
            "tags": [{"key": k, "value": v} for k, v in model.tags.items()],
            "aliases": [{"alias": a, "version": str(v)} for a, v in model.aliases.items()]}


def _version_json(version: ModelVersion) -> dict[str, Any]:
    return {"name": version.name, "version": str(version.version), "source": version.source,
            "run_id": version.run_id, "creation_timestamp": version.creation_timestamp,
            "last_updated_timestamp": version.last_updated_timestamp, "current_stage": version.current_stage,
            "description": version.description, "status": version.status, "user_id": version.user_id,
            "tags": [{"key": k, "value": v} for k, v in version.tags.items()], "aliases": list(version.aliases)}
