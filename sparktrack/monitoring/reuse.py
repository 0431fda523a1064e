"""What a refresh takes from the last one's state instead of reading it again.

- The baseline's summary (its profiles and category counts), kept in the state while the baseline
  is the one it was computed from (its pinned Delta version, or the lineage's pins), unless its
  JSON exceeds ``BASELINE_STATE_LIMIT`` characters (many slices or categories): the monitor's
  state is repeated in every refresh event of the store, so such a baseline is profiled again at
  each refresh instead.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

#: The largest baseline summary (characters of JSON) a monitor's state keeps.
BASELINE_STATE_LIMIT = 200_000


def kept_baseline(state: Mapping[str, Any], base_state: Any) -> tuple[dict[tuple, Any], dict[tuple, Any]] | None:
    """The baseline's summaries and category counts from ``state``, when it holds them for this
    ``base_state`` (None otherwise: compute them)."""
    kept = state.get("baseline_summary")
    if base_state is None or kept is None or state.get("baseline") != base_state:
        return None
    summaries = {tuple(key): value for key, value in kept["summaries"]}
    counts = {tuple(key): value for key, value in kept["counts"]}
    return summaries, counts


def baseline_state(base: Mapping[str, Any] | None, base_state: Any) -> dict[str, Any]:
    """What the next refresh's ``kept_baseline`` reads: {} when there is no pinned baseline, or
    its summary is too large to keep."""
    if base is None or base_state is None:
        return {}
    kept = {"summaries": [[list(key), value] for key, value in base["summaries"].items()],
            "counts": [[list(key), value] for key, value in base["counts"].items()]}
    if len(json.dumps(kept)) > BASELINE_STATE_LIMIT:
        return {}
    return {"baseline_summary": kept}
