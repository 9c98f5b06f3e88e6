"""Growing numpy buffers and EMA smoothing for long curves (no Qt here).

A curve of 100,000+ points is appended to a few values at a time; arrays that double
their capacity make each append O(new points), and the plot gets views, not copies.
"""

from __future__ import annotations

import functools

import numpy as np

_BLOCK = 256


class Series:
    """x, y and the EMA-smoothed y of one curve."""

    def __init__(self, capacity: int = 1024):
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._s = np.empty(capacity, dtype=np.float64)
        self.n = 0
        self.weight = 0.0

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    @property
    def smoothed(self) -> np.ndarray:
        return self._s[: self.n]

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        k = len(x)
        if self.n + k > len(self._x):
            cap = max(2 * len(self._x), self.n + k)
            for name in ("_x", "_y", "_s"):
                grown = np.empty(cap, dtype=np.float64)
                grown[: self.n] = getattr(self, name)[: self.n]
                setattr(self, name, grown)
        self._x[self.n : self.n + k] = x
        self._y[self.n : self.n + k] = y
        start = self._s[self.n - 1] if self.n else None
        self._s[self.n : self.n + k] = ema(np.asarray(y, dtype=np.float64), self.weight, start)
        self.n += k

    def set_weight(self, weight: float) -> None:
        """Change the smoothing and recompute the whole smoothed curve (vectorised)."""
        self.weight = float(weight)
        self._s[: self.n] = ema(self.y, self.weight, None)

    def clear(self) -> None:
        self.n = 0


def ema(values: np.ndarray, weight: float, start: float | None) -> np.ndarray:
    """s_t = w * s_{t-1} + (1 - w) * x_t, seeded with ``start`` (or the first value).

    TensorBoard's smoothing. Vectorised in blocks: within a block of B points,
    s = w^(j+1) * s_prev + (1-w) * sum_i w^(j-i) x_i, a lower-triangular matrix product;
    blocks keep w^B from underflowing. NaN inputs carry the previous value forward.
    """
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values.copy()
    out = np.empty_like(values)
    prev = values[0] if start is None or not np.isfinite(start) else float(start)
    if not np.isfinite(prev):
        finite = values[np.isfinite(values)]
        prev = finite[0] if len(finite) else 0.0
    kernel, decay = _kernel(float(weight))
    for lo in range(0, len(values), _BLOCK):
        block = values[lo : lo + _BLOCK]
        m = len(block)
        if not np.all(np.isfinite(block)):
            block = _fill_forward(block, prev)
        out[lo : lo + m] = kernel[:m, :m] @ block + decay[:m] * prev
        prev = out[lo + m - 1]
    return out


@functools.lru_cache(maxsize=8)
def _kernel(weight: float) -> tuple[np.ndarray, np.ndarray]:
    """The block matrix and decay vector of ``ema`` (built once per smoothing weight)."""
    j = np.arange(_BLOCK)
    powers = weight ** (j[:, None] - j[None, :]).clip(min=0)
    return np.tril(powers) * (1 - weight), weight ** (j + 1)


def _fill_forward(block: np.ndarray, prev: float) -> np.ndarray:
    filled = block.copy()
    last = prev
    for i, v in enumerate(filled):
        if np.isfinite(v):
            last = v
        else:
            filled[i] = last
    return filled
