"""Compare runs: the runs folder as a table, selected runs overlaid on a step or a time
axis, their curves as CSV; reachable from the Train tab."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from studio.ui.compare import CompareDialog


def test_compare_lists_runs_overlays_curves_and_exports_csv(qtbot, tiny_runs, tmp_path):
    root = tiny_runs["cgan-mlp"].parent
    dialog = CompareDialog(root)
    qtbot.addWidget(dialog)
    dialog.show()
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    assert {"run", "family", "steps", "lr", "batch", "g (last)", "time"} <= set(headers)
    names = {dialog.table.item(r, 0).text(): r for r in range(dialog.table.rowCount())}
    assert set(names) == {"cgan-mlp", "cgan", "vae-2d"}
    row = names["cgan-mlp"]
    assert dialog.table.item(row, headers.index("family")).text() == "cgan"
    assert dialog.table.item(row, headers.index("steps")).text() == "20 / 20"
    assert dialog.table.item(row, headers.index("time")).text() != "–"  # records carry their time

    dialog.select(["cgan-mlp", "cgan"])
    dialog.loss_choice.setCurrentText("g")
    curves = dialog.loss_plot.getPlotItem().listDataItems()
    assert sorted(c.name() for c in curves) == ["cgan", "cgan-mlp"]
    assert max(curves[0].getData()[0]) in (10, 20)  # on the step axis
    dialog.x_axis.setCurrentIndex(dialog.x_axis.findData("time"))
    timed = dialog.loss_plot.getPlotItem().listDataItems()
    assert len(timed) == 2 and all(max(c.getData()[0]) < 600 for c in timed)  # seconds of training

    out = dialog.export_csv(tmp_path / "runs.csv")
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["run"] for r in rows} == {"cgan", "cgan-mlp"}
    assert {r["series"] for r in rows if r["kind"] == "loss"} == {"d", "g"}
    assert all(r["seconds"] for r in rows)
    assert "Saved" in dialog.note.text()


def test_the_train_tab_opens_compare_runs(qtbot, window):
    qtbot.mouseClick(window.train_tab.compare_button, Qt.MouseButton.LeftButton)
    assert window.compare_dialog is not None and window.compare_dialog.isVisible()
    assert "No runs" in window.compare_dialog.note.text()  # the window's runs folder is empty
    window.compare_dialog.close()
