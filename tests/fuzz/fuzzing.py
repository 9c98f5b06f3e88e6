"""Shared by the fuzz tests: the example budget and the guard every example runs under.

The property everywhere: the studio either works or raises one of its own user errors
(StudioError), never another exception, never a hang, never more than a bounded amount
of memory.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, settings

from studio.core.errors import StudioError

T = TypeVar("T")

EXAMPLES = int(os.environ.get("LATENT_STUDIO_FUZZ_EXAMPLES", "60"))
HANG_S = 60.0  # an example this slow is hung: faulthandler prints every stack and exits
SLOW_S = 10.0  # an example slower than this fails (a tiny file must not take seconds)
PYTHON_BYTES = 64 * 1024**2  # peak of Python-level allocations (numpy included) per example
PROCESS_BYTES = 1024**3  # growth of the process's peak RSS (PIL's own buffers) per example

# Fixed examples (derandomize) so a run is repeatable and fast; no database on disk.
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def works_or_user_error(run: Callable[[], T], errors: tuple[type[Exception], ...] = (StudioError,)) -> T | Exception:
    """``run()``'s result, or the user error (one of ``errors``) it raised; any other
    exception propagates (hypothesis then shrinks and reports it). Fails on hangs,
    slowness and memory."""
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    rss_before = _peak_rss()
    tracemalloc.start()
    start = time.monotonic()
    try:
        try:
            result: T | Exception = run()
        except errors as exc:
            result = exc
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        faulthandler.cancel_dump_traceback_later()
    elapsed = time.monotonic() - start
    assert elapsed < SLOW_S, f"took {elapsed:.1f} s"
    assert python_peak < PYTHON_BYTES, f"Python allocations peaked at {python_peak:,} bytes"
    grown = _peak_rss() - rss_before
    assert grown < PROCESS_BYTES, f"the process's peak memory grew by {grown:,} bytes"
    return result


def _peak_rss() -> int:
    if sys.platform == "win32":  # no resource module; the tracemalloc bound still holds
        return 0
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kB elsewhere


def assert_valid_text(text: str) -> None:
    """What a terminal, a UTF-8 JSON file or Qt does with a message: it must encode."""
    text.encode("utf-8")
