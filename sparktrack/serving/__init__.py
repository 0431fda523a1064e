"""Model serving over REST: MLflow's scoring protocol on Starlette and uvicorn, routes with traffic
shares that follow the registry's aliases, and an inference table in the store.

    from sparktrack import serving

    app = serving.build_app("models:/churn@Champion")       # an ASGI app
    serving.serve(serving.load_config("conf/serving/churn.toml"))

``sparktrack serve MODEL_URI`` and ``sparktrack serve --config FILE`` do the same from a shell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparktrack.serving.config import EndpointConfig, RouteConfig, for_model
from sparktrack.serving.config import load as load_config

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from sparktrack.client import SparkTrackClient

__all__ = ["EndpointConfig", "RouteConfig", "build_app", "load_config", "serve"]


def build_app(model_uri: str | None = None, *, config: EndpointConfig | None = None,
              client: SparkTrackClient | None = None) -> Starlette:
    """The ASGI app serving ``model_uri`` (any models:/ or runs:/ URI) or ``config``'s routes."""
    from sparktrack.serving.app import create_app

    return create_app(_endpoint(model_uri, config), client)


def serve(config: EndpointConfig | None = None, *, model_uri: str | None = None) -> None:
    """Serve an endpoint with uvicorn until SIGTERM or Ctrl-C (see sparktrack.serving.server)."""
    from sparktrack.serving.server import serve as run

    run(_endpoint(model_uri, config))


def _endpoint(model_uri: str | None, config: EndpointConfig | None) -> EndpointConfig:
    if model_uri is None and config is None:
        from sparktrack.errors import ConfigError

        raise ConfigError("Serve a model URI (models:/churn@Champion) or an endpoint config.")
    return for_model(model_uri, config) if model_uri is not None else config  # type: ignore[return-value]
