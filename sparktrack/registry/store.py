"""The registry store: registered models, versions and every change as rows of three tables.

``AbstractRegistryStore`` is what a registry backend implements: two uniqueness claims (a name,
a version number), an append of change events, and reads of the state folded from them, now or
as of a time. The rules of the registry (validation, the promotion policy, what each change
records) live once in ``RegistryClient``. ``DeltaRegistryStore`` implements the interface on a
``Store``.
"""

from __future__ import annotations

import abc
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from sparktrack.entities import now_ms
from sparktrack.errors import StoreError
from sparktrack.registry import state
from sparktrack.registry.state import RegistryState
from sparktrack.store import layout

if TYPE_CHECKING:
    from sparktrack.store.store import Store

#: The most versions allocation tries before giving up (each try lost a race to a new version).
MAX_VERSION_ATTEMPTS = 100


@dataclass(frozen=True, kw_only=True)
class RegistryEvent:
    """One change of the registry: a row of ``registry_events`` (the ``registry_audit`` view)."""

    model_id: str
    name: str
    action: str
    user_id: str | None
    version: int | None = None
    key: str | None = None
    value: str | None = None
    before: str | None = None  # JSON
    after: str | None = None  # JSON


class AbstractRegistryStore(abc.ABC):
    @abc.abstractmethod
    def reserve_name(self, name: str, *, model_id: str, user_id: str | None, renamed_from: str | None) -> bool:
        """Reserve ``name`` for ``model_id`` unless it was ever used; True when reserved."""

    @abc.abstractmethod
    def allocate_version(self, model_id: str, *, source: str, run_id: str | None, user_id: str | None) -> int:
        """The next version number of the model, unique and consecutive across processes."""

    @abc.abstractmethod
    def append_events(self, events: Sequence[RegistryEvent]) -> None:
        """Record changes, in order, in one commit."""

    @abc.abstractmethod
    def state(self, as_of: dt.datetime | None = None) -> RegistryState:
        """Every model and version, now or as they stood at ``as_of``."""

    @abc.abstractmethod
    def events(self, model_id: str | None = None) -> list[dict[str, Any]]:
        """Every change (of one model), oldest first, as rows of ``registry_audit``."""

    @abc.abstractmethod
    def event_log_time(self, version: int) -> dt.datetime | None:
        """When version ``version`` of the change log was committed (None if there is none)."""


class DeltaRegistryStore(AbstractRegistryStore):
    _SOURCES = (layout.REGISTERED_MODELS, layout.MODEL_VERSIONS, layout.REGISTRY_EVENTS)

    def __init__(self, store: Store):
        self.store = store

    def reserve_name(self, name: str, *, model_id: str, user_id: str | None, renamed_from: str | None) -> bool:
        row = layout.REGISTERED_MODELS.row(model_id=model_id, name=name, creation_time=now_ms(),
                                           user_id=user_id, renamed_from=renamed_from)
        return self.store.commits.claim(layout.REGISTERED_MODELS, row, {"name": name})

    def allocate_version(self, model_id: str, *, source: str, run_id: str | None, user_id: str | None) -> int:
        """Claim ``(model_id, latest + 1)``: the claim lands only if no other commit landed since
        the latest version was read (see DeltaTables.claim), so two processes never take one
        number; the loser reads the new latest and claims the next."""
        import pyarrow.compute as pc

        version_id = uuid.uuid4().hex
        for _ in range(MAX_VERSION_ATTEMPTS):
            rows = self.store.reads.rows(layout.MODEL_VERSIONS)
            mine = rows.filter(pc.equal(rows["model_id"], model_id))["version"].to_pylist()
            number = max(mine, default=0) + 1
            row = layout.MODEL_VERSIONS.row(model_id=model_id, version=number, version_id=version_id,
                                            source=source, run_id=run_id, creation_time=now_ms(), user_id=user_id)
            if self.store.commits.claim(layout.MODEL_VERSIONS, row, {"model_id": model_id, "version": number}):
                return number
        raise StoreError(f"Could not allocate a version of model {model_id}: {MAX_VERSION_ATTEMPTS} other "
                         "versions were registered while this one tried.")

    def append_events(self, events: Sequence[RegistryEvent]) -> None:
        now = now_ms()
        self.store.commits.append(layout.REGISTRY_EVENTS, [layout.REGISTRY_EVENTS.row(
            event_id=uuid.uuid4().hex, event_time=now, seq=next(self.store.seq), user_id=e.user_id,
            model_id=e.model_id, name=e.name, version=e.version, action=e.action, key=e.key,
            value=e.value, before=e.before, after=e.after) for e in events])

    def state(self, as_of: dt.datetime | None = None) -> RegistryState:
        """Folded once per commit to any of the three tables (see Reads.memo)."""
        def fold() -> RegistryState:
            return state.fold(*self.store.reads.read(*((table, {}) for table in self._SOURCES), as_of=as_of))

        if as_of is not None:
            return fold()
        return self.store.reads.memo(("registry state",), self._SOURCES, fold)

    def events(self, model_id: str | None = None) -> list[dict[str, Any]]:
        where = {"model_id": [model_id]} if model_id is not None else {}
        (rows,) = self.store.reads.read((layout.REGISTRY_EVENTS, where))
        return rows.sort_by([("event_time", "ascending"), ("seq", "ascending")]).to_pylist()

    def event_log_time(self, version: int) -> dt.datetime | None:
        return self.store.tables.commit_time(layout.REGISTRY_EVENTS.name, version)
