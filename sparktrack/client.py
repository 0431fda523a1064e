"""``SparkTrackClient``: tracking and the registry in one client, for users coming from
``MlflowClient``. It holds a ``TrackingClient`` (``.tracking``) and a ``RegistryClient``
(``.registry``) on one store, and answers every method of both by name.

    client = SparkTrackClient()          # follows set_tracking_uri, as MlflowClient() does
    run = client.create_run("0")
    client.log_metric(run.info.run_id, "acc", 0.9)
    client.register_model(f"runs:/{run.info.run_id}/model", "churn")
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Mapping

from sparktrack import defaults
from sparktrack.registry.client import RegistryClient
from sparktrack.tracking.client import TrackingClient

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.store.store import Store


class SparkTrackClient:
    """Tracking and registry operations on one store root: ``store``, else the one
    ``set_tracking_uri`` set, else the ``store`` setting."""

    def __init__(self, store: str | None = None, spark: SparkSession | None = None,
                 database: str | None = None, policy: Mapping[str, Mapping[str, str]] | None = None):
        self.tracking = TrackingClient(store, spark, database)
        self.registry = RegistryClient(self.tracking.store_root, policy)

    @classmethod
    def default(cls) -> SparkTrackClient:
        """A client on the default store and session (what set_tracking_uri set)."""
        return cls(defaults.store(), defaults.spark())

    @property
    def spark(self) -> SparkSession:
        return self.tracking.spark

    @property
    def store_root(self) -> str:
        return self.tracking.store_root

    @property
    def database(self) -> str:
        return self.tracking.database

    @property
    def store(self) -> Store:
        """The opened store both clients use."""
        return self.tracking.store

    def __repr__(self) -> str:
        return f"SparkTrackClient(store={self.store_root!r})"


def _forward(component: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def forwarded(self: SparkTrackClient, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self, component), method.__name__)(*args, **kwargs)

    return forwarded


def _public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {name: member for name, member in vars(cls).items() if callable(member) and not name.startswith("_")}


#: The methods of both clients, by name (no name is in both).
TRACKING_METHODS = _public_methods(TrackingClient)
REGISTRY_METHODS = _public_methods(RegistryClient)
if set(TRACKING_METHODS) & set(REGISTRY_METHODS):  # pragma: no cover - a name clash is a bug here
    raise TypeError(f"TrackingClient and RegistryClient share {set(TRACKING_METHODS) & set(REGISTRY_METHODS)}")
for _name, _method in TRACKING_METHODS.items():
    setattr(SparkTrackClient, _name, _forward("tracking", _method))
for _name, _method in REGISTRY_METHODS.items():
    setattr(SparkTrackClient, _name, _forward("registry", _method))
