"""Guards against a reference-counting bug of PySide6 6.12.0 on Python 3.11.

PySide6 6.12.0 returns ``True``/``False`` from ``SignalInstance.emit`` and ``disconnect``
without taking a reference (a borrowed reference handed out as a new one), so each
Python-side emit takes one reference away from ``True`` and each disconnect one from
``False``. Python 3.12+ makes these singletons immortal and is unaffected; on 3.11
their counts run down and the interpreter aborts ("bool_dealloc: deallocating True or
False") after some thousands of emits, i.e. minutes into a training run (pyqtgraph
emits on every redraw). PySide6 6.11.3 does not have the bug.

The workaround mirrors what Python 3.12 does: on the affected combination only, it
adds 2**40 to the reference counts of True, False and None, which are never freed
anyway. The proper fix is a PySide6 version without the bug (pin ``!=6.12.0``).
"""

from __future__ import annotations

import ctypes
import sys

AFFECTED = {"6.12.0"}
_HEADROOM = 1 << 40


def _affected(version: str) -> bool:
    return sys.version_info < (3, 12) and sys.implementation.name == "cpython" and version in AFFECTED


def apply() -> bool:
    """Make the singletons effectively immortal if this PySide6 needs it; True if it did."""
    import PySide6

    if not _affected(PySide6.__version__) or getattr(sys, "_latent_studio_refcount_guard", False):
        return False
    for obj in (True, False, None):
        # CPython < 3.12: ob_refcnt is the first field of every object.
        ctypes.c_ssize_t.from_address(id(obj)).value += _HEADROOM
    sys._latent_studio_refcount_guard = True
    return True
