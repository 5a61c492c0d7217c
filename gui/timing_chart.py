"""Where a run's time went: a bar per stage, and a Gantt lane per worker process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.progress import STAGES
from engine.results.tables import TIMING_COUNTS
from gui.plot_style import AXIS_WIDTH, GUIDE_COLOR, TEXT_COLOR, placeholder_stack, style_plot

#: Stage colours (Tableau 10) in the stages' order; stages beyond them (the engine may add
#: some) take the spare ones in order.
STAGE_COLORS = dict(zip(STAGES, ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2"),
                        strict=False))
#: The worker pool's own spans (engine.execution.pool): quiet colours, the stages stay the story.
STAGE_COLORS.update({"startup": "#cfd4da", "attach": "#b07aa1", "return": "#9c755f",
                     "pool_startup": "#adb5bd"})
SPARE_COLORS = ("#edc948", "#ff9da7", "#8cd17d", "#86bcb6", "#d4a6c8")
#: ``timings`` entries that are counts, not seconds (engine.execution.parallel.pool_timings).
IN_PROCESS = "in-process"
BAR_HEIGHT = 0.62
LANE_HEIGHT = 0.7
PLOT_CHROME_PX = 76  # a plot's title and labelled x axis


def stage_order(timings: dict[str, float]) -> list[str]:
    """Keys of ``timings`` to show as bars, top to bottom: the run's stages in pipeline
    order, each followed by its sub-stages (``load.read``), then any other duration;
    never ``total`` or the ``TIMING_COUNTS``."""
    keys = [k for k in timings if k != "total" and k not in TIMING_COUNTS]
    order: list[str] = []
    for stage in STAGES:
        if stage in timings:
            order.append(stage)
        order += [k for k in keys if k.startswith(f"{stage}.")]
    return order + [k for k in keys if k not in order]


def _lane_name(worker: object) -> str:
    if isinstance(worker, int | np.integer):
        return f"worker {worker}"
    return str(worker)


def _row_label(stage: str) -> str:
    return stage.replace(".", " › ", 1).replace("_", " ")


def _format_bytes(n: float) -> str:
    for size, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _facts(timings: dict[str, float]) -> str:
    """The run's total and the pool's counters, as one line of text."""
    parts = []
    if "total" in timings:
        parts.append(f"total {format_ms(timings['total'] * 1000.0)}")
    if "workers" in timings:
        parts.append(f"{timings['workers']:.0f} workers")
    if "bytes_to_workers" in timings:
        parts.append(f"{_format_bytes(timings['bytes_to_workers'])} to workers")
    if "bytes_from_workers" in timings:
        parts.append(f"{_format_bytes(timings['bytes_from_workers'])} back")
    return " · ".join(parts)


def format_ms(ms: float) -> str:
    """``12.34`` -> ``12.3 ms``; whole milliseconds from 100 ms up."""
    return f"{ms:,.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


class TimingChart(QWidget):
    """Timing breakdown of one run.

    Top: one horizontal bar per timed entry, labelled in ms: the stages in pipeline
    order, each followed by its sub-stages (``load.read`` shows as "load › read", in a
    lighter shade), then other durations such as ``pool_startup``. The header gives the
    total and the pool's counters (workers, bytes shipped), which are not durations.
    Bottom: one lane per worker from ``worker_spans`` with a block per (stage, start,
    end) on a shared "ms since run start" axis; hovering a block names it. Without
    worker spans the stages are laid end to end on a single "in-process" lane.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._colors: dict[str, QColor] = {}
        self._blocks = pd.DataFrame()
        self.stage_names: list[str] = []
        self.lane_names: list[str] = []
        self._build()
        self.clear_data()

    def _build(self) -> None:
        self.title = QLabel("Timings")
        self.title.setStyleSheet(f"font-weight: 600; font-size: 12pt; color: {TEXT_COLOR};")
        self.facts = QLabel()
        self.facts.setStyleSheet(f"color: {TEXT_COLOR}; padding-left: 8px;")
        # Narrow windows clip the facts rather than grow the widget.
        self.facts.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 0)
        header.addWidget(self.title)
        header.addWidget(self.facts, 1)
        header.addWidget(self.legend)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.plots.ci.setSpacing(10)
        self.stage_plot = self.plots.addPlot(row=0, col=0)
        self.lane_plot = self.plots.addPlot(row=1, col=0)
        for plot in (self.stage_plot, self.lane_plot):
            style_plot(plot)
            plot.showGrid(x=True, y=False, alpha=0.15)
            plot.invertY(True)
            plot.setMouseEnabled(x=False, y=False)
            # Heights follow the row counts (see _fit_rows), not pyqtgraph's preferred size.
            plot.setPreferredHeight(1)
        self.stage_plot.setTitle("Time per stage", color=TEXT_COLOR, size="10pt")
        self.stage_plot.getAxis("bottom").setLabel("ms", color=TEXT_COLOR)
        self.lane_plot.setTitle("Workers over time", color=TEXT_COLOR, size="10pt")
        self.lane_plot.getAxis("bottom").setLabel("ms since run start", color=TEXT_COLOR)
        self.lane_plot.setMouseEnabled(x=True, y=False)
        self.stage_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=BAR_HEIGHT)
        self.stage_plot.addItem(self.stage_bars)
        self._value_labels: list[pg.TextItem] = []
        self.lane_blocks = pg.BarGraphItem(x0=[], y=[], width=[], height=LANE_HEIGHT)
        self.lane_plot.addItem(self.lane_blocks)
        self.hover = QLabel()
        self.hover.setStyleSheet(f"color: {GUIDE_COLOR}; padding: 0 8px 4px 8px;")
        self._mouse_proxy = pg.SignalProxy(self.plots.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        self.placeholder, self._stack = placeholder_stack(
            self.plots, "Run a backtest to see where its time went.")
        layout.addWidget(self._stack, 1)
        layout.addWidget(self.hover)
        self.setMinimumSize(360, 300)

    def sizeHint(self) -> QSize:
        return QSize(720, 460)

    def set_data(self, timings: dict[str, float], worker_spans: pd.DataFrame) -> None:
        """Show a run's ``BacktestResult.timings`` (stage -> seconds) and ``worker_spans``
        (worker, stage, start, end in seconds from run start; empty for in-process runs)."""
        self.stage_names = stage_order(timings)
        ms = np.array([timings[k] for k in self.stage_names], dtype=float) * 1000.0
        spans = self._spans(timings, worker_spans)
        self._assign_colors(self.stage_names + [str(s) for s in spans["stage"]])
        self._set_stage_bars(ms)
        self._set_lanes(spans)
        self._fit_label_width()
        self.facts.setText(_facts(timings))
        self.hover.setText("Hover a block for its worker, stage and times.")
        self._stack.setCurrentWidget(self.plots)

    def clear_data(self) -> None:
        """Show no run."""
        self.stage_names, self.lane_names = [], []
        self._set_stage_bars(np.empty(0))
        self._set_lanes(pd.DataFrame({"lane": [], "stage": [], "start": [], "end": []}))
        self.facts.setText("no run yet")
        self.legend.clear()
        self.hover.clear()
        self._stack.setCurrentWidget(self.placeholder)

    @staticmethod
    def _spans(timings: dict[str, float], worker_spans: pd.DataFrame) -> pd.DataFrame:
        """Blocks to draw (lane, stage, start, end in ms); the in-process lane if no spans."""
        if worker_spans is not None and len(worker_spans):
            return pd.DataFrame({
                "lane": worker_spans["worker"].map(_lane_name),
                "worker": worker_spans["worker"],
                "stage": worker_spans["stage"].astype(str),
                "start": worker_spans["start"].to_numpy(dtype=float) * 1000.0,
                "end": worker_spans["end"].to_numpy(dtype=float) * 1000.0,
            })
        stages = [s for s in STAGES if s in timings]
        ms = np.array([timings[s] for s in stages], dtype=float) * 1000.0
        ends = np.cumsum(ms)  # laid end to end: layout of given durations, not a measurement
        return pd.DataFrame({"lane": IN_PROCESS, "worker": IN_PROCESS, "stage": stages,
                             "start": ends - ms, "end": ends})

    def _assign_colors(self, names: list[str]) -> None:
        self._colors = {}
        spare = iter(SPARE_COLORS * (1 + len(names) // len(SPARE_COLORS)))
        for name in dict.fromkeys(names):
            parent = name.split(".", 1)[0]
            if name in STAGE_COLORS:
                self._colors[name] = QColor(STAGE_COLORS[name])
            elif parent != name and parent in STAGE_COLORS:
                self._colors[name] = QColor(STAGE_COLORS[parent]).lighter(135)
            else:
                self._colors[name] = QColor(next(spare))

    def _set_stage_bars(self, ms: np.ndarray) -> None:
        for label in self._value_labels:
            self.stage_plot.removeItem(label)
        self._value_labels = []
        y = np.arange(ms.size, dtype=float)
        brushes = [pg.mkBrush(self._colors[name]) for name in self.stage_names]
        self.stage_bars.setOpts(x0=np.zeros(ms.size), y=y, width=ms, height=BAR_HEIGHT,
                                brushes=brushes, pen=pg.mkPen(None))
        for row, value in enumerate(ms):
            label = pg.TextItem(format_ms(value), color=TEXT_COLOR, anchor=(0, 0.5))
            label.setPos(value, row)
            self.stage_plot.addItem(label, ignoreBounds=True)
            self._value_labels.append(label)
        ticks = [(i, _row_label(name)) for i, name in enumerate(self.stage_names)]
        self.stage_plot.getAxis("left").setTicks([ticks, []])
        top = float(ms.max()) if ms.size else 1.0
        # Room on the right for the value labels.
        self.stage_plot.setXRange(0, top * 1.22, padding=0)
        self.stage_plot.setYRange(-0.6, max(ms.size, 1) - 0.4, padding=0)
        self._fit_rows(0, self.stage_plot, ms.size, 14)

    def _set_lanes(self, spans: pd.DataFrame) -> None:
        self._blocks = spans
        order = spans.drop_duplicates("lane")
        if len(order) and "worker" in order and order["worker"].map(
                lambda w: isinstance(w, int | np.integer)).all():
            order = order.sort_values("worker", kind="stable")
        self.lane_names = order["lane"].tolist()
        row = {name: i for i, name in enumerate(self.lane_names)}
        y = spans["lane"].map(row).to_numpy(dtype=float)
        start, end = spans["start"].to_numpy(float), spans["end"].to_numpy(float)
        stages = spans["stage"].tolist()
        self.lane_blocks.setOpts(
            x0=start, y=y, width=end - start, height=LANE_HEIGHT,
            brushes=[pg.mkBrush(self._colors[s]) for s in stages],
            pen=pg.mkPen("w", width=1))
        self.lane_plot.getAxis("left").setTicks([list(enumerate(self.lane_names)), []])
        right = float(end.max()) if end.size else 1.0
        self.lane_plot.setLimits(xMin=0, xMax=right * 1.05)
        self.lane_plot.setXRange(0, right, padding=0.02)
        self.lane_plot.setYRange(-0.6, max(len(self.lane_names), 1) - 0.4, padding=0)
        self._fit_rows(1, self.lane_plot, len(self.lane_names), 12)
        self.legend.setText("&nbsp;&nbsp;".join(
            f"<span style='color:{self._colors[s].name()}'>■</span>"
            f"<span style='color:{TEXT_COLOR}'> {s}</span>"
            for s in dict.fromkeys(spans.sort_values("start", kind="stable")["stage"])))

    def _fit_label_width(self) -> None:
        """Widen both y axes (kept equal so the plots line up) to the longest row label."""
        metrics = QFontMetrics(self.stage_plot.getAxis("left").style["tickFont"] or self.font())
        labels = [*(_row_label(s) for s in self.stage_names), *self.lane_names]
        width = max([metrics.horizontalAdvance(t) for t in labels], default=0)
        for plot in (self.stage_plot, self.lane_plot):
            plot.getAxis("left").setWidth(max(AXIS_WIDTH, width + 20))

    def _fit_rows(self, row: int, plot: pg.PlotItem, n_rows: int, min_px: int) -> None:
        """Give a plot its title and axis plus ``min_px`` per row, and spare space by rows."""
        plot.setMinimumHeight(PLOT_CHROME_PX + min_px * max(n_rows, 1))
        self.plots.ci.layout.setRowStretchFactor(row, max(n_rows, 1))

    def _mouse_moved(self, args: tuple[QPointF]) -> None:
        vb = self.lane_plot.vb
        if not len(self._blocks) or not vb.sceneBoundingRect().contains(args[0]):
            return
        point = vb.mapSceneToView(args[0])
        row = round(point.y())
        if not 0 <= row < len(self.lane_names) or abs(point.y() - row) > LANE_HEIGHT / 2:
            return
        b = self._blocks
        hit = b[(b["lane"] == self.lane_names[row]) & (b["start"] <= point.x())
                & (b["end"] >= point.x())]
        if len(hit):
            h = hit.iloc[0]
            self.hover.setText(f"{h['lane']} · {h['stage']} · {h['start']:,.1f} → "
                               f"{h['end']:,.1f} ms ({format_ms(h['end'] - h['start'])})")
