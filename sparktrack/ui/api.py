"""The UI's JSON API, read through the tracking client on the delta-rs store (no JVM), in
MLflow's REST shapes where MLflow has one, so scripts written against MLflow read it alike.

    GET /api/experiments                          the active experiments
    GET /api/runs/search?experiment_ids=0,1&filter=...&order_by=...&max_results=100&page_token=...
    GET /api/runs/{run_id}                        one run: info, params, latest metrics, tags, datasets
    GET /api/runs/{run_id}/metrics/{key}?max_points=2000
                                                  the history, downsampled (sparktrack.ui.history)

Errors are JSON ``{"error_code", "message"}`` with the status: 400 a malformed filter (with
``position``, the caret's offset), a bad page token or parameter; 404 an unknown run or route.
"""

from __future__ import annotations

import base64
import binascii
import json
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


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.error_code, self.message, self.extra = status, error_code, message, extra

    def response(self) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse({"error_code": self.error_code, "message": self.message, **self.extra}, self.status)


def bad_request(message: str, **extra: Any) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message, **extra)


def routes(client: TrackingClient) -> list:
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def handled(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(handler(client, request))
            except ApiError as error:
                return error.response()
            except FilterSyntaxError as error:
                return bad_request(str(error), position=error.position).response()
            except NotFoundError as error:
                return ApiError(404, "RESOURCE_DOES_NOT_EXIST", str(error)).response()
            except InvalidInputError as error:
                return bad_request(str(error)).response()

        return endpoint

    return [Route("/api/experiments", handled(_experiments), methods=["GET"]),
            Route("/api/runs/search", handled(_search_runs), methods=["GET"]),
            Route("/api/runs/{run_id}", handled(_run), methods=["GET"]),
            Route("/api/runs/{run_id}/metrics/{key:path}", handled(_history), methods=["GET"])]


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
    # One more than the page asks for tells whether there is a next page.
    runs = client.search_runs(ids, query.get("filter") or None, query.get("run_view_type", "ACTIVE_ONLY"),
                              offset + size + 1, order_by)
    page = runs[offset:offset + size]
    found: dict[str, Any] = {"runs": [_run_json(run) for run in page]}
    if len(runs) > offset + size:
        found["next_page_token"] = _token(offset + size)
    return found


def _run(client: TrackingClient, request: Request) -> dict[str, Any]:
    run = client.get_run(request.path_params["run_id"])
    inputs = [{"name": d.name, "digest": d.digest, "context": d.context, "source_type": d.source_type,
               "source": d.source, "delta_version": d.delta_version} for d in client.get_run_inputs(run.info.run_id)]
    return {"run": {**_run_json(run), "inputs": {"dataset_inputs": inputs}}}


def _history(client: TrackingClient, request: Request) -> dict[str, Any]:
    run_id, key = request.path_params["run_id"], request.path_params["key"]
    max_points = _int(request.query_params, "max_points", MAX_POINTS, 3, MAX_MAX_POINTS)
    table = client.get_metric_history_table(run_id, key)
    return {"run_id": run_id, "key": key, "points": table.num_rows, **downsample(table, max_points)}


def _run_json(run: Run) -> dict[str, Any]:
    info = run.info
    return {"info": {"run_id": info.run_id, "run_uuid": info.run_id, "run_name": info.run_name,
                     "experiment_id": info.experiment_id, "user_id": info.user_id, "status": info.status,
                     "start_time": info.start_time, "end_time": info.end_time, "artifact_uri": info.artifact_uri,
                     "lifecycle_stage": info.lifecycle_stage, "parent_run_id": info.parent_run_id},
            "data": {"metrics": [{"key": k, "value": _number(v)} for k, v in run.data.metrics.items()],
                     "params": [{"key": k, "value": v} for k, v in run.data.params.items()],
                     "tags": [{"key": k, "value": v} for k, v in run.data.tags.items()]}}


def _number(value: float) -> float | str:
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
