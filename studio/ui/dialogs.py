"""Error and About dialogs. Errors open without blocking (``open()``, not ``exec()``),
so a failing worker never stacks nested event loops and tests never hang."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

import studio

RESOURCES = Path(__file__).resolve().parents[1] / "resources"  # studio/resources


def show_error(parent: QWidget, title: str, message: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("error-dialog")
    box.open()
    return box


def mnist_attribution() -> str:
    """The Attribution section of studio/resources/mnist-5k/README.md."""
    try:
        text = (RESOURCES / "mnist-5k" / "README.md").read_text(encoding="utf-8")
    except OSError:
        return "MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0)."
    section = text.split("## Attribution", 1)[-1].split("\n## ", 1)[0]
    paragraphs = [" ".join(p.split()) for p in section.strip().split("\n\n") if p.strip()]
    return "\n\n".join(paragraphs)


def about_html() -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in mnist_attribution().split("\n\n"))
    return (
        f"<h3>Latent Studio {studio.__version__}</h3>"
        "<p>Train generative image models (GAN, conditional GAN, VAE, conditional VAE), "
        "watch them learn, and explore their latent spaces.</p>"
        "<p><b>The built-in mnist-5k digits</b></p>"
        f"{paragraphs}"
        "<p>Built on PyTorch, PySide6 (Qt for Python) and pyqtgraph.</p>"
    )


def show_about(parent: QWidget) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About Latent Studio")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_html())
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("about-dialog")
    box.open()
    return box
