"""The window's menus and keyboard shortcuts.

A mixin of MainWindow (studio.ui.main_window), which owns the tabs, the training
controller and the slots these menus call: File (runs, configs, exports), Training (the
run controls, with debugger-style keys) and Help (the shortcuts and About).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from studio.ui.dialogs import show_about

# The run controls' keys, debugger-style (F5 go, Shift+F5 stop, F10 step); Ctrl+S is Save config.
SHORTCUTS = {"train": "F5", "pause": "F6", "step": "F10", "stop": "Shift+F5", "checkpoint": "Ctrl+Shift+S",
             "continue": "Ctrl+F5", "compare": "Ctrl+Shift+C"}


class WindowMenus:
    """File, Training and Help, built once by MainWindow.__init__."""

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&New run", self.new_run, QKeySequence.StandardKey.New)
        self._action(file_menu, "&Open run…", self._open_run_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent run")
        # Filled when it opens: reading every run's files at each start would stall the window.
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file_menu, "Open &checkpoint…", self._open_checkpoint_dialog)
        self.use_run_settings_action = self._action(file_menu, "&Use the opened run's settings", self.use_run_settings)
        file_menu.addSeparator()
        self._action(file_menu, "&Load config…", self.model_tab._load_dialog)
        self._action(file_menu, "&Save config…", self.model_tab._save_dialog, QKeySequence.StandardKey.Save)
        export = file_menu.addMenu("&Export")
        self._action(export, "Sample grid as PNG…", self.train_tab._export_png_dialog)
        self._action(export, "Training evolution as GIF…", self.train_tab._export_gif_dialog)
        self._action(export, "Explorer image as PNG…", lambda: self.explore_tab._save_dialog(self.explore_tab.image_view, "sample.png"))
        self._action(export, "Interpolation strip as PNG…", lambda: self.explore_tab._save_dialog(self.explore_tab.strip_view, "interpolation.png"))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.request_quit, QKeySequence.StandardKey.Quit)
        self._build_training_menu()
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts)
        self._action(help_menu, "&About Latent Studio", lambda: show_about(self))
        self._enable_recent()
        self.continue_action.setEnabled(False)
        self.use_run_settings_action.setEnabled(False)

    def _build_training_menu(self) -> None:
        """The run controls with their keys (listed by Help → Keyboard shortcuts)."""
        menu = self.menuBar().addMenu("&Training")
        self.training_actions = {
            "train": self._action(menu, "&Train a new run", self._shortcut_train, SHORTCUTS["train"]),
            "continue": self._action(menu, "C&ontinue training the opened run", self.continue_run,
                                     SHORTCUTS["continue"]),
            "pause": self._action(menu, "&Pause / Resume", self.toggle_pause, SHORTCUTS["pause"]),
            "step": self._action(menu, "One &step (while paused)", self.training.step_once, SHORTCUTS["step"]),
            "stop": self._action(menu, "S&top (saves a checkpoint)", self.training.stop, SHORTCUTS["stop"]),
            "checkpoint": self._action(menu, "Save &checkpoint now", self.train_tab._on_save, SHORTCUTS["checkpoint"]),
        }
        menu.addSeparator()
        self.training_actions["compare"] = self._action(menu, "Co&mpare runs…", self.compare_runs, SHORTCUTS["compare"])
        self.continue_action = self.training_actions["continue"]

    def shortcut_text(self) -> str:
        """Each run control and its key, as Help → Keyboard shortcuts lists them."""
        lines = [(a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                 for a in self.training_actions.values()]
        lines += [("Save config", QKeySequence(QKeySequence.StandardKey.Save).toString(QKeySequence.SequenceFormat.NativeText)),
                  ("Open run", QKeySequence(QKeySequence.StandardKey.Open).toString(QKeySequence.SequenceFormat.NativeText)),
                  ("Quit", QKeySequence(QKeySequence.StandardKey.Quit).toString(QKeySequence.SequenceFormat.NativeText))]
        return "\n".join(f"{key}\t{text}" for text, key in lines)

    def show_shortcuts(self) -> QMessageBox:
        rows = "".join(f"<tr><td><b>{html.escape(line.split(chr(9))[0])}</b></td><td>&nbsp;&nbsp;"
                       f"{html.escape(line.split(chr(9))[1])}</td></tr>" for line in self.shortcut_text().splitlines())
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts", f"<table>{rows}</table>",
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("shortcuts-dialog")
        box.open()
        return box

    def _shortcut_train(self) -> None:
        if self.train_tab.start_button.isEnabled() or self.training.active:
            self.start_training()

    def toggle_pause(self) -> None:
        if self.training.state == "running":
            self.training.pause()
        elif self.training.state == "paused":
            self.training.resume()

    def _action(self, menu: QMenu, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action
