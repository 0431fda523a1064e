"""``sparktrack ui``: one Starlette app on uvicorn serving the UI's JSON API (sparktrack.ui.api)
over a store, read through the delta-rs engine: no JVM starts.

It only reads.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, AsyncIterator

if TYPE_CHECKING:
    from starlette.applications import Starlette

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 5050


def create_app(store: str | None = None) -> Starlette:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from sparktrack.tracking.client import TrackingClient
    from sparktrack.ui import api

    client = TrackingClient(store)

    async def not_found(request: Request, exc: Exception) -> Response:
        return api.ApiError(404, "ENDPOINT_NOT_FOUND", f"No route {request.url.path!r}; the API is under /api "
                                                       "(see the README's UI section).").response()

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return api.ApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on "
                                                       f"{request.url.path!r}.").response()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        client.store.close()

    app = Starlette(routes=api.routes(client), exception_handlers={404: not_found, 405: not_allowed},
                    lifespan=lifespan)
    return app


def serve(store: str | None, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(store), host=host, port=port, log_level="warning", access_log=False)
