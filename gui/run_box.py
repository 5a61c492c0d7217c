"""The Run and Cancel buttons, a progress bar with the time left, and why Run is off."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QVBoxLayout, QWidget

from gui.plot_style import error_label


class RunBox(QWidget):
    """Run/Cancel for one kind of run (a backtest, a sweep); the owner connects the
    buttons' ``clicked`` and reports through ``start``, ``show_progress``, ``show_status``,
    ``set_running`` and ``set_reason``. Run is enabled only while nothing runs and there
    is no reason against it; Cancel only while a run is going. ``stopped`` when a run
    ends (``set_running(False)`` after a run), whichever way it ended."""

    stopped = Signal()

    def __init__(self, run_text: str, cancel_text: str, eta_decimals: int = 0,
                 margin: int = 0) -> None:
        super().__init__()
        self.eta_decimals = eta_decimals
        self.running = False
        self._started_at = 0.0
        self.run_button = QPushButton(run_text)
        self.run_button.setStyleSheet("font-weight: bold; padding: 6px;")
        self.cancel_button = QPushButton(cancel_text)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.reason = error_label()
        self.reason.hide()
        row = QHBoxLayout()
        row.addWidget(self.run_button, 1)
        row.addWidget(self.cancel_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(margin, margin, margin, margin)
        box.addLayout(row)
        box.addWidget(self.progress)
        box.addWidget(self.reason)

    def set_reason(self, reason: str) -> None:
        """Why a run cannot start ("" when it can): shown under the bar; Run follows."""
        self.reason.setText(f"Cannot run: {reason}" if reason else "")
        self.reason.setVisible(bool(reason))
        self.run_button.setEnabled(not reason and not self.running)

    def set_running(self, on: bool) -> None:
        """A run started (Cancel on, Run off) or ended (Run on unless there is a reason)."""
        ended = self.running and not on
        self.running = on
        self.cancel_button.setEnabled(on)
        self.run_button.setEnabled(not on and not self.reason.text())
        if ended:
            self.stopped.emit()

    def start(self) -> None:
        """A run starts now: the clock for the time left and the bar start from zero."""
        self.set_running(True)
        self._started_at = time.perf_counter()
        self.show_status("starting…", 0.0)

    def show_progress(self, fraction: float, text: str) -> None:
        """Show ``fraction`` (0 to 1) done with ``text`` and, past 5 %, about how many
        seconds are left at the pace so far."""
        elapsed = time.perf_counter() - self._started_at
        eta = (f", ~{elapsed / fraction - elapsed:.{self.eta_decimals}f} s left"
               if fraction > 0.05 else "")
        self.show_status(text + eta, fraction)

    def status(self) -> tuple[str, float]:
        """The bar's text and fraction done (``show_status`` shows them again)."""
        return self.progress.format(), self.progress.value() / 1000

    def show_status(self, text: str, fraction: float | None = None) -> None:
        """Show ``text`` on the bar, and ``fraction`` (0 to 1) done when given."""
        if fraction is not None:
            self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(text)
