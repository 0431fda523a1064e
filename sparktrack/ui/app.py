"""``sparktrack ui``: one Starlette app on uvicorn serving the UI's pages (sparktrack.ui.pages) and
its JSON API (sparktrack.ui.api, sparktrack.ui.registry) over a store, read through the delta-rs
engine: no JVM starts.

It reads, but for the registry actions (move an alias, tag a version), which go through the
registry client (the promotion policy, the audit log) and need the bearer token when one is set.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, AsyncIterator

if TYPE_CHECKING:
    from starlette.applications import Starlette

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5050
logger = logging.getLogger(__name__)


def create_app(store: str | None = None, token: str | None = None) -> Starlette:
    """The app over ``store``; ``token``: what registry actions need (None: they need none)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from sparktrack.client import SparkTrackClient
    from sparktrack.ui import api, lakehouse, pages, registry

    both = SparkTrackClient(store)  # its SparkSession is never asked for: nothing here starts a JVM
    client, models = both.tracking, both.registry

    async def not_found(request: Request, exc: Exception) -> Response:
        error = api.ApiError(404, "ENDPOINT_NOT_FOUND", f"No route {request.url.path!r}; the API is under /api "
                                                        "(see the README's UI section).")
        if not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", ""):
            return pages.error_page(error.status, error.message)  # a browser gets a page, scripts JSON
        return error.response()

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return api.ApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on "
                                                       f"{request.url.path!r}.").response()

    async def internal(request: Request, exc: Exception) -> Response:
        logger.error("sparktrack ui: %s %s failed", request.method, request.url.path, exc_info=exc)
        return api.ApiError(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"[:2000]).response()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        client.store.close()

    app = Starlette(routes=[*api.routes(client), *registry.routes(models, token), *lakehouse.routes(both),
                            *pages.routes()], exception_handlers={404: not_found, 405: not_allowed, Exception: internal},
                    lifespan=lifespan)
    return app


def serve(store: str | None, host: str, port: int, token: str | None) -> None:
    import uvicorn

    uvicorn.run(create_app(store, token), host=host, port=port, log_level="warning", access_log=False)
