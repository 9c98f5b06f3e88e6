"""A progress bar that repaints with the window's next paint pass, not at once."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar


class ProgressBar(QProgressBar):
    """``QProgressBar.setValue`` calls ``repaint()`` whenever the shown value changes, and a
    synchronous repaint paints every pending region of the window with it: a dirty loss
    plot (~15 ms), a new sample grid. A value set from the view timer then paints all of
    that inside one timer event, the event loop's longest wait at a run's start. With
    updates off for the call, the bar is only marked dirty (``setUpdatesEnabled(True)``
    calls ``update()``) and is painted with everything else, in its own event.
    """

    def setValue(self, value: int) -> None:  # noqa: N802 - Qt's name
        self.setUpdatesEnabled(False)
        try:
            super().setValue(value)
        finally:
            self.setUpdatesEnabled(True)
