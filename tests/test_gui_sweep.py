"""The sweep view as a user drives it: ranges, run, cancel, heatmap, click-to-run, export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from engine.execution import cluster
from engine.results.formatting import format_value
from engine.studies.heatmap import cell_parameters, heatmap_grid
from engine.studies.sweep import run_sweep
from gui.heatmap import Heatmap
from gui.sweep_view import SweepView
from tests.conftest import SAMPLE

BASE = BacktestConfig(data_dir=SAMPLE, workers=1)
RANGES = {"period": "10:14:2", "oversold": "25,30", "overbought": "70,75"}
GRID = {"period": [10, 12, 14], "oversold": [25, 30], "overbought": [70, 75]}


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return run_sweep(BASE, GRID).table


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[SweepView]:
    widget = SweepView()
    qtbot.addWidget(widget)
    widget.resize(1400, 880)
    widget.show()
    widget.set_base_config(BASE)
    for name, text in RANGES.items():
        widget.range_edits[name].setText(text)
    yield widget
    widget.shutdown()


def _run(view: SweepView, qtbot: QtBot) -> None:
    qtbot.mouseClick(view.run_box.run_button, Qt.MouseButton.LeftButton)
    assert view.running and view.run_box.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not view.running, timeout=60_000)  # slots run queued
    assert view.run_box.progress.format().startswith("done"), view.errors.message.text()


def test_sweep_table_and_heatmap_are_the_engines(view: SweepView, qtbot: QtBot,
                                                  expected: pd.DataFrame) -> None:
    assert view.form.count.text() == "12 combinations"
    _run(view, qtbot)
    assert view.result is not None
    pd.testing.assert_frame_equal(view.result.table, expected)
    assert view.table.model.rowCount() == 12
    controls = view.heatmap_controls
    assert controls.x_combo.currentText() == "period"
    assert controls.y_combo.currentText() == "oversold"
    assert controls.metric_combo.currentData() == "sharpe"
    assert list(controls.slice_combos) == ["overbought"]
    grid = heatmap_grid(expected, "period", "oversold", "sharpe", None, "mean")
    assert view.heatmap.z.shape == (2, 3)
    np.testing.assert_array_equal(view.heatmap.x_values, grid.x_values)
    np.testing.assert_array_equal(view.heatmap.y_values, grid.y_values)
    np.testing.assert_array_equal(view.heatmap.z, grid.z)
    assert view.heatmap.label_count() == 6


@pytest.mark.parametrize(("x", "y", "metric", "agg", "fixed"), [
    ("period", "oversold", "total_return", "max", None),
    ("overbought", "period", "max_drawdown", "min", {"oversold": 30.0}),
    ("oversold", "overbought", "volatility", "mean", {"period": 12}),
])
def test_heatmap_choices_follow_the_engine(view: SweepView, qtbot: QtBot,
                                           expected: pd.DataFrame, x: str, y: str,
                                           metric: str, agg: str,
                                           fixed: dict[str, float] | None) -> None:
    _run(view, qtbot)
    view.heatmap_controls.set_heatmap(x, y, metric, agg, fixed)
    grid = heatmap_grid(expected, x, y, metric, fixed, agg)
    np.testing.assert_array_equal(view.heatmap.z, grid.z)
    assert view.heatmap.kind == "pct"  # all three are percentages
    row, column = 1, 0
    text = view.heatmap.cell_text(row, column)
    assert f"{x} = {grid.x_values[column]:g}" in text
    assert format_value(grid.z[row, column], "pct") in text


def test_choosing_the_same_axis_twice_swaps(view: SweepView, qtbot: QtBot) -> None:
    _run(view, qtbot)
    controls = view.heatmap_controls
    controls.y_combo.setCurrentText("period")
    controls._axis_chosen(controls.y_combo, controls.x_combo)
    assert controls.x_combo.currentText() != controls.y_combo.currentText()
    assert view.heatmap.z.shape[0] == 3  # period is on the y axis now


def test_clicking_a_cell_requests_that_configuration(view: SweepView, qtbot: QtBot,
                                                     expected: pd.DataFrame) -> None:
    _run(view, qtbot)
    heatmap = view.heatmap
    view.heatmap_controls.set_heatmap("period", "oversold", "sharpe", fixed={"overbought": 75.0})
    with qtbot.waitSignal(view.run_requested) as requested:
        heatmap.cell_clicked.emit(1, 2)  # oversold 30, period 14
    config = requested.args[0]
    assert (config.period, config.oversold, config.overbought) == (14, 30.0, 75.0)
    assert config.replace(period=14, oversold=30.0, overbought=75.0) == config
    assert config.data_dir == BASE.data_dir
    # aggregated over overbought: the cell's best combination for the metric
    view.heatmap_controls.set_heatmap("period", "oversold", "sharpe", agg="mean")
    best = cell_parameters(expected, ["period", "oversold", "overbought"], "period",
                           "oversold", 10, 25.0, "sharpe")
    assert best is not None
    scene = heatmap.plot.vb.mapViewToScene(QPointF(0, 0))  # the cell at period 10, oversold 25
    point = heatmap.canvas.mapFromScene(scene)
    with qtbot.waitSignal(view.run_requested) as requested:
        qtbot.mouseClick(heatmap.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)
    config = requested.args[0]
    assert (config.period, config.oversold, config.overbought) == (
        best["period"], best["oversold"], best["overbought"])


def test_hover_reads_out_the_cell(view: SweepView, qtbot: QtBot) -> None:
    _run(view, qtbot)
    heatmap = view.heatmap
    scene = heatmap.plot.vb.mapViewToScene(QPointF(2, 1))
    qtbot.mouseMove(heatmap.canvas.viewport(), heatmap.canvas.mapFromScene(scene))
    expected = heatmap.cell_text(1, 2)
    assert "period = 14" in expected and "oversold = 30" in expected
    qtbot.waitUntil(lambda: heatmap.readout.text() == expected, timeout=10_000)
    assert heatmap.hover_box.isVisible()
    qtbot.mouseMove(heatmap.canvas.viewport(), QPoint(2, 2))  # off the cells
    qtbot.waitUntil(lambda: not heatmap.hover_box.isVisible(), timeout=10_000)


def test_cancel_stops_the_sweep(view: SweepView, qtbot: QtBot) -> None:
    for name, text in {"period": "5:60:1", "oversold": "10:40:1", "overbought": "60:90:1"}.items():
        view.range_edits[name].setText(text)
    view.run()
    assert view.running
    qtbot.mouseClick(view.run_box.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    assert view.run_box.progress.format() == "cancelled"
    assert view.result is None and view.run_box.run_button.isEnabled()
    assert not view.run_box.cancel_button.isEnabled()
    for name, text in RANGES.items():  # the view is usable again
        view.range_edits[name].setText(text)
    _run(view, qtbot)


@pytest.mark.parametrize(("field", "text", "reason"), [
    ("oversold", "30:20:5", "oversold range is not valid"),
    ("period", "a,b", "period range is not valid"),
    ("overbought", "60:70:0", "overbought range is not valid"),
])
def test_invalid_range_disables_run_with_the_reason(view: SweepView, field: str, text: str,
                                                    reason: str) -> None:
    assert view.run_box.run_button.isEnabled()
    view.range_edits[field].setText(text)
    assert not view.run_box.run_button.isEnabled()
    assert reason in view.run_box.reason.text()
    assert view.form.range_errors[field].isVisible()
    assert "is not a range" in view.form.range_errors[field].text()
    view.range_edits[field].setText(RANGES[field])
    assert view.run_box.run_button.isEnabled() and not view.run_box.reason.isVisible()


def test_other_reasons_run_is_disabled(view: SweepView) -> None:
    view.form.extra_field.setCurrentText("position_pct")
    assert not view.run_box.run_button.isEnabled() and "extra field" in view.run_box.reason.text()
    assert "enter the values of position_pct" in view.form.range_errors["extra"].text()
    view.range_edits["extra"].setText("0.1,0.2")
    assert view.run_box.run_button.isEnabled() and view.form.count.text() == "24 combinations"
    assert view.form.grid()["position_pct"] == [0.1, 0.2]
    view.form.extra_field.setCurrentIndex(0)
    for edit in view.range_edits.values():
        edit.clear()
    assert "at least one range" in view.run_box.reason.text()
    view.range_edits["period"].setText("14")
    view.set_base_config(None, "fix the configuration: period must be between 2 and 500")
    assert not view.run_box.run_button.isEnabled()
    assert "period must be" in view.run_box.reason.text()


def test_a_failing_sweep_is_explained_inline(view: SweepView, qtbot: QtBot,
                                             tmp_path: Path) -> None:
    view.set_base_config(BASE.replace(data_dir=tmp_path / "missing"))
    view.run()
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    assert view.run_box.progress.format() == "failed"
    assert view.errors.isVisible() and "does not exist" in view.errors.message.text()
    assert view.run_box.run_button.isEnabled()


def test_export_writes_the_sweep_table(view: SweepView, qtbot: QtBot, tmp_path: Path,
                                       expected: pd.DataFrame) -> None:
    assert not view.export_button.isEnabled()
    _run(view, qtbot)
    written = view.export_csv(tmp_path / "sweep.csv")
    assert written is not None
    frame = pd.read_csv(written, encoding="utf-8-sig")
    assert len(frame) == 12
    np.testing.assert_allclose(frame["sharpe"], expected["sharpe"])


def test_heatmap_leaves_cells_that_never_ran_blank(qtbot: QtBot) -> None:
    heatmap = Heatmap()
    qtbot.addWidget(heatmap)
    z = np.array([[0.1, np.nan], [0.2, 0.3]])
    heatmap.set_data(np.array([20, 30]), np.array([25, 70]), z, x_label="oversold",
                     y_label="overbought", value_label="Total return", kind="pct", best=(1, 1))
    assert heatmap.label_count() == 3
    assert heatmap.value_text(0, 1) == "—"
    assert heatmap.cell_text(1, 1) == "oversold = 30   overbought = 70   Total return: 30.00%"
    assert heatmap.best_box.isVisible()
    heatmap.clear_data()
    assert heatmap.label_count() == 0


# --- Run on: this machine or a Dask cluster ------------------------------------------------

def test_run_on_is_remembered_between_sessions(qtbot: QtBot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = SweepView(settings)
    qtbot.addWidget(first)
    assert first.run_on.cluster() is None and not first.run_on.address.isEnabled()
    first.run_on.set_cluster("tcp://scheduler.lan:8786")
    first.shutdown()
    settings.sync()
    again = SweepView(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.run_on.cluster() == "tcp://scheduler.lan:8786"
    assert again.run_on.address.isEnabled()
    again.shutdown()


def test_a_bad_cluster_address_disables_run_with_the_reason(view: SweepView) -> None:
    view.run_on.set_cluster("scheduler without a port")
    assert not view.run_box.run_button.isEnabled() and "Run on" in view.run_box.reason.text()
    assert view.run_on.error.isVisible()
    assert "is not a cluster address" in view.run_on.error.text()
    view.run_on.set_cluster(None)
    assert view.run_box.run_button.isEnabled() and not view.run_on.error.isVisible()


def test_without_dask_the_cluster_choice_says_how_to_install_it(
        view: SweepView, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "available", lambda: False)
    view.run_on.set_cluster("local:2")
    assert not view.run_box.run_button.isEnabled()
    assert "Dask is not installed" in view.run_on.error.text()
    assert "pip install" in view.run_on.error.text()
    view.run_on.set_cluster(None)  # this machine needs no Dask
    assert view.run_box.run_button.isEnabled()


@pytest.mark.slow
def test_the_view_runs_a_sweep_on_a_local_cluster(view: SweepView, qtbot: QtBot,
                                                  expected: pd.DataFrame) -> None:
    pytest.importorskip("distributed")
    view.run_on.set_cluster("local:2")
    qtbot.mouseClick(view.run_box.run_button, Qt.MouseButton.LeftButton)
    assert view.running and not view.run_on.isEnabled()
    qtbot.waitUntil(lambda: not view.running, timeout=180_000)  # starts 2 Dask workers
    assert view.run_box.progress.format().endswith(" s on local:2"), view.errors.message.text()
    assert view.result is not None and view.result.executor == "the Dask cluster at local:2"
    pd.testing.assert_frame_equal(view.result.table, expected, check_exact=True)
    assert view.run_on.isEnabled()

def test_heatmap_robustness_view_shows_neighbourhood_means_and_marks_the_plateau(
        view: SweepView, qtbot: QtBot) -> None:
    from engine.studies.heatmap import best_cell, neighbourhood_mean

    _run(view, qtbot)
    assert view.result is not None
    grid = heatmap_grid(view.result.table, "period", "oversold", "sharpe", None, "mean")
    assert view.heatmap.plateau_box.isVisible() == (best_cell(grid, "sharpe") is not None)
    view.heatmap_controls.smooth_box.setChecked(True)
    np.testing.assert_array_equal(view.heatmap.z, neighbourhood_mean(grid).z)
    assert "neighbourhood" in view.heatmap.value_label
    assert "deflated Sharpe" in view.diagnostics.text() and "PBO" in view.diagnostics.text()


def test_walk_forward_mode_runs_shows_and_saves_the_folds(view: SweepView, qtbot: QtBot,
                                                          tmp_path: Path) -> None:
    from engine.results.store import RunStore
    from engine.studies.walkforward import FoldSpec, run_walk_forward

    view.store_path = tmp_path / "runs.sqlite"
    view.mode.setCurrentText("Walk-forward")
    assert view.run_box.run_button.text() == "Run walk-forward" and view.walk_form.isVisible()
    view.walk_form.train_edit.setText("12x")
    assert not view.run_box.run_button.isEnabled() and "250d" in view.walk_form.error.text()
    view.walk_form.train_edit.setText("12m")
    view.walk_form.test_edit.setText("6m")
    view.range_edits["overbought"].setText("")
    saved: list[object] = []
    view.walk_forward_saved.connect(saved.append)
    _run(view, qtbot)
    outcome = view.walk_view.outcome
    assert outcome is not None
    expected = run_walk_forward(BASE, {"period": [10, 12, 14], "oversold": [25, 30]},
                                FoldSpec("12m", "6m"), "sharpe")
    pd.testing.assert_frame_equal(outcome.result.folds, expected.folds)
    assert view.walk_view.table.model.rowCount() == len(expected.folds)
    assert "rolling folds" in view.walk_view.summary.text()
    assert f"saved as run {outcome.run_id}" in view.walk_view.summary.text()
    assert len(saved) == 1
    assert view.export_button.isEnabled() and view.export_button.text().startswith(
        "Export walk-forward")
    folder = view.export_walk_forward(tmp_path / "wf")
    assert folder is not None and (folder / "folds.csv").exists()
    assert (folder / "summary.json").exists() and (folder / "equity.csv").exists()
    with RunStore(view.store_path) as store:
        assert store.attachments(outcome.run_id)["folds"].shape[0] == len(expected.folds)  # type: ignore[arg-type]


def test_the_table_shows_first_and_the_heatmap_in_the_next_turn(view: SweepView,
                                                                 qtbot: QtBot) -> None:
    """A finished sweep is shown in two event-loop turns (no single turn does both), and
    the view is 'running' until its heatmap is drawn."""
    result = run_sweep(BASE, GRID)
    done: list[bool] = []
    view.set_result(result, then=lambda: done.append(True))
    assert view.table.model.rowCount() == 12 and view.heatmap.z.size == 0 and not done
    qtbot.waitUntil(lambda: bool(done))
    assert view.heatmap.z.shape == (2, 3)
    view.set_result(result, then=lambda: done.append(False))
    view.clear_data()  # a newer state before the deferred turn: it draws nothing
    qtbot.waitUntil(lambda: len(done) == 2)
    assert view.heatmap.z.size == 0
