"""StockChart and TimingChart show exactly the engine's numbers, draw no more than the view
needs, and render. (How fast they draw is measured by benchmarks/bench_gui.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPointF, Qt
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from engine.progress import STAGES
from engine.results.tables import BacktestResult
from engine.run.backtest import load, run_backtest
from engine.run.drill_down import stock_detail
from gui.stock_chart import BUY_SYMBOL, StockChart, posix_seconds
from gui.timing_chart import IN_PROCESS, TimingChart, format_ms
from tests.conftest import SAMPLE

# Hover read-outs arrive through a rate-limited signal proxy: the wait is a hang guard only.
HANG_GUARD_MS = 10_000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, pd.DataFrame, str]:
    """A run on the sample, the detail of its most traded stock, and that stock's code."""
    config = BacktestConfig(data_dir=SAMPLE, cache_dir=tmp_path_factory.mktemp("cache"))
    result = run_backtest(config)
    code = str(result.fills["code"].value_counts().index[0])
    return result, stock_detail(load(config), code, config), code


def _stock_chart(qtbot: QtBot) -> StockChart:
    chart = StockChart()
    qtbot.addWidget(chart)
    chart.resize(1100, 700)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


def _ten_years() -> pd.DataFrame:
    n = 2_500
    rng = np.random.default_rng(7)
    close = np.round(20 * np.exp(np.cumsum(rng.normal(0, 0.015, n))), 2)
    open_ = np.round(close * np.exp(rng.normal(0, 0.01, n)), 2)
    return pd.DataFrame({
        "date": pd.bdate_range("2015-01-05", periods=n),
        "open": open_, "close": close,
        "high": np.maximum(open_, close) * 1.01, "low": np.minimum(open_, close) * 0.99,
        "volume": rng.integers(100_000, 10_000_000, n).astype(float),
        "rsi": np.clip(50 + 30 * np.sin(np.arange(n) / 9) + rng.normal(0, 5, n), 0, 100),
    })[["date", "open", "high", "low", "close", "volume", "rsi"]]


def test_the_rsi_pane_shows_only_for_an_rsi_run(qtbot: QtBot) -> None:
    chart = _stock_chart(qtbot)
    detail = _ten_years()
    chart.set_data(detail, detail.iloc[:0], 30.0, 70.0, "600000.SH")
    assert chart.rsi_plot.isVisible()
    chart.set_data(detail.assign(rsi=np.nan), detail.iloc[:0], 30.0, 70.0, "600000.SH")
    assert not chart.rsi_plot.isVisible() and chart.candles.bar_count == len(detail)
    # The dates then stand under the volume, the last pane.
    assert chart.volume_plot.getAxis("bottom").style["showValues"]
    chart.set_data(detail, detail.iloc[:0], 30.0, 70.0, "600000.SH")
    assert chart.rsi_plot.isVisible()
    assert not chart.volume_plot.getAxis("bottom").style["showValues"]


def test_stock_chart_shows_the_engines_bars_rsi_and_fills(
        qtbot: QtBot, run: tuple[BacktestResult, pd.DataFrame, str], tmp_path: Path) -> None:
    result, detail, code = run
    fills = result.fills[result.fills["code"] == code]
    chart = _stock_chart(qtbot)
    chart.set_data(detail, fills, 30.0, 70.0, code)
    image = chart.grab()
    assert image.save(str(tmp_path / "stock_chart.png"))
    assert chart.candles.bar_count == chart.volume.bar_count == len(detail)
    np.testing.assert_array_equal(chart.rsi_curve.yData, detail["rsi"].to_numpy())
    np.testing.assert_array_equal(chart.rsi_curve.xData, posix_seconds(detail["date"]))
    assert len(chart.markers.data) == len(fills) > 0
    np.testing.assert_array_equal(chart.markers.data["y"], fills["price"].to_numpy())
    n_buys = sum(s is BUY_SYMBOL for s in chart.markers.data["symbol"])
    assert n_buys == (fills["side"] == "buy").sum()
    assert chart.title.text() == code
    assert (chart.oversold_line.value(), chart.overbought_line.value()) == (30.0, 70.0)
    # Peak binning: never more marks than the price panel has pixels.
    assert 0 < chart.candles.drawn_count <= chart.price_plot.vb.width()


def test_stock_chart_draws_only_the_bars_in_view(
        qtbot: QtBot, run: tuple[BacktestResult, pd.DataFrame, str], tmp_path: Path) -> None:
    result, detail, code = run
    chart = _stock_chart(qtbot)
    chart.set_data(detail, result.fills.iloc[:0], 30.0, 70.0, code)
    x = posix_seconds(detail["date"])
    chart.price_plot.setXRange(x[-60], x[-1], padding=0)
    assert chart.grab().save(str(tmp_path / "stock_chart_zoomed.png"))
    assert chart.candles.drawn_count < 80 and chart.volume.drawn_count < 80
    chart.reset_view()
    chart.grab()
    assert chart.candles.drawn_count >= min(len(detail), chart.price_plot.vb.width() // 2)
    # Only the empty margin after the last bar in view: paints without error.
    chart.price_plot.setXRange(x[-1] + 3 * 86_400.0, x[-1] + 20 * 86_400.0, padding=0)
    chart.grab()
    assert chart.price_plot.viewRange()[0][0] > x[-1]


def test_crosshair_reads_out_the_bar_under_the_mouse(
        qtbot: QtBot, run: tuple[BacktestResult, pd.DataFrame, str]) -> None:
    _, detail, code = run
    chart = _stock_chart(qtbot)
    chart.set_data(detail, detail.iloc[:0], 30.0, 70.0, code)
    i = len(detail) // 2
    bar = detail.iloc[i]
    x = posix_seconds(detail["date"])[i]
    scene_pos = chart.price_plot.vb.mapViewToScene(QPointF(x, bar["close"]))
    chart.plots.scene().sigMouseMoved.emit(scene_pos)
    day = str(bar["date"].date())
    qtbot.waitUntil(lambda: day in chart.readout.text(), timeout=HANG_GUARD_MS)
    text = chart.readout.text()
    for name in ("open", "high", "low", "close"):
        assert f"{bar[name]:.2f}" in text
    assert f"{bar['rsi']:.1f}" in text
    assert all(v_line.isVisible() and v_line.value() == x for _, v_line, _ in chart._crosshair)


def test_clicking_a_marker_reports_its_fill(
        qtbot: QtBot, run: tuple[BacktestResult, pd.DataFrame, str]) -> None:
    result, detail, code = run
    fills = result.fills[result.fills["code"] == code].reset_index(drop=True)
    chart = _stock_chart(qtbot)
    chart.set_data(detail, fills, 30.0, 70.0, code)
    k = len(fills) // 2
    x = posix_seconds(fills["date"])[k]
    x_range = (x - 20 * 86_400.0, x + 20 * 86_400.0)
    chart.price_plot.setXRange(*x_range, padding=0)
    chart.grab()
    view = chart.plots.mapFromScene(
        chart.price_plot.vb.mapViewToScene(QPointF(x, fills["price"][k])))
    with qtbot.waitSignal(chart.fill_clicked, timeout=HANG_GUARD_MS) as signal:
        qtbot.mouseClick(chart.plots.viewport(), Qt.MouseButton.LeftButton, pos=view)
    assert signal.args == [k]


def test_stock_chart_clear_data_empties(
        qtbot: QtBot, run: tuple[BacktestResult, pd.DataFrame, str], tmp_path: Path) -> None:
    result, detail, code = run
    chart = _stock_chart(qtbot)
    chart.set_data(detail, result.fills[result.fills["code"] == code], 25.0, 75.0, code)
    chart.clear_data()
    assert chart.grab().save(str(tmp_path / "stock_chart_empty.png"))
    assert chart.candles.bar_count == chart.volume.bar_count == 0
    assert len(chart.markers.data) == 0 and not len(chart.rsi_curve.getData()[1] or [])
    assert chart.title.text() == "No stock selected" and chart.placeholder.isVisible()


def test_ten_years_of_bars_paint_binned_to_the_pixels(qtbot: QtBot, tmp_path: Path) -> None:
    # What keeps 10 years fast: bars binned to at most one mark per pixel, the RSI line
    # clipped to the view and peak-downsampled. The time itself: benchmarks/bench_gui.py.
    detail = _ten_years()
    fills = pd.DataFrame({"date": detail["date"].iloc[[100, 400]].to_numpy(),
                          "code": "000001.SZ", "side": ["buy", "sell"], "shares": [100, 100],
                          "price": detail["close"].iloc[[100, 400]].to_numpy()})
    chart = _stock_chart(qtbot)
    chart.set_data(detail, fills, 30.0, 70.0, "000001.SZ · 10 years")
    image = chart.grab()  # the first paint
    assert not image.isNull() and image.save(str(tmp_path / "stock_chart_10y.png"))
    assert chart.candles.bar_count == chart.volume.bar_count == 2_500
    pixels = chart.price_plot.vb.width()
    assert pixels < 2_500  # more bars than pixels: they must be binned
    for item in (chart.candles, chart.volume):
        assert 0 < item.drawn_count <= pixels  # painted, never a mark per bar
    opts = chart.rsi_curve.opts
    assert opts["clipToView"] and opts["autoDownsample"] and opts["downsampleMethod"] == "peak"
    assert len(chart.rsi_curve.yData) == 2_500 and len(chart.markers.data) == 2


def _timing_chart(qtbot: QtBot) -> TimingChart:
    chart = TimingChart()
    qtbot.addWidget(chart)
    chart.resize(800, 520)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


def test_stage_bars_are_the_runs_timings_and_in_process_lane(
        qtbot: QtBot, run: tuple[BacktestResult, pd.DataFrame, str], tmp_path: Path) -> None:
    result = run[0]
    timings = {**result.timings, "spawn": 0.002}  # a key the chart does not know yet
    chart = _timing_chart(qtbot)
    chart.set_data(timings, result.worker_spans)
    assert chart.grab().save(str(tmp_path / "timing_chart_in_process.png"))
    subs = [k for k in timings if k.startswith("load.")]
    assert subs and chart.stage_names[:len(subs) + 1] == ["load", *subs]
    assert [s for s in chart.stage_names if "." not in s] == [*STAGES, "spawn"]
    assert set(chart.stage_names) == set(timings) - {"total"}
    expected = [timings[s] * 1000.0 for s in chart.stage_names]
    np.testing.assert_allclose(chart.stage_bars.opts["width"], expected, rtol=1e-12)
    assert chart.facts.text() == f"total {format_ms(timings['total'] * 1000.0)}"
    assert chart.lane_names == [IN_PROCESS]
    widths = np.asarray(chart.lane_blocks.opts["width"])
    np.testing.assert_allclose(widths, [timings[s] * 1000.0 for s in STAGES], rtol=1e-12)


def test_one_lane_per_worker_with_its_spans(qtbot: QtBot,
                                            run: tuple[BacktestResult, pd.DataFrame, str],
                                            tmp_path: Path) -> None:
    rows = [(w, stage, 0.01 * k + 0.001 * w, 0.01 * (k + 1) + 0.001 * w)
            for w in (3, 0, 2, 1) for k, stage in enumerate(STAGES[:4])]
    rows.append((0, "metrics", 0.05, 0.06))
    spans = pd.DataFrame(rows, columns=["worker", "stage", "start", "end"])
    chart = _timing_chart(qtbot)
    counters = {"pool_startup": 0.8, "workers": 4.0, "bytes_to_workers": 3.5 * 2**20,
                "bytes_from_workers": 900.0}  # what a pooled run adds (engine.execution.parallel)
    chart.set_data({**run[0].timings, **counters}, spans)
    assert chart.grab().save(str(tmp_path / "timing_chart_workers.png"))
    assert "workers" not in chart.stage_names and chart.stage_names[-1] == "pool_startup"
    assert chart.facts.text().endswith("4 workers · 3.5 MiB to workers · 900 B back")
    assert chart.lane_names == ["worker 0", "worker 1", "worker 2", "worker 3"]
    widths = np.asarray(chart.lane_blocks.opts["width"])
    assert widths.size == len(spans)
    np.testing.assert_allclose(widths, (spans["end"] - spans["start"]) * 1000.0, rtol=1e-12)
    lanes = np.asarray(chart.lane_blocks.opts["y"])
    np.testing.assert_array_equal(lanes, spans["worker"].to_numpy(dtype=float))
    # Hovering the middle of worker 2's "signals" block names it.
    block = spans[(spans["worker"] == 2) & (spans["stage"] == "signals")].iloc[0]
    middle = QPointF((block["start"] + block["end"]) * 500.0, 2.0)
    chart.plots.scene().sigMouseMoved.emit(chart.lane_plot.vb.mapViewToScene(middle))
    qtbot.waitUntil(lambda: chart.hover.text().startswith("worker 2 · signals"),
                    timeout=HANG_GUARD_MS)


def test_timing_chart_clear_data_empties(qtbot: QtBot,
                                         run: tuple[BacktestResult, pd.DataFrame, str]) -> None:
    chart = _timing_chart(qtbot)
    chart.set_data(run[0].timings, run[0].worker_spans)
    chart.clear_data()
    assert chart.stage_names == [] and chart.lane_names == []
    assert len(chart.stage_bars.opts["width"]) == 0 and len(chart.lane_blocks.opts["width"]) == 0
    assert chart.placeholder.isVisible()


def test_the_benchmark_line_is_named_after_the_index(qtbot) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from gui.equity_chart import EQUAL_WEIGHT, EquityChart

    chart = EquityChart()
    qtbot.addWidget(chart)
    frame = pd.DataFrame({"date": pd.bdate_range("2024-01-02", periods=3),
                          "equity": [1.0, 1.1, 1.2], "benchmark": [1.0, 1.0, 1.05],
                          "drawdown": [0.0, 0.0, 0.0]})
    chart.set_data(frame, "000300.SH")
    assert chart.legend.getLabel(chart.benchmark).text == "benchmark: 000300.SH  CSI 300 / 沪深300"
    chart.set_data(frame)
    assert chart.legend.getLabel(chart.benchmark).text == EQUAL_WEIGHT


def test_date_axes_put_a_days_tick_on_that_days_point_in_any_time_zone(
        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """x values are dates at UTC midnight: a local-time axis west of Greenwich put the
    1 March tick five hours after 1 March's point (New York), so labels sat beside the
    wrong bars. Every chart's date axis is in UTC."""
    import time

    import pyqtgraph as pg

    from gui.compare_view import CompareView
    from gui.equity_chart import EquityChart
    from gui.plot_style import DateAxis

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        day = float(posix_seconds(np.array(["2024-03-01"], dtype="datetime64[D]"))[0])
        widget = pg.PlotWidget(axisItems={"bottom": DateAxis()})
        qtbot.addWidget(widget)
        widget.resize(800, 300)
        widget.show()
        widget.setXRange(day - 10 * 86400, day + 10 * 86400, padding=0)
        widget.grab()  # painted once: the axis knows its font
        levels = widget.getPlotItem().getAxis("bottom").tickValues(
            day - 10 * 86400, day + 10 * 86400, 800)
        assert day in levels[0][1]  # the month tick is 1 March's own x
        equity = EquityChart()
        qtbot.addWidget(equity)
        axes = [equity.equity_plot.getAxis("bottom"), equity.drawdown_plot.getAxis("bottom"),
                CompareView().plot.getAxis("bottom")]
        assert all(isinstance(a, DateAxis) and a.utcOffset == 0 for a in axes)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
