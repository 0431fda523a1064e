"""The UI's JSON API, read through the tracking client on the delta-rs store (no JVM), in
MLflow's REST shapes where MLflow has one, so scripts written against MLflow read it alike.

    GET /api/experiments                          the active experiments
    GET /api/runs/search?experiment_ids=0,1&filter=...&order_by=...&max_results=100&page_token=...
    GET /api/runs/{run_id}                        one run: info, params, latest metrics, tags, datasets
    GET /api/runs/{run_id}/metrics/{key}?max_points=2000
                                                  the history, downsampled (sparktrack.ui.history)
    GET /api/metrics/histories?run_ids=a,b&keys=loss,acc&max_points=2000
                                                  many runs' histories in one read, each downsampled
    GET /api/runs/{run_id}/artifacts?path=dir     a directory of the run's artifacts
    GET /api/runs/{run_id}/artifact?path=file     a file, for previews (never outside the run's root)

The registry's routes are in sparktrack.ui.registry. Errors are JSON ``{"error_code", "message"}``
with the status: 400 a malformed filter (with ``position``, the caret's offset), a bad page token,
parameter or artifact path (``..``, absolute); 401 a registry action without the token; 404 an
unknown run, model, artifact or route; 409 an alias move the promotion policy blocks; 413 an
artifact too large to preview.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import mimetypes
from typing import TYPE_CHECKING, Any

from sparktrack.errors import FilterSyntaxError, InvalidInputError, NotFoundError
from sparktrack.ui.history import downsample

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from sparktrack.entities import Run
    from sparktrack.tracking.client import TrackingClient

#: Runs a page holds unless ``max_results`` says otherwise, and at most.
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
#: Points a metric history comes back as unless ``max_points`` says otherwise, and at most.
MAX_POINTS, MAX_MAX_POINTS = 2000, 100_000
#: The most runs, and keys, one request for histories may name.
MAX_HISTORY_RUNS, MAX_HISTORY_KEYS = 1000, 100
#: The largest artifact the browser previews.
MAX_ARTIFACT_BYTES = 20 * 1024 * 1024


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.error_code, self.message, self.extra = status, error_code, message, extra

    def response(self) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse({"error_code": self.error_code, "message": self.message, **self.extra}, self.status)


def bad_request(message: str, **extra: Any) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message, **extra)


def handled(target: Any, handler: Any) -> Any:
    """A Starlette endpoint answering ``handler(target, request)`` (a dict, or an awaitable of
    one; or a Response) as JSON, and sparktrack's errors as JSON errors with their status."""
    from starlette.responses import JSONResponse, Response

    from sparktrack.errors import PromotionBlockedError

    async def endpoint(request: Request) -> Response:
        try:
            found = handler(target, request)
            found = await found if inspect.isawaitable(found) else found
            return found if isinstance(found, Response) else JSONResponse(found)
        except ApiError as error:
            return error.response()
        except FilterSyntaxError as error:
            return bad_request(str(error), position=error.position).response()
        except NotFoundError as error:
            return ApiError(404, "RESOURCE_DOES_NOT_EXIST", str(error)).response()
        except InvalidInputError as error:
            return bad_request(str(error)).response()
        except PromotionBlockedError as error:
            return ApiError(409, "PROMOTION_BLOCKED", str(error)).response()

    return endpoint


def routes(client: TrackingClient) -> list:
    from starlette.routing import Route

    return [Route("/api/experiments", handled(client, _experiments), methods=["GET"]),
            Route("/api/runs/search", handled(client, _search_runs), methods=["GET"]),
            Route("/api/metrics/histories", handled(client, _histories), methods=["GET"]),
            Route("/api/runs/{run_id}", handled(client, _run), methods=["GET"]),
            Route("/api/runs/{run_id}/metrics/{key:path}", handled(client, _history), methods=["GET"]),
            Route("/api/runs/{run_id}/artifacts", handled(client, _artifacts), methods=["GET"]),
            Route("/api/runs/{run_id}/artifact", handled(client, _artifact), methods=["GET"])]


def _experiments(client: TrackingClient, request: Request) -> dict[str, Any]:
    return {"experiments": [{"experiment_id": e.experiment_id, "name": e.name,
                             "artifact_location": e.artifact_location, "lifecycle_stage": e.lifecycle_stage,
                             "creation_time": e.creation_time, "last_update_time": e.last_update_time,
                             "tags": [{"key": k, "value": v} for k, v in e.tags.items()]}
                            for e in client.search_experiments()]}


def _search_runs(client: TrackingClient, request: Request) -> dict[str, Any]:
    query = request.query_params
    ids = [i for i in query.get("experiment_ids", "").split(",") if i.strip()]
    if not ids:
        ids = [e.experiment_id for e in client.search_experiments()]
    size = _int(query, "max_results", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    offset = _offset(query.get("page_token"))
    order_by = [part for part in query.getlist("order_by") if part.strip()]
    page, more = client.search_runs_page(ids, query.get("filter") or None, query.get("run_view_type", "ACTIVE_ONLY"),
                                         order_by, offset, size)
    found: dict[str, Any] = {"runs": [_run_json(run) for run in page]}
    if more:
        found["next_page_token"] = _token(offset + size)
    return found


def _run(client: TrackingClient, request: Request) -> dict[str, Any]:
    """The run, its datasets, each metric's min/max/points, and the models it logged (the
    descriptor of each top-level artifact directory that holds one)."""
    from sparktrack.models.descriptor import DESCRIPTOR_FILE

    run = client.get_run(request.path_params["run_id"])
    run_id = run.info.run_id
    inputs = [{"name": d.name, "digest": d.digest, "context": d.context, "source_type": d.source_type,
               "source": d.source, "delta_version": d.delta_version} for d in client.get_run_inputs(run_id)]
    summaries = [{"key": k, "min": number(v["min"]), "max": number(v["max"]), "points": v["points"]}
                 for k, v in sorted(client.get_metric_summaries(run_id).items())]
    models = []
    for entry in client.list_artifacts(run_id):
        if entry["is_dir"] and any(f["path"].endswith("/" + DESCRIPTOR_FILE)
                                   for f in client.list_artifacts(run_id, entry["path"])):
            descriptor = json.loads(client.load_text(run_id, f"{entry['path']}/{DESCRIPTOR_FILE}"))
            models.append({"artifact_path": entry["path"], "descriptor": descriptor})
    return {"run": {**_run_json(run), "inputs": {"dataset_inputs": inputs}}, "metric_summaries": summaries,
            "models": models}


def _history(client: TrackingClient, request: Request) -> dict[str, Any]:
    run_id, key = request.path_params["run_id"], request.path_params["key"]
    max_points = _int(request.query_params, "max_points", MAX_POINTS, 3, MAX_MAX_POINTS)
    table = client.get_metric_history_table(run_id, key)
    return {"run_id": run_id, "key": key, "points": table.num_rows, **downsample(table, max_points)}


def _histories(client: TrackingClient, request: Request) -> dict[str, Any]:
    """Each named run's history of each named key (those with points), downsampled as one
    run's: what the charts page draws, in one read instead of a request per chart line."""
    query = request.query_params
    max_points = _int(query, "max_points", MAX_POINTS, 3, MAX_MAX_POINTS)
    run_ids = _list(query, "run_ids", MAX_HISTORY_RUNS)
    keys = _list(query, "keys", MAX_HISTORY_KEYS)
    table = client.get_metric_histories_table(run_ids, keys)
    histories = []
    if table.num_rows:
        import numpy as np
        import pyarrow.compute as pc

        pairs = pc.binary_join_element_wise(table["run_id"], table["key"], "/").to_numpy(zero_copy_only=False)
        starts = [0, *(np.flatnonzero(pairs[1:] != pairs[:-1]) + 1).tolist(), len(pairs)]
        for start, end in zip(starts, starts[1:]):
            part = table.slice(start, end - start)
            histories.append({"run_id": part["run_id"][0].as_py(), "key": part["key"][0].as_py(),
                              "points": part.num_rows, **downsample(part, max_points)})
    return {"histories": histories}


def _list(query: Any, name: str, most: int) -> list[str]:
    values = list(dict.fromkeys(v for v in query.get(name, "").split(",") if v.strip()))
    if not values or len(values) > most:
        raise bad_request(f"{name} must name 1 to {most} comma-separated values; got {len(values)}.")
    return values


def _artifacts(client: TrackingClient, request: Request) -> dict[str, Any]:
    run_id = request.path_params["run_id"]
    path = _artifact_path(request)
    client.get_run(run_id)  # an unknown run is a 404, not an empty listing
    return {"root_uri": client.get_artifact_uri(run_id), "files": client.list_artifacts(run_id, path or None)}


def _artifact(client: TrackingClient, request: Request) -> Response:
    """A file's bytes, typed by its extension (text, JSON and CSV as UTF-8 text), for the
    browser's previews; MAX_ARTIFACT_BYTES at most."""
    from starlette.responses import Response

    run_id, path = request.path_params["run_id"], _artifact_path(request)
    if not path:
        raise bad_request("path must name a file of the run's artifacts, e.g. ?path=plots/roc.png.")
    parent = path.rpartition("/")[0] or None
    entry = next((e for e in client.list_artifacts(run_id, parent) if e["path"] == path), None)
    if entry is None or entry["is_dir"]:
        from sparktrack.errors import ArtifactNotFoundError

        raise ArtifactNotFoundError(f"{client.get_artifact_uri(run_id)}/{path}" + (" (a directory)" if entry else ""))
    if entry["file_size"] > MAX_ARTIFACT_BYTES:
        raise ApiError(413, "ARTIFACT_TOO_LARGE", f"{path} has {entry['file_size']} bytes, over the preview's "
                                                  f"{MAX_ARTIFACT_BYTES}; download it with `client.download_artifacts`.")
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/json", "application/x-yaml", "application/yaml"):
        kind += "; charset=utf-8"
    return Response(client.load_bytes(run_id, path), media_type=kind,
                    headers={"x-content-type-options": "nosniff", "content-security-policy": "sandbox"})


def _artifact_path(request: Request) -> str:
    """The ``path`` query parameter, which must stay inside the run's artifact root."""
    from sparktrack.engine.files import check_relative

    path = request.query_params.get("path", "")
    if any(ord(c) < 32 for c in path):
        raise bad_request(f"path {path[:200]!r} has a control character; give a path such as plots/roc.png.")
    return check_relative(path)


def _run_json(run: Run) -> dict[str, Any]:
    info = run.info
    return {"info": {"run_id": info.run_id, "run_uuid": info.run_id, "run_name": info.run_name,
                     "experiment_id": info.experiment_id, "user_id": info.user_id, "status": info.status,
                     "start_time": info.start_time, "end_time": info.end_time, "artifact_uri": info.artifact_uri,
                     "lifecycle_stage": info.lifecycle_stage, "parent_run_id": info.parent_run_id},
            "data": {"metrics": [{"key": k, "value": number(v)} for k, v in run.data.metrics.items()],
                     "params": [{"key": k, "value": v} for k, v in run.data.params.items()],
                     "tags": [{"key": k, "value": v} for k, v in run.data.tags.items()]}}


def number(value: float) -> float | str:
    """JSON has no NaN or infinity: those go as MLflow's REST API writes them, as strings."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _int(query: Any, name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}; got {text!r}.")
    return value


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = data["offset"]
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
        return offset
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise bad_request(f"page_token {token[:100]!r} is not a token this server gave: pass the "
                          "next_page_token of the previous page, or none for the first page.") from None
