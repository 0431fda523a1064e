"""What an endpoint serves: its routes, each a model URI with a share of the traffic, and the model
each one has loaded now.

A route whose URI follows the registry (``models:/name@alias``, ``models:/name/latest``) is
checked every ``poll_interval`` seconds by a background thread. When it names another version,
that version is loaded beside the one serving, and then takes its place in one assignment:
requests already running finish on the model they started with, and none fails.

A model logged with a training set (its descriptor has a ``feature_spec``) is served with an
``OnlineLookup`` (sparktrack.features.online): each request frame gets its features from
in-memory snapshots of the feature tables before the signature is enforced.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparktrack.models.enforce import enforce
from sparktrack.models.uris import MODELS_PREFIX
from sparktrack.serving.batching import Batcher

if TYPE_CHECKING:
    import pandas as pd

    from sparktrack.client import SparkTrackClient
    from sparktrack.features.online import OnlineLookup
    from sparktrack.models.base import LoadedModel
    from sparktrack.serving.config import EndpointConfig, RouteConfig

logger = logging.getLogger(__name__)
#: Flavors whose predictions are row by row, so that concurrent requests may be scored as one
#: frame (``batching = "auto"``).
ROW_WISE_FLAVORS = ("sklearn", "spark")


@dataclass
class ServedModel:
    """A loaded model and where it came from; ``batcher`` scores concurrent requests together, and
    ``lookup`` adds the features of a model logged with a training set."""

    model: LoadedModel
    uri: str  # the route's URI, as configured
    name: str | None  # registered model name, when served through the registry
    version: int | None
    run_id: str
    columns: list[str] | None  # the columns it reads, when known (signature or the model's own)
    batcher: Batcher | None = None
    lookup: OnlineLookup | None = None

    @property
    def label(self) -> str:
        return str(self.version) if self.version is not None else self.model.descriptor.run_id

    @property
    def request_columns(self) -> list[str] | None:
        """The columns a request carries: a feature model's keys and training columns (its
        features are looked up), else the columns the model reads."""
        return self.lookup.request_columns if self.lookup is not None else self.columns

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its features looked up (for a feature model) and the signature applied;
        a ``ModelInputError`` when it does not fit."""
        if self.lookup is not None:
            frame = self.lookup.augment(frame)
        return enforce(frame, self.model.descriptor.signature, self.columns, f"model {self.uri}")

    def predict(self, checked: pd.DataFrame) -> Any:
        """The model's predictions for a frame ``check`` returned."""
        if self.model.descriptor.flavor == "spark":
            return _score_spark(self.model, checked)
        return self.model.predict(checked)

    def score(self, frame: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        """Check and predict; ``params`` go to a Python model whose ``predict`` takes a ``params``
        argument, as MLflow passes them, and are ignored by other models."""
        checked = self.check(frame)
        if params and self.model.descriptor.flavor == "python_function":
            import inspect

            predict = getattr(self.model.native, "predict", None)
            if callable(predict) and "params" in inspect.signature(predict).parameters:
                return predict(checked, params=params)
        return self.predict(checked)

    def metadata(self) -> dict[str, Any]:
        descriptor = self.model.descriptor
        alias = self.uri.split("@", 1)[1] if self.uri.startswith(MODELS_PREFIX) and "@" in self.uri else None
        return {
            "model_uri": self.uri, "model_name": self.name, "model_version": self.version,
            "alias": alias, "run_id": self.run_id, "flavor": descriptor.flavor,
            "signature": descriptor.signature, "input_columns": self.columns,
            "output_column": descriptor.output_column, "output_type": descriptor.output_type,
            "feature_spec": self.lookup.metadata() if self.lookup is not None else None,
        }

    def close(self) -> None:
        """Stop batching and following the feature tables (once no request can still pick it)."""
        if self.batcher is not None:
            self.batcher.close()
        if self.lookup is not None:
            self.lookup.close()


def load(uri: str, client: SparkTrackClient, config: EndpointConfig) -> ServedModel:
    """Resolve ``uri`` (through the registry for ``models:/``) and load its model; a Spark ML
    model scores its input example once, so the first request finds Spark warm."""
    from sparktrack import models

    name = version = None
    source = uri
    if uri.startswith(MODELS_PREFIX):
        from sparktrack.models.uris import check_models_uri

        check_models_uri(uri)
        found = client.get_model_version_by_uri(uri)
        name, version, source = found.name, found.version, found.source
    model = models.load_model(source, client=client)
    served = ServedModel(model, uri, name, version, model.descriptor.run_id, model.input_columns)
    if model.descriptor.feature_spec is not None:
        served.lookup = _online_lookup(model.descriptor.feature_spec, uri, client, config)
    if config.batching == "on" or (config.batching == "auto" and model.descriptor.flavor in ROW_WISE_FLAVORS):
        served.batcher = Batcher(served.predict, config.max_batch_rows, served.label)
    if model.descriptor.flavor == "spark":
        _warm(served)
    return served


def _online_lookup(spec: dict[str, Any], uri: str, client: SparkTrackClient,
                   config: EndpointConfig) -> OnlineLookup:
    """The model's feature tables, read now (a missing table or column fails the load) and then
    followed every ``feature_refresh_interval`` seconds."""
    from sparktrack.features.online import OnlineLookup
    from sparktrack.features.spec import FeatureSpec

    lookup = OnlineLookup(FeatureSpec.from_dict(spec), model=f"model {uri}",
                          storage_options=client.store.location.storage_options,
                          refresh_interval=config.feature_refresh_interval)
    lookup.start()
    return lookup


def current_version(uri: str, client: SparkTrackClient) -> int | None:
    """The version a registry URI names now (None for other URIs)."""
    if not uri.startswith(MODELS_PREFIX):
        return None
    return client.get_model_version_by_uri(uri).version


def _score_spark(model: LoadedModel, frame: pd.DataFrame) -> Any:
    from pyspark.sql import SparkSession

    session = SparkSession.builder.getOrCreate()  # the session the model was loaded with
    scored = model.predict(session.createDataFrame(frame))
    return scored.select(model.output_column).toPandas()[model.output_column]


def _warm(served: ServedModel) -> None:
    example = served.model.descriptor.input_example
    if not example:
        return
    import pandas as pd

    try:
        served.score(pd.DataFrame.from_records(example))
    except Exception as exc:  # noqa: BLE001 - warming is best effort; requests report errors
        logger.warning("sparktrack serving: scoring the input example of %s failed: %s", served.uri, exc)


class Route:
    """A configured route and the model it serves now (None until loaded)."""

    def __init__(self, config: RouteConfig):
        self.config = config
        self.served: ServedModel | None = None
        self.error: str | None = None  # why the last load failed

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def follows_registry(self) -> bool:
        uri = self.config.model
        return uri.startswith(MODELS_PREFIX) and ("@" in uri or uri.lower().endswith("/latest"))


class Router:
    """An endpoint's routes, picked by weight or pinned by name."""

    def __init__(self, config: EndpointConfig, client: SparkTrackClient):
        self.config = config
        self.client = client
        self.routes = {route.name: Route(route) for route in config.routes}
        weighted = [route for route in self.routes.values() if route.config.traffic > 0]
        self._weighted = weighted
        self._bounds = list(itertools.accumulate(route.config.traffic for route in weighted))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loaded = threading.Event()

    @property
    def ready(self) -> bool:
        return all(route.served is not None for route in self.routes.values())

    def pick(self, pinned: str | None = None) -> Route | None:
        """The route named ``pinned``, or one picked at random by traffic share; None for an
        unknown name."""
        if pinned is not None:
            return self.routes.get(pinned)
        index = bisect.bisect_right(self._bounds, random.random() * self._bounds[-1])
        return self._weighted[min(index, len(self._weighted) - 1)]

    def load_all(self) -> None:
        """Load every route's model (at start-up); a route that fails keeps its error."""
        for route in self.routes.values():
            try:
                route.served = load(route.config.model, self.client, self.config)
                route.error = None
                logger.info("sparktrack serving: route %s serves %s (version %s)", route.name,
                            route.config.model, route.served.version)
            except Exception as exc:  # noqa: BLE001 - reported by /health and in the log
                route.error = f"{type(exc).__name__}: {exc}"
                logger.error("sparktrack serving: route %s cannot load %s: %s", route.name,
                             route.config.model, exc)
        self.loaded.set()

    def refresh(self) -> list[str]:
        """Load the version each registry-following route names now, where it changed; returns
        the routes switched."""
        switched = []
        for route in self.routes.values():
            if not route.follows_registry:
                continue
            try:
                version = current_version(route.config.model, self.client)
                if route.served is not None and route.served.version == version:
                    continue
                old = route.served
                route.served = load(route.config.model, self.client, self.config)
                route.error = None
                before = old.version if old else None
                if old is not None:
                    # requests that picked the old model just before the switch still submit to it
                    timer = threading.Timer(max(5.0, self.config.request_timeout), old.close)
                    timer.daemon = True
                    timer.start()
                switched.append(route.name)
                logger.info("sparktrack serving: route %s switched from version %s to %s",
                            route.name, before, route.served.version)
            except Exception as exc:  # noqa: BLE001 - keep serving the loaded version
                route.error = f"{type(exc).__name__}: {exc}"
                logger.warning("sparktrack serving: route %s keeps version %s: %s", route.name,
                               route.served.version if route.served else None, exc)
        return switched

    def start(self) -> None:
        """Load the models and then follow the registry, in a background thread."""
        def run() -> None:
            self.load_all()
            while not self._stop.wait(self.config.poll_interval):
                self.refresh()

        self._thread = threading.Thread(target=run, name="sparktrack-routes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for route in self.routes.values():
            if route.served is not None and route.served.lookup is not None:
                route.served.lookup.close()
