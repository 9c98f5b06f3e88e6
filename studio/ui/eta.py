"""The Train tab's ETA: the step rate over a sliding window of wall time, not the last chunk.

A single slow chunk (a sample grid, a checkpoint, the live metrics) used to set the rate,
so the ETA jumped 20x for a moment and back. Over a window of WINDOW_S seconds one slow
chunk moves it a little; a lasting slow-down (another program took a core) still shows,
but the rate moves by at most MAX_CHANGE per update, so the ETA climbs over a few
updates instead of jumping. Qt-free, so it is tested on its own.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 30.0  # the rate is measured over about this much of the latest wall time
MAX_CHANGE = 2.0  # the shown rate follows the measured one by at most this factor per update


class EtaEstimate:
    def __init__(self, window_s: float = WINDOW_S):
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()  # (time, step)
        self._rate: float | None = None  # steps/s, as shown

    def reset(self) -> None:
        """Forget the rate (a new run, or a resume after a pause: paused time is not slow)."""
        self._samples.clear()
        self._rate = None

    def add(self, now: float, step: int) -> None:
        self._samples.append((now, step))
        # Keep one sample at or beyond the window's start, so the span covers the window.
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()
        measured = self._window_rate()
        if measured is not None:
            prev = self._rate
            self._rate = measured if prev is None else min(max(measured, prev / MAX_CHANGE), prev * MAX_CHANGE)

    def _window_rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        if t1 <= t0 or s1 <= s0:
            return None
        return (s1 - s0) / (t1 - t0)

    def steps_per_second(self) -> float | None:
        return self._rate

    def remaining_s(self, total_steps: int) -> float | None:
        rate = self.steps_per_second()
        if rate is None:
            return None
        return max(0, total_steps - self._samples[-1][1]) / rate
