"""The serving ASGI app (Starlette): MLflow's scoring routes, ``/metadata`` and ``/metrics``.

    GET  /ping, /health   200 once every route has a model loaded, else 503
    GET  /version         the sparktrack version
    GET  /metadata        what each route serves: model, version, alias, run, signature, and the
                          feature lookups (with each table's snapshot version) of a feature model
    GET  /metrics         Prometheus text
    POST /invocations     score a JSON or CSV body; {"predictions": [...]}

Each answer to ``/invocations`` says who answered in the headers ``X-Sparktrack-Route`` and
``X-Sparktrack-Model-Version``, and carries ``X-Request-Id`` (the inference table's
``request_id``). A request may pin a route with ``X-Sparktrack-Route: <name>``.

Errors are JSON ``{"error_code", "message"}``: 400 a body or columns that do not fit, 401 no or a
wrong bearer token (when one is set), 413 a body over ``max_request_bytes``, 415 another content
type, 500 an error inside the model, 503 the queue is full or no model is loaded yet, 504 scoring
took longer than ``request_timeout``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as HTTPRoute

from sparktrack import __version__
from sparktrack.entities import now_ms
from sparktrack.models.errors import ModelInputError
from sparktrack.serving import protocol
from sparktrack.serving.batching import Closed
from sparktrack.serving.inference import InferenceLog, new_request_id
from sparktrack.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from sparktrack.serving.metrics import ServingMetrics
from sparktrack.serving.protocol import ServingError
from sparktrack.serving.routes import Route, Router, ServedModel

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient
    from sparktrack.serving.config import EndpointConfig

ROUTE_HEADER = "x-sparktrack-route"
access_log = logging.getLogger("sparktrack.serving.access")
logger = logging.getLogger(__name__)
_JSON = "application/json"


class Endpoint:
    """An endpoint's running state in one worker: its routes, inference log, metrics and pool."""

    def __init__(self, config: EndpointConfig, client: SparkTrackClient):
        self.config = config
        self.client = client
        self.router = Router(config, client)
        self.inference = InferenceLog(client.store, config.name, config.sampling_fraction,
                                      config.log_inference)
        self.metrics = ServingMetrics(config.name)
        self.pool = ThreadPoolExecutor(max_workers=config.max_concurrency,
                                       thread_name_prefix="sparktrack-score")
        self.token = config.token
        self.active = 0  # requests past the door; only the event loop's thread changes it

    def authorize(self, request: Request) -> None:
        if self.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ServingError(401, "UNAUTHENTICATED",
                               "This endpoint needs a bearer token: send the header "
                               "'Authorization: Bearer <token>' with the token the server was "
                               f"started with (environment variable {self.config.token_env}).")

    async def read_body(self, request: Request) -> bytes:
        limit = self.config.max_request_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def invocations(self, request: Request) -> Response:
        started, clock = now_ms(), time.perf_counter()
        request_id = new_request_id()
        route = served = parsed = body = None
        try:
            self.authorize(request)
            if self.active >= self.config.max_concurrency + self.config.max_queue:
                raise ServingError(503, "TEMPORARILY_UNAVAILABLE",
                                   f"The server is at capacity ({self.active} requests in progress "
                                   "or waiting); retry after a short wait.")
            self.active += 1
            try:
                mime = protocol.check_content_type(request.headers.get("content-type"))
                body = await self.read_body(request)
                route = self.router.pick(request.headers.get(ROUTE_HEADER))
                if route is None:
                    raise ServingError(400, protocol.INVALID_PARAMETER_VALUE,
                                       f"No route {request.headers.get(ROUTE_HEADER)!r} in endpoint "
                                       f"{self.config.name!r}; its routes are {sorted(self.router.routes)}.")
                served = route.served or await self._loaded(route)
                if served is None:
                    raise ServingError(503, "MODEL_NOT_LOADED",
                                       f"Route {route.name!r} has no model loaded yet"
                                       + (f" ({route.error})" if route.error else "") + "; retry shortly.")
                parsed = protocol.parse_request(body, mime, served.request_columns)
                predictions = await asyncio.wait_for(self._score(route, served, parsed),
                                                     self.config.request_timeout)
                status, payload = 200, protocol.predictions_body(predictions)
            finally:
                self.active -= 1
        except ServingError as error:
            status, payload = error.status, error.body()
        except ModelInputError as error:
            status, payload = 400, ServingError(400, protocol.INVALID_PARAMETER_VALUE, str(error)).body()
        except (asyncio.TimeoutError, TimeoutError):
            status, payload = 504, ServingError(
                504, "DEADLINE_EXCEEDED",
                f"Scoring took longer than the endpoint's request_timeout of "
                f"{self.config.request_timeout:g} s.").body()
        except Exception as error:  # noqa: BLE001 - a bug in the model: 500, logged with its trace
            logger.exception("sparktrack serving: model error on request %s", request_id)
            status, payload = 500, ServingError(
                500, "INTERNAL_ERROR",
                f"The model raised {type(error).__name__}: {error}".rstrip()[:2000]).body()
        elapsed = time.perf_counter() - clock
        # the request as parsed (CSV as dataframe_split), else as received; a body over the
        # limit is never read whole, so it is not kept
        logged_request = (parsed.logged if parsed is not None
                          else body.decode("utf-8", "replace") if body is not None else None)
        route_name = route.name if route is not None else None
        self.inference.record(
            request_id=request_id, client_request_id=parsed.client_request_id if parsed else None,
            started_ms=started, status_code=status, execution_time_ms=int(elapsed * 1000),
            model_name=served.name if served else None, model_version=served.version if served else None,
            route=route_name, request=logged_request, response=payload.decode())
        self.metrics.observe(route_name, status, elapsed)
        headers = {"x-request-id": request_id}
        if status == 401:
            headers["www-authenticate"] = "Bearer"
        if served is not None:
            headers["x-sparktrack-route"] = route_name or ""
            headers["x-sparktrack-model-version"] = served.label
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(json.dumps({
                "request_id": request_id, "method": "POST", "path": "/invocations", "status": status,
                "ms": round(elapsed * 1000, 3), "route": route_name,
                "model_version": served.version if served else None, "client": _client(request),
            }))
        return Response(payload, status, headers=headers, media_type=_JSON)

    async def _loaded(self, route: Route) -> ServedModel | None:
        """The route's model once the start-up load is done: a request that arrives while this
        worker is still loading (another worker may already answer /ping) waits for it, up to
        the request timeout, rather than failing."""
        deadline = time.monotonic() + self.config.request_timeout
        while route.served is None and not self.router.loaded.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return route.served

    async def _score(self, route: Route, served: ServedModel, parsed: protocol.ParsedRequest) -> Any:
        """Score with the route's batcher (requests without params), else on the pool."""
        if served.batcher is not None and parsed.params is None:
            checked = served.check(parsed.frame)
            try:
                return await asyncio.wrap_future(served.batcher.submit(checked))
            except Closed:  # the route switched versions since this request picked its model
                current = route.served or served
                if current.batcher is not None:
                    return await asyncio.wrap_future(current.batcher.submit(current.check(parsed.frame)))
                served = current
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, served.score, parsed.frame, parsed.params)

    async def ping(self, request: Request) -> Response:
        if self.router.ready:
            return Response(json.dumps({"status": "ok"}), 200, media_type=_JSON)
        waiting = {name: route.error or "loading" for name, route in self.router.routes.items()
                   if route.served is None}
        return _error(ServingError(503, "MODEL_NOT_LOADED", f"No model loaded yet for the routes {waiting}."))

    async def version(self, request: Request) -> Response:
        return Response(json.dumps(__version__), 200, media_type=_JSON)

    async def metadata(self, request: Request) -> Response:
        try:
            self.authorize(request)
        except ServingError as error:
            return _error(error)
        routes = []
        for route in self.router.routes.values():
            entry: dict[str, Any] = {"route": route.name, "traffic": route.config.traffic,
                                     "model_uri": route.config.model, "error": route.error}
            if route.served is not None:
                entry.update(route.served.metadata())
            routes.append(entry)
        return Response(json.dumps({"endpoint": self.config.name, "routes": routes}, default=str),
                        200, media_type=_JSON)

    async def prometheus(self, request: Request) -> Response:
        for route in self.router.routes.values():
            if route.served is not None:
                self.metrics.serving(route.name, route.config.model, route.served.version)
        return Response(self.metrics.render(), 200, media_type=METRICS_CONTENT_TYPE)

    def close(self) -> None:
        self.router.stop()
        self.pool.shutdown(wait=True)
        try:
            self.inference.flush()
        except Exception as exc:  # noqa: BLE001 - the rows stay spooled for the next open
            logger.error("sparktrack serving: the inference log stays spooled: %s", exc)


def create_app(config: EndpointConfig, client: SparkTrackClient | None = None) -> Starlette:
    """The ASGI app serving ``config``'s routes. Models load in the background once the app
    starts (its lifespan), and ``/ping`` answers 503 until they have."""
    from sparktrack.client import SparkTrackClient

    endpoint = Endpoint(config, client or SparkTrackClient(config.store))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        endpoint.router.start()
        yield
        endpoint.close()

    routes = [
        HTTPRoute("/invocations", endpoint.invocations, methods=["POST"]),
        HTTPRoute("/ping", endpoint.ping, methods=["GET"]),
        HTTPRoute("/health", endpoint.ping, methods=["GET"]),
        HTTPRoute("/version", endpoint.version, methods=["GET"]),
        HTTPRoute("/metadata", endpoint.metadata, methods=["GET"]),
        HTTPRoute("/metrics", endpoint.prometheus, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _not_allowed, Exception: _internal})
    app.state.endpoint = endpoint
    return app


def _error(error: ServingError) -> Response:
    headers = {"www-authenticate": "Bearer"} if error.status == 401 else None
    return Response(error.body(), error.status, headers=headers, media_type=_JSON)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(ServingError(404, "ENDPOINT_NOT_FOUND",
                               f"No route {request.url.path!r}; this server answers POST /invocations "
                               "and GET /ping, /health, /version, /metadata, /metrics."))


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return _error(ServingError(405, "METHOD_NOT_ALLOWED",
                               f"{request.method} is not allowed on {request.url.path!r}."))


async def _internal(request: Request, exc: Exception) -> Response:
    logger.error("sparktrack serving: %s %s failed", request.method, request.url.path, exc_info=exc)
    return _error(ServingError(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"[:2000]))


def _too_large(size: int, limit: int) -> ServingError:
    return ServingError(413, "REQUEST_LIMIT_EXCEEDED",
                        f"The body is {size} bytes or more; this endpoint takes at most {limit} "
                        "(max_request_bytes). Split the records into several requests.")


def _client(request: Request) -> str | None:
    return f"{request.client.host}:{request.client.port}" if request.client else None
