"""Scoring the requests that wait at the same moment in one call of the model.

A forest's ``predict`` costs about as much for eight rows as for one (most of it is per call, not
per row), so under concurrent load the server scores every request that is waiting for a model as
one frame and hands each request its own slice of the predictions. Nothing waits on purpose: a
lone request is scored at once, alone. This is only right for a model whose prediction for a row
depends on that row alone, as with scikit-learn estimators and Spark ML pipelines; the endpoint's
``batching`` setting says which models get it.

If scoring a batch raises, each of its requests is scored again alone, so one request's bad
values fail only that request.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


class Closed(RuntimeError):
    """The batcher's model was replaced; score with the route's current model."""


class Batcher:
    def __init__(self, score: Callable[[pd.DataFrame], Any], max_rows: int, name: str):
        self._score = score
        self._max_rows = max_rows
        self._waiting: list[tuple[pd.DataFrame, Future]] = []
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"sparktrack-batch-{name}", daemon=True)
        self._thread.start()

    def submit(self, frame: pd.DataFrame) -> Future:
        future: Future = Future()
        with self._ready:
            if self._closed:
                raise Closed("this model was replaced; its batcher takes no more requests")
            self._waiting.append((frame, future))
            self._ready.notify()
        return future

    def close(self) -> None:
        """Score what is waiting, then stop."""
        with self._ready:
            self._closed = True
            self._ready.notify()

    def _take(self) -> list[tuple[pd.DataFrame, Future]] | None:
        with self._ready:
            while not self._waiting:
                if self._closed:
                    return None
                self._ready.wait()
            taken, rows = [], 0
            while self._waiting and (not taken or rows + len(self._waiting[0][0]) <= self._max_rows):
                frame, future = self._waiting.pop(0)
                if future.set_running_or_notify_cancel():  # False: its request timed out meanwhile
                    taken.append((frame, future))
                    rows += len(frame)
            return taken

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            if taken:
                self._score_batch(taken)

    def _score_batch(self, taken: list[tuple[pd.DataFrame, Future]]) -> None:
        import pandas as pd

        if len(taken) > 1:
            try:
                predictions = self._score(pd.concat([frame for frame, _ in taken], ignore_index=True))
                sliced = _split(predictions, [len(frame) for frame, _ in taken])
            except Exception:  # noqa: BLE001 - each request is scored alone below, to fail alone
                sliced = None
            if sliced is not None:
                for (_, future), part in zip(taken, sliced):
                    future.set_result(part)
                return
        for frame, future in taken:
            try:
                future.set_result(self._score(frame))
            except BaseException as exc:  # noqa: BLE001 - handed to the request that sent it
                future.set_exception(exc)


def _split(predictions: Any, lengths: list[int]) -> list[Any] | None:
    """Predictions for the concatenated frames, cut back into one part per request; None when
    they are not one per row."""
    import numpy as np

    if hasattr(predictions, "iloc"):  # a pandas Series or DataFrame
        if len(predictions) != sum(lengths):
            return None
        bounds = np.cumsum([0, *lengths])
        return [predictions.iloc[start:end] for start, end in zip(bounds[:-1], bounds[1:])]
    array = np.asarray(predictions)
    if array.ndim == 0 or len(array) != sum(lengths):
        return None
    return np.split(array, np.cumsum(lengths)[:-1])
