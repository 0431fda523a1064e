"""Endpoint configs: ``conf/serving/<name>.toml``, one ``[endpoint]`` table with its routes.

    [endpoint]
    name = "churn"
    poll_interval = 10.0

    [[endpoint.routes]]
    name = "champion"
    model = "models:/churn@Champion"
    traffic = 90

    [[endpoint.routes]]
    name = "challenger"
    model = "models:/churn@Challenger"
    traffic = 10

``sparktrack serve MODEL_URI`` serves one model with the defaults, as the endpoint named after
the model.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from dataclasses import dataclass
from typing import Any

from sparktrack import config
from sparktrack.errors import ConfigError
from sparktrack.models.uris import MODELS_PREFIX, RUNS_PREFIX

SECTION = "endpoint"
DEFAULT_DIR = os.path.join("conf", "serving")
DEFAULT_ROUTE = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
BATCHING = ("auto", "on", "off")
_NAME_RULE = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"


@dataclass(frozen=True)
class RouteConfig:
    name: str
    model: str  # models:/name@alias, models:/name/version, runs:/id/path, or a model directory
    traffic: float = 100.0  # its share: traffic / the sum of all routes' traffic

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"Route name {self.name!r} is invalid: use {_NAME_RULE}.")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(f"Route {self.name!r} needs a model URI, e.g. models:/churn@Champion; "
                              f"got {self.model!r}.")
        if not 0 <= self.traffic <= 100 or self.traffic != self.traffic:
            raise ConfigError(f"Route {self.name!r} has traffic {self.traffic!r}; use a share from "
                              "0 to 100 (0: reachable only by pinning it with the route header).")


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    routes: tuple[RouteConfig, ...]
    store: str | None = None  # default: the store setting
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    poll_interval: float = 10.0  # seconds between checks of the routes' aliases
    feature_refresh_interval: float = 2.0  # seconds between checks of feature tables' versions
    log_inference: bool = True
    sampling_fraction: float = 1.0  # of requests written to the inference table
    max_request_bytes: int = 16 << 20
    request_timeout: float = 60.0  # seconds, then 504
    max_concurrency: int = 4  # requests scored at once, per worker
    max_queue: int = 64  # requests waiting beyond those, per worker, then 503
    token_env: str = "SPARKTRACK_SERVING_TOKEN"  # the variable holding the bearer token, if any
    batching: str = "auto"  # score concurrent requests as one frame: auto (sklearn, spark), on, off
    max_batch_rows: int = 10_000

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"Endpoint name {self.name!r} is invalid: use {_NAME_RULE}.")
        if not self.routes:
            raise ConfigError(f"Endpoint {self.name!r} has no routes: add [[endpoint.routes]] "
                              "tables with a name and a model URI.")
        names = [route.name for route in self.routes]
        if len(set(names)) != len(names):
            raise ConfigError(f"Endpoint {self.name!r} has routes with the same name: {names}.")
        if not sum(route.traffic for route in self.routes) > 0:
            raise ConfigError(f"Endpoint {self.name!r}: the routes' traffic adds up to 0; give at "
                              "least one route a share.")
        checks = {
            "port": 0 <= self.port <= 65535, "workers": 1 <= self.workers <= 64,
            "poll_interval": self.poll_interval > 0,
            "feature_refresh_interval": self.feature_refresh_interval > 0,
            "sampling_fraction": 0 < self.sampling_fraction <= 1,
            "max_request_bytes": self.max_request_bytes > 0, "request_timeout": self.request_timeout > 0,
            "max_concurrency": self.max_concurrency >= 1, "max_queue": self.max_queue >= 0,
            "batching": self.batching in BATCHING, "max_batch_rows": self.max_batch_rows >= 1,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(f"Endpoint {self.name!r}: {key} = {getattr(self, key)!r} is not "
                                  f"allowed. {_RANGES[key]}")

    @property
    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None

    def replace(self, **changes: Any) -> EndpointConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Any, where: str = "the endpoint config") -> EndpointConfig:
        return config.build(cls, values, where)


_RANGES = {
    "port": "Use 0-65535 (0: any free port).", "workers": "Use 1-64.",
    "poll_interval": "Use a number of seconds above 0.",
    "feature_refresh_interval": "Use a number of seconds above 0.",
    "sampling_fraction": "Use a fraction above 0 and at most 1.",
    "max_request_bytes": "Use a positive number of bytes.",
    "request_timeout": "Use a number of seconds above 0.",
    "max_concurrency": "Use 1 or more.", "max_queue": "Use 0 or more.",
    "batching": "Use 'auto' (scikit-learn and Spark ML models), 'on' (every model: only for "
                "models whose predictions are row by row) or 'off'.",
    "max_batch_rows": "Use 1 or more.",
}


def load(path: str) -> EndpointConfig:
    """The endpoint config in the TOML file at ``path``."""
    return EndpointConfig.from_dict(config.read_section(path, SECTION, "Endpoint"),
                                    f"[{SECTION}] of {path}")


def for_model(model_uri: str, base: EndpointConfig | None = None) -> EndpointConfig:
    """An endpoint serving ``model_uri`` alone: ``base``'s settings (if any), one route."""
    route = RouteConfig(name=DEFAULT_ROUTE, model=model_uri)
    if base is not None:
        return dataclasses.replace(base, routes=(route,))
    return EndpointConfig(name=endpoint_name(model_uri), routes=(route,))


def endpoint_name(model_uri: str) -> str:
    """``churn`` for ``models:/churn@Champion``; ``run-<id>`` for ``runs:/<id>/model``."""
    if model_uri.startswith(MODELS_PREFIX):
        candidate = re.split(r"[@/]", model_uri[len(MODELS_PREFIX):], maxsplit=1)[0]
    elif model_uri.startswith(RUNS_PREFIX):
        candidate = "run-" + model_uri[len(RUNS_PREFIX):].strip("/").split("/", 1)[0][:12]
    else:
        candidate = os.path.basename(model_uri.rstrip("/")) or "model"
    candidate = re.sub(r"[^A-Za-z0-9_.-]", "_", candidate)[:64]
    return candidate if _NAME.match(candidate) else "model"


def discover(directory: str = DEFAULT_DIR) -> list[tuple[str, EndpointConfig]]:
    """Every endpoint config in ``directory`` (``*.toml``), by path."""
    return [(path, load(path)) for path in sorted(glob.glob(os.path.join(directory, "*.toml")))]
