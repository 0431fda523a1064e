"""What the fluent flavor modules (``sparktrack.spark``, ``.sklearn``, ``.pyfunc``) share: the
client and the run a model is logged to when the caller names neither."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from sparktrack.errors import InvalidValueError

if TYPE_CHECKING:
    from sparktrack.client import SparkTrackClient


def client_and_run(client: SparkTrackClient | None,
                   run_id: str | None) -> tuple[SparkTrackClient, str | Callable[[], str]]:
    """``client`` and ``run_id`` as given; else the fluent API's client and its active run (a new
    run when none is active, as the fluent API starts one on the first log call; the flavor asks
    for it only once the model and the other arguments passed their checks)."""
    from sparktrack.tracking import fluent

    if client is not None:
        if run_id is None:
            raise InvalidValueError("run_id", run_id, "the id of a run of the given client's store "
                                    "(a client has no active run; create one with client.create_run)")
        return client, run_id
    return fluent.client(), run_id if run_id is not None else fluent.logging_run_id


def loaded(client: SparkTrackClient | None) -> SparkTrackClient:
    from sparktrack.tracking import fluent

    return client if client is not None else fluent.client()
