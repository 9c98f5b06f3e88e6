"""Dataset tab: the list with availability, preview grid with labels, class counts,
augmentation preview, image folders, and a download with progress and Cancel."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QFileDialog

import studio.ui.tabs.dataset as dataset_module


def test_lists_datasets_with_availability_and_previews_mnist_5k(window):
    tab = window.dataset_tab
    names = [r.name for r in tab.rows]
    assert {"mnist-5k", "mnist", "fashion-mnist", "cifar10"} <= set(names)
    assert tab.row("mnist-5k").available and tab.row("mnist-5k").status == "built in"
    assert tab.selected == "mnist-5k"
    preview = tab.preview
    assert preview.count == 4500 and preview.shape == (1, 28, 28)
    assert preview.counts.sum() == 4500 and len(preview.counts) == 10
    assert tab.grid_view._row_labels == [str(i) for i in range(10)]
    assert tab.grid_view.image().shape == (10 * 29 + 1, 10 * 29 + 1, 3)
    assert list(tab.counts.values) == list(preview.counts)
    assert "28×28" in tab.info.text() and "1 channel" in tab.info.text()
    assert window.model_tab.config().data.dataset == "mnist-5k"


def test_augmentation_preview_follows_the_options(qtbot, window):
    tab = window.dataset_tab
    qtbot.waitUntil(lambda: tab.augment.view.image() is not None, timeout=10_000)
    plain = tab.augment.view.image().copy()
    tab.augment.rotate.setValue(40)
    with qtbot.waitSignal(tab.augmentPreviewed, timeout=10_000):
        tab.augment.translate.setValue(0.2)
    rotated = tab.augment.view.image().copy()
    assert not np.array_equal(plain, rotated)
    with qtbot.waitSignal(tab.augmentPreviewed, timeout=10_000):
        tab.augment.reroll.click()
    assert not np.array_equal(rotated, tab.augment.view.image())
    cfg = window.config()
    assert cfg.data.augment.rotate_degrees == 40 and cfg.data.augment.translate == 0.2


def test_a_dataset_not_on_disk_has_no_augmentation_preview(qtbot, window, tmp_path):
    tab = window.dataset_tab
    qtbot.waitUntil(lambda: tab.augment.view.image() is not None, timeout=10_000)
    window.settings.data_root = str(tmp_path / "datasets")
    tab.refresh()
    tab.select("mnist")  # listed, not downloaded
    assert tab.augment.view.image() is None
    previews: list[None] = []
    tab.augmentPreviewed.connect(lambda: previews.append(None))
    tab.augment.rotate.setValue(30)  # nothing to augment: the last dataset's digits are not drawn again
    qtbot.wait(300)
    assert previews == [] and tab.augment.view.image() is None
    assert window.config().data.augment.rotate_degrees == 30
    with qtbot.waitSignal(tab.augmentPreviewed, timeout=10_000):
        tab.select("mnist-5k")  # back on disk: its preview, augmented with the setting
    assert tab.augment.view.image() is not None


def test_image_folder_picker(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for cls in ("circles", "squares"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / cls / f"{i}.png")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    tab = window.dataset_tab
    with qtbot.waitSignal(tab.previewLoaded, timeout=10_000):
        tab.folder_button.click()
    assert tab.selected == str(folder) and tab.row(str(folder)).status == "folder"
    assert tab.preview.class_names == ("circles", "squares") and tab.preview.count == 6
    assert window.config().data.dataset == str(folder)
    assert window.settings.last_dataset == str(folder)


def test_download_shows_progress_and_can_be_cancelled(qtbot, window, tmp_path, monkeypatch):
    gate = threading.Event()

    def fake_download(name, root, progress, cancelled):
        progress(1_000_000, 10_000_000)
        gate.set()
        while not cancelled():
            threading.Event().wait(0.01)
        return "cancelled"

    monkeypatch.setattr(dataset_module, "_download", fake_download)
    window.settings.data_root = str(tmp_path / "datasets")
    tab = window.dataset_tab
    tab.refresh()
    tab.select("mnist")
    assert not tab.row("mnist").available and tab.download_button.isEnabled()
    assert "not on disk" in tab.grid_view._placeholder
    tab.download_button.click()
    assert tab.cancel_button.isEnabled() and not tab.progress.isHidden()
    qtbot.waitUntil(lambda: gate.is_set() and tab.progress.value() == 100, timeout=5000)
    assert "1.0 of 10.0 MB" in tab.progress.format()
    tab.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in tab.status.text(), timeout=5000)
    assert not tab.cancel_button.isEnabled() and tab.progress.isHidden()
    assert window.errors == []
