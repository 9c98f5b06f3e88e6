"""The house rule that keeps the engine usable without a display: core never imports Qt."""

import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "studio" / "core"


def test_core_sources_do_not_import_qt():
    offenders = [
        str(path)
        for path in CORE.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(("import PySide6", "from PySide6", "import pyqtgraph", "from pyqtgraph"))
    ]
    assert offenders == []


def test_importing_the_whole_core_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys, studio.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'studio.core.'): importlib.import_module(m.name)\n"
        "print(sorted(k for k in sys.modules if k.startswith(('PySide6', 'pyqtgraph'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
