"""Running an endpoint: uvicorn on loopback unless told otherwise, one process per worker.

With one worker the app runs in this process. With more, uvicorn starts each worker as a fresh
process (spawned, so each opens the store and loads the models itself) that builds the app from
the config this process hands it in ``SPARKTRACK_SERVING_ENDPOINT``; they share the port and a
``PROMETHEUS_MULTIPROC_DIR`` for ``/metrics``. SIGTERM or Ctrl-C stops taking connections,
lets the requests in flight finish, and commits the inference log before the process exits.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from sparktrack.serving.config import EndpointConfig

ENV = "SPARKTRACK_SERVING_ENDPOINT"
#: Seconds a stopping server waits for requests in flight.
GRACEFUL_SHUTDOWN = 30


def serve(config: EndpointConfig) -> None:
    """Serve ``config`` until SIGTERM or Ctrl-C."""
    import uvicorn

    _configure_logging()
    options = dict(host=config.host, port=config.port, log_level="info", access_log=False,
                   timeout_graceful_shutdown=GRACEFUL_SHUTDOWN, log_config=None)
    if config.workers == 1:
        from sparktrack.serving.app import create_app

        uvicorn.run(create_app(config), **options)
        return
    directory = tempfile.mkdtemp(prefix="sparktrack-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.environ[ENV] = json.dumps(config.to_dict())
    try:
        uvicorn.run("sparktrack.serving.server:worker_app", factory=True, workers=config.workers,
                    **options)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def worker_app() -> Starlette:
    """A worker's app, from the config its parent put in ``SPARKTRACK_SERVING_ENDPOINT``."""
    from sparktrack.serving.app import create_app
    from sparktrack.serving.config import EndpointConfig

    _configure_logging()
    return create_app(EndpointConfig.from_dict(json.loads(os.environ[ENV]), f"${ENV}"))


def _configure_logging() -> None:
    """Serving's and uvicorn's log lines (the JSON access log among them) on stderr, once."""
    for name in ("sparktrack", "uvicorn"):
        log = logging.getLogger(name)
        if not log.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
