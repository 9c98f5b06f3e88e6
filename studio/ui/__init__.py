"""The PySide6 + pyqtgraph client of studio.core; the only package that imports Qt."""
