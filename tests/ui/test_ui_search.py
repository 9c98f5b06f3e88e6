"""The Search tab driven with real clicks: a tiny study starts, its rows appear, Stop ends
the running trial, Resume continues the study, and the best trial opens in Explore."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

pytest.importorskip("optuna")


def tiny_vae_base(steps: int):
    from studio.core.presets import preset

    return preset("vae").with_overrides(
        model={"width": 8, "latent_dim": 8},
        train={"steps": steps, "batch_size": 16, "log_every": 5, "sample_every": steps,
               "checkpoint_every": 100_000, "threads": 1})


def only_lr(tab) -> None:
    """Tick the learning rate alone in the space form, as a person would."""
    for name, row in tab.space_form.rows.items():
        row.check.setChecked(name == "train.lr")
    row = tab.space_form.rows["train.lr"]
    row.lo.setText("1e-3")
    row.hi.setText("1e-2")
    row.log.setChecked(True)


def states(tab) -> list[str]:
    return [tab.table.item(i, 1).text() for i in range(tab.table.rowCount())]


def test_search_tab_starts_stops_resumes_and_opens_the_best(window, qtbot):
    tab = window.search_tab
    window.tabs.setCurrentWidget(tab)
    tab.set_base_config(tiny_vae_base(steps=300), "a tiny VAE")
    only_lr(tab)
    tab.trials_spin.setValue(2)
    tab.report_spin.setValue(50)
    tab.objective.setCurrentIndex(tab.objective.findData("nll"))
    assert tab.study.text() == "vae-search" and tab.steps_spin.value() == 300

    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    # The first trial ends, the second is running: its row is there, with reports coming.
    qtbot.waitUntil(lambda: states(tab)[:1] == ["COMPLETE"] and len(states(tab)) == 2, timeout=30_000)
    assert states(tab)[1] == "RUNNING"
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.controller.state == "idle", timeout=15_000)
    assert states(tab) == ["COMPLETE", "FAIL"] and tab.trials[1].message == "stopped"
    assert tab.trials[1].step < 300 and tab.start_button.isEnabled()

    qtbot.mouseClick(tab.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.controller.state == "idle" and len(states(tab)) == 3, timeout=30_000)
    assert states(tab)[:2] == ["COMPLETE", "FAIL"] and states(tab)[2] in ("COMPLETE", "PRUNED")
    assert sorted(tab.trials[0].intermediate) == [50, 100, 150, 200, 250, 300]
    assert "Done: 2 trials finished" in tab.status.text() and window.errors == []

    assert tab.best() is not None and tab.open_best_button.isEnabled()
    qtbot.mouseClick(tab.open_best_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.explore_tab.info is not None, timeout=20_000)
    assert window.tabs.currentWidget() is window.explore_tab
    assert tab.best_config().train.lr == pytest.approx(tab.best().params["train.lr"])


def test_a_bad_space_in_the_form_names_the_field(window, qtbot):
    tab = window.search_tab
    tab.set_base_config(tiny_vae_base(steps=10), "a tiny VAE")
    only_lr(tab)
    tab.space_form.rows["train.lr"].lo.setText("0")
    assert tab.start() is False
    assert window.errors and "search space entry train.lr" in window.errors[-1]
    assert tab.controller.state == "idle"
