"""The PySide6 + pyqtgraph client of studio.core; the only package that imports Qt."""

from studio.ui import qt_compat

qt_compat.apply()
