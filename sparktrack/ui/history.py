"""Downsampling a metric's history for a chart: the points cut into equal buckets by position
(in step order), and each bucket kept as its minimum, its maximum and its last point, so spikes
and the latest value survive however long the history is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

#: Points a bucket keeps at most (its min, its max and its last).
PER_BUCKET = 3


def downsample(history: pa.Table, max_points: int) -> dict[str, list]:
    """``history`` (``value``, ``timestamp``, ``step``, in step order) as at most ``max_points``
    points, in the same order: ``{"step": [...], "timestamp": [...] (epoch ms), "value": [...]}``.
    A history of ``max_points`` or fewer comes back whole."""
    values = history["value"].to_numpy(zero_copy_only=False).astype(float)
    steps = history["step"].to_numpy(zero_copy_only=False)
    times = history["timestamp"].cast("int64").to_numpy(zero_copy_only=False) // 1000  # µs -> ms
    n = len(values)
    if n > max_points:
        keep = _kept(values, max(1, max_points // PER_BUCKET))
        values, steps, times = values[keep], steps[keep], times[keep]
    drawn = values.tolist()
    for position in np.flatnonzero(~np.isfinite(values)).tolist():  # JSON has no NaN or infinity
        drawn[position] = None
    return {"step": steps.tolist(), "timestamp": times.tolist(), "value": drawn}


def _kept(values: np.ndarray, buckets: int) -> np.ndarray:
    """The positions kept: per bucket of ceil(n / buckets) points, the first minimum, the first
    maximum and the last point (NaNs are skipped for the min and max), sorted."""
    n = len(values)
    size = -(-n // buckets)
    buckets = -(-n // size)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    starts = np.arange(buckets) * size
    empty = np.all(np.isnan(grid), axis=1)
    filled = np.where(np.isnan(grid), np.inf, grid)
    low = starts + np.argmin(filled, axis=1)
    high = starts + np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1)
    last = np.minimum(starts + size, n) - 1
    chosen = np.concatenate([low[~empty], high[~empty], last])
    return np.unique(chosen)
