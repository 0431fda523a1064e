"""The inference table: one row per request an endpoint answered, in the store's ``inference_log``
table (``sparktrack.inference_log`` in SQL; ``sparktrack.inference_records`` has one row per
scored record, see sparktrack.views).

Rows go through the store's record buffer, as metrics do: each is written to the local spool
(one ``os.write``) before its response is sent, and committed in the background. A server killed
with SIGKILL loses no row of a request it answered; the next process to open the store commits
it. With ``sampling_fraction`` below 1, that share of requests is kept, picked at random, and each
row says the fraction it was sampled at.
"""

from __future__ import annotations

import random
import uuid
from typing import TYPE_CHECKING

from sparktrack.store import layout

if TYPE_CHECKING:
    from sparktrack.store.store import Store

_MS_PER_DAY = 86_400_000
TABLE = layout.INFERENCE_LOG


class InferenceLog:
    def __init__(self, store: Store, endpoint: str, sampling_fraction: float = 1.0, enabled: bool = True):
        self.store = store
        self.endpoint = endpoint
        self.sampling_fraction = sampling_fraction
        self.enabled = enabled

    def record(self, *, request_id: str, client_request_id: str | None, started_ms: int,
               status_code: int, execution_time_ms: int, model_name: str | None,
               model_version: int | None, route: str | None, request: str | None,
               response: str | None) -> None:
        """Spool one request's row (or skip it, as sampling says)."""
        if not self.enabled or (self.sampling_fraction < 1 and random.random() >= self.sampling_fraction):
            return
        self.store.buffer.add(TABLE.name, (
            request_id, client_request_id, self.endpoint, started_ms, started_ms // _MS_PER_DAY,
            status_code, execution_time_ms, model_name, model_version, route, request, response,
            self.sampling_fraction,
        ))

    def flush(self) -> None:
        self.store.flush()


def new_request_id() -> str:
    return uuid.uuid4().hex

