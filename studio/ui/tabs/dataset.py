"""Dataset tab: which datasets exist and are on disk, downloads with progress and
cancel, image folders, a labelled preview, class counts, and live augmentation.

Loading and downloading run on the window's TaskRunner threads; what comes back is a
``DatasetPreview`` of numpy arrays (dataset_preview.py), never the torch tensors of the whole set.

The image folders a user picked stay in the list (and in the settings) after another
dataset is selected, and ``problem()`` says, before a run starts, when the selected
dataset is not on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import DataConfig
from studio.ui.tabs.dataset_augment import AugmentBox
from studio.ui.tabs.dataset_preview import (
    DatasetPreview,
    build_preview,
    preview_text,
)
from studio.ui.widgets.class_bar import ClassBar
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.progress import ProgressBar


@dataclass(frozen=True)
class DatasetRow:
    name: str  # registry name, or the folder path
    title: str
    available: bool
    status: str
    detail: str



class DatasetTab(QWidget):
    dataChanged = Signal(object)  # DataConfig
    errorOccurred = Signal(str)
    previewLoaded = Signal(object)  # DatasetPreview (tests wait for it)
    augmentPreviewed = Signal()
    downloadFinished = Signal(str, bool)  # dataset name, whether it is on disk now

    def __init__(self, tasks: Any, settings: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks = tasks
        self.settings = settings
        self.rows: list[DatasetRow] = []
        self.selected = settings.last_dataset or "mnist-5k"
        self.preview: DatasetPreview | None = None
        self._download: Any = None
        self._preview_seq = 0
        self._engine_ready = False

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Dataset", "Status", "Description"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._on_select)

        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.folder_button = QPushButton("Image folder…")
        self.root_button = QPushButton("Data folder…")
        self.progress = ProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.root_label = QLabel()
        self.root_label.setWordWrap(True)
        self.root_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.folder_button.clicked.connect(self._pick_folder)
        self.root_button.clicked.connect(self._pick_root)
        self.cancel_button.setEnabled(False)
        self.download_button.setEnabled(False)

        buttons = QHBoxLayout()
        for b in (self.download_button, self.cancel_button, self.folder_button, self.root_button):
            buttons.addWidget(b)
        left = QVBoxLayout()
        left.addWidget(self.table, 1)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.root_label)
        left.addWidget(self._prepare_box())
        self.augment = AugmentBox(tasks)
        self.augment.changed.connect(lambda: self.dataChanged.emit(self.data_config()))
        self.augment.previewed.connect(self.augmentPreviewed)
        self.augment.errorOccurred.connect(self.errorOccurred)
        left.addWidget(self.augment, 1)
        left_widget = QWidget()
        left_widget.setLayout(left)

        self.info = QLabel("Loading…")
        self.info.setWordWrap(True)
        self.grid_view = ImageView("Loading the dataset…", min_size=200)
        self.counts = ClassBar(title="Images per class", y_label="images")
        right = QVBoxLayout()
        right.addWidget(self.info)
        right.addWidget(self.grid_view, 3)
        right.addWidget(self.counts, 2)
        right_widget = QWidget()
        right_widget.setLayout(right)

        splitter = QSplitter()
        splitter.addWidget(left_widget)
        splitter.addWidget(right_widget)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([600, 680])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._show_rows([DatasetRow("mnist-5k", "MNIST digits, 5k subset (built in)", True, "built in", "")])
        self._update_root_label()

    # -- layout pieces --------------------------------------------------------------------
    def _prepare_box(self) -> QGroupBox:
        box = QGroupBox("Preparation")
        form = QFormLayout(box)
        self.image_size = QSpinBox()
        self.image_size.setRange(0, 256)
        self.image_size.setSpecialValueText("dataset's own")
        self.image_size.setToolTip("data.image_size: resize every image once, at load time (0 = keep)")
        self.channels = QComboBox()
        for text, value in (("dataset's own", 0), ("grey (1)", 1), ("RGB (3)", 3)):
            self.channels.addItem(text, value)
        self.channels.setToolTip("data.channels")
        form.addRow("Image size", self.image_size)
        form.addRow("Channels", self.channels)
        self.image_size.valueChanged.connect(self._on_prepare_changed)
        self.channels.currentIndexChanged.connect(self._on_prepare_changed)
        return box

    # -- state ----------------------------------------------------------------------------
    def data_config(self) -> DataConfig:
        return DataConfig(
            dataset=self.selected,
            root=self.settings.data_root,
            image_size=int(self.image_size.value()),
            channels=int(self.channels.currentData()),
            augment=self.augment.config(),
        )

    def set_data_config(self, cfg: DataConfig) -> None:
        """Show a loaded config's data section (dataset, preparation, augmentation)."""
        for widget in (self.image_size, self.channels):
            widget.blockSignals(True)
        self.image_size.setValue(cfg.image_size)
        self.channels.setCurrentIndex(max(0, self.channels.findData(cfg.channels)))
        for widget in (self.image_size, self.channels):
            widget.blockSignals(False)
        self.augment.set_config(cfg.augment)
        if cfg.root and cfg.root != self.settings.data_root:
            self.settings.data_root = cfg.root
            self._update_root_label()
        self.select(cfg.dataset)

    def engine_ready(self) -> None:
        """The engine is imported: list the datasets and preview the selected one."""
        self._engine_ready = True
        self._update_root_label()
        self.refresh()
        self.select(self.selected, force=True)

    def refresh(self) -> None:
        from studio.core.data import list_datasets

        try:
            infos = list_datasets(self.settings.data_root)
        except Exception as exc:  # noqa: BLE001 - a bad root must not break the tab
            self.errorOccurred.emit(f"Cannot list datasets: {exc}")
            infos = []
        rows = []
        for info in infos:
            if info.name == "mnist-5k":
                status = "built in"
            else:
                status = "on disk" if info.available else f"to download, {info.download_size}"
            rows.append(DatasetRow(info.name, info.title, info.available, status, info.size))
        known = {r.name for r in rows}
        for folder in self._folders():
            if folder not in known:
                rows.append(_folder_row(folder))
        self._show_rows(rows)

    def _folders(self) -> list[str]:
        """The selected folder and the remembered ones that still exist."""
        folders = [] if _is_registry(self.selected) else [self.selected]
        folders += self.settings.image_folders
        seen, out = set(), []
        for folder in folders:
            if folder not in seen and Path(folder).expanduser().is_dir():
                seen.add(folder)
                out.append(folder)
        return out

    def problem(self) -> str:
        """Why the selected dataset cannot be trained on now ("" when it can): not on disk
        (Download fetches it), a folder that is gone, or a name the studio does not know."""
        if not self._engine_ready:
            return ""
        row = self.row(self.selected)
        if row is not None:
            if row.available:
                return ""
            size = f" ({row.status.removeprefix('to download, ')})" if row.status.startswith("to download") else ""
            return f"{row.title} is not on disk yet: download it{size} or choose an image folder."
        if Path(self.selected).expanduser().is_dir():
            return ""
        if any(sep in self.selected for sep in ("/", "\\", "~")):
            return f"{self.selected}: this image folder is not there any more: choose another one."
        return f"{self.selected!r} is not a dataset the studio knows: choose one in the Dataset tab."

    def downloadable(self) -> bool:
        """The selected dataset is a registry set that Download can fetch."""
        row = self.row(self.selected)
        return row is not None and not row.available and row.status != "folder"

    def _show_rows(self, rows: list[DatasetRow]) -> None:
        self.rows = rows
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            label = Path(row.name).name if row.status == "folder" else row.name
            name = QTableWidgetItem(label)
            status = QTableWidgetItem(row.status)
            status.setForeground(Qt.GlobalColor.darkGreen if row.available else Qt.GlobalColor.darkRed)
            description = row.title if row.status == "folder" else f"{row.title} · {row.detail}"
            about = QTableWidgetItem(description)
            for item in (name, status, about):
                item.setToolTip(f"{row.title}\n{row.detail}")
            self.table.setItem(i, 0, name)
            self.table.setItem(i, 1, status)
            self.table.setItem(i, 2, about)
            if row.name == self.selected:
                self.table.selectRow(i)
        self.table.resizeRowsToContents()
        self.table.blockSignals(False)

    def row(self, name: str) -> DatasetRow | None:
        return next((r for r in self.rows if r.name == name), None)

    def select(self, name: str, force: bool = False) -> None:
        changed = name != self.selected
        self.selected = name
        if self.row(name) is None and Path(name).expanduser().is_dir():
            self._show_rows([*self.rows, _folder_row(name)])
        for i, row in enumerate(self.rows):
            if row.name == name:
                self.table.blockSignals(True)
                self.table.selectRow(i)
                self.table.blockSignals(False)
        self._update_buttons()
        if changed or force:
            self.settings.last_dataset = name
            if self.row(name) is not None and self.row(name).status == "folder":
                self.settings.add_image_folder(name)
            self.dataChanged.emit(self.data_config())
            self.load_preview()

    def _on_select(self) -> None:
        items = self.table.selectedItems()
        if items:
            self.select(self.rows[items[0].row()].name)

    def _update_buttons(self) -> None:
        row = self.row(self.selected)
        downloading = self._download is not None
        self.download_button.setEnabled(
            self._engine_ready and not downloading and row is not None and not row.available
        )
        self.cancel_button.setEnabled(downloading)

    def _update_root_label(self) -> None:
        root = self.settings.data_root
        if not root and self._engine_ready:
            from studio.core.data import default_root

            root = str(default_root())
        self.root_label.setText(f"Downloads go to: {root or 'the per-user data folder'}")

    # -- preview --------------------------------------------------------------------------
    def load_preview(self) -> None:
        if not self._engine_ready:
            return
        row = self.row(self.selected)
        if row is not None and not row.available:
            self.preview = None
            self.grid_view.set_image(None)
            self.grid_view.set_placeholder(f"{row.title} is not on disk yet: click Download.")
            self.info.setText(f"<b>{row.title}</b><br>{row.detail}")
            self.counts.set_values([])
            self.augment.set_images(None)
            return
        self._preview_seq += 1
        seq, cfg = self._preview_seq, self.data_config()
        self.info.setText(f"Loading {cfg.dataset}…")
        self.tasks.run(
            lambda _p, _c: build_preview(cfg),
            on_result=lambda preview: self._on_preview(seq, preview),
            on_error=lambda message: self._on_preview_error(seq, message),
            name="dataset-preview",
        )

    def _on_preview(self, seq: int, preview: DatasetPreview) -> None:
        if seq != self._preview_seq:
            return  # a newer selection is loading
        self.preview = preview
        self.info.setText(preview_text(preview))
        self.grid_view.set_image(preview.grid)
        self.grid_view.set_row_labels(list(preview.row_labels))
        if len(preview.counts):
            self.counts.set_values(preview.counts, list(preview.class_names))
        else:
            self.counts.set_values([])
        self.augment.set_images(preview.batch)
        self.previewLoaded.emit(preview)

    def _on_preview_error(self, seq: int, message: str) -> None:
        if seq != self._preview_seq:
            return
        self.preview = None
        self.augment.set_images(None)
        self.grid_view.set_image(None)
        self.grid_view.set_placeholder("Cannot load this dataset.")
        self.info.setText(message)
        self.errorOccurred.emit(message)

    def _on_prepare_changed(self, *_args: Any) -> None:
        self.dataChanged.emit(self.data_config())
        self.load_preview()

    # -- downloads and folders ----------------------------------------------------------------
    def start_download(self) -> None:
        row = self.row(self.selected)
        if row is None or row.available or self._download is not None:
            return
        name, root = row.name, self.settings.data_root
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText(f"Downloading {row.title}…")
        self._download = self.tasks.run(
            lambda progress, cancelled: _download(name, root, progress, cancelled),
            on_result=self._on_download_done,
            on_error=self._on_download_error,
            on_progress=self._on_download_progress,
            name="download",
        )
        self._update_buttons()

    def cancel_download(self) -> None:
        if self._download is not None:
            self._download.cancel_event.set()
            self.status.setText("Cancelling…")

    def _on_download_progress(self, done: int, total: int | None) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"{done / 1e6:,.1f} MB")

    def _on_download_done(self, result: str) -> None:
        self._download = None
        self.progress.setVisible(False)
        self.status.setText("Download cancelled." if result == "cancelled" else "Download finished.")
        self.refresh()
        self._update_buttons()
        if result != "cancelled":
            self.select(self.selected, force=True)
        self.downloadFinished.emit(self.selected, result != "cancelled")

    def _on_download_error(self, message: str) -> None:
        self._download = None
        self.progress.setVisible(False)
        self.status.setText("Download failed.")
        self._update_buttons()
        self.errorOccurred.emit(message)
        self.downloadFinished.emit(self.selected, False)

    def add_folder(self, folder: str) -> None:
        self.select(str(Path(folder).expanduser().resolve()))

    def pick_folder(self) -> bool:
        """Ask for a folder of images and select it; False when the user cancelled."""
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of images (one subfolder per class)")
        if folder:
            self.add_folder(folder)
        return bool(folder)

    def _pick_folder(self) -> None:
        self.pick_folder()

    def _pick_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for downloaded datasets", self.settings.data_root)
        if folder:
            self.settings.data_root = folder
            self._update_root_label()
            self.refresh()
            self.select(self.selected, force=True)


def _folder_row(folder: str) -> DatasetRow:
    return DatasetRow(folder, f"Image folder: {Path(folder).name}", True, "folder", folder)


def _is_registry(name: str) -> bool:
    """A registry dataset's name (a torch-free catalog lookup), not a folder path."""
    from studio.core.data.catalog import get_spec

    return get_spec(name) is not None


def _download(name: str, root: str, progress: Any, cancelled: Any) -> str:
    from studio.core.data import DownloadCancelled, download_dataset

    try:
        return str(download_dataset(name, root, progress, cancelled))
    except DownloadCancelled:
        return "cancelled"
