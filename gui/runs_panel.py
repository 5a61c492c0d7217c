"""The run history: saved runs as a sortable table to open, compare, annotate, export or delete.

The panel never opens the store itself (no sqlite3 in the window's process): it reads,
edits and exports through the run store's jobs on the run host
(``engine.execution.jobs.list_runs``, ``update_runs``, ``delete_runs``, ``export_runs``),
waited for on Qt's thread pool (``gui.jobs_bridge.BackgroundJob``), one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.execution import jobs
from engine.results.store_path import default_store_path
from engine.util.words import counted
from gui.dialog_folders import EXPORT, ask_folder
from gui.error_panel import ErrorPanel
from gui.jobs_bridge import BackgroundJob
from gui.metric_table import MetricTable
from gui.plot_style import GUIDE_COLOR

log = logging.getLogger(__name__)

#: Seconds a job of the panel waits for another process's write to the store; past that
#: it fails with a message instead of keeping the panel busy (the store's own default
#: is a minute).
GUI_BUSY_TIMEOUT_S = 2.0
#: Column order of the list: who and when, then how it did, then how it was set up.
COLUMN_ORDER = ("id", "name", "created", "total_return", "sharpe", "max_drawdown", "trades",
                "tags", "stocks", "start", "end", "period", "oversold", "overbought",
                "capital_mode", "fill", "notes")


def _tags(value: Any) -> str:
    """The store's comma-joined tags, spaced for reading."""
    return ", ".join(str(value).split(",")) if value else ""


@dataclass(frozen=True)
class StoreLocation:
    """The run store the panel shows: where it is (the run host opens it)."""

    path: Path


class RunsPanel(QWidget):
    """Lists the run store's ``list_runs()``; every change is a job on the run host that
    answers with the store's fresh list. While a job runs the panel says "working…" and
    its actions are off. Problems show in an inline error panel, never as a traceback.

    ``store`` is where the store is (``path``); None once it could not be opened (Refresh
    tries again). Edits return at once (False when none could start); ``job_finished(ok)``
    says when one ended and whether it did all it was asked.

    Signals: ``open_requested(int)`` (Open, Enter or double-click: show that run's result),
    ``compare_requested(list)`` (the selected run ids, two or more), ``job_finished(bool)``.
    """

    open_requested = Signal(int)
    compare_requested = Signal(list)
    job_finished = Signal(bool)

    def __init__(self, store_path: Path | str | None = None) -> None:
        """``store_path``: the run store's file (default: ``default_store_path()``)."""
        super().__init__()
        self.errors = ErrorPanel()
        # "created" reads as YYYY-MM-DD HH:MM by its engine.results.formatting kind.
        self.table = MetricTable(extra_formats={"tags": _tags}, filter_column="name")
        self.table.export_name = "run history"
        self.table.filter.setPlaceholderText("Filter by name…")
        view = self.table.view
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().hide()  # the id column names the rows
        self.table.row_activated.connect(lambda row: self.open_requested.emit(int(row["id"])))
        self.status = QLabel(" ")
        self.status.setStyleSheet(f"color: {GUIDE_COLOR};")
        buttons = self._build_actions()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.errors)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.model.modelReset.connect(self._selection_changed)
        self.path = (Path(store_path).expanduser() if store_path is not None
                     else default_store_path())
        self.store: StoreLocation | None = StoreLocation(self.path)
        self._working = ""  # what the running job does; "" when none runs
        self.refresh()
        # Newest first, as the store lists them; the header shows it (and keeps it on refresh).
        view.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        self._selection_changed()

    def _build_actions(self) -> QHBoxLayout:
        """Actions for the buttons, the context menu and the keyboard."""
        key = QKeySequence.StandardKey
        self.actions_by_name: dict[str, QAction] = {}
        buttons = QHBoxLayout()
        for name, text, slot, shortcut in (
                ("open", "Open", self.open_selected, QKeySequence(Qt.Key.Key_Return)),
                ("compare", "Compare", self.compare_selected, None),
                ("rename", "Rename…", self.ask_rename, QKeySequence(Qt.Key.Key_F2)),
                ("tags", "Tags…", self.ask_tags, None),
                ("notes", "Notes…", self.ask_notes, None),
                ("export", "Export…", self.ask_export, None),
                ("delete", "Delete…", self.ask_delete, QKeySequence(key.Delete)),
                ("refresh", "Refresh", self.refresh, QKeySequence(key.Refresh))):
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(shortcut)
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.actions_by_name[name] = act
            button = QToolButton()
            button.setDefaultAction(act)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            if name == "refresh":
                buttons.addStretch(1)
            else:
                self.table.view.addAction(act)
            buttons.addWidget(button)
        return buttons

    # ---------------------------------------------------------------- jobs
    def idle(self) -> bool:
        """Whether no job of the panel is running."""
        return not self._working

    def _start(self, job: Callable[[], jobs.StoreOutcome], working: str,
               then: Callable[[jobs.StoreOutcome], bool]) -> bool:
        """Run ``job`` on the run host (from Qt's thread pool) with the panel busy
        (status "working… ``working``", actions off); ``then(outcome)`` handles its
        outcome here and says whether it did all it was asked. False if a job runs."""
        if self._working:
            self.errors.show_error("The run history is busy with another change; "
                                   "try again when it is done")
            return False
        self._working = working
        self.status.setText(f"working… {working}")
        self._selection_changed()

        def done(_: object, outcome: jobs.StoreOutcome) -> None:
            self._end_job()
            self.job_finished.emit(then(outcome))

        def failed(_: object, message: str) -> None:  # the host itself failed
            self._end_job()
            self.errors.show_error(message)
            self.status.setText(f"{working} failed")
            self.job_finished.emit(False)

        BackgroundJob(working, job, working, self).start(done, failed)
        return True

    def _end_job(self) -> None:
        self._working = ""
        self._selection_changed()

    def _change(self, job: Callable[[], jobs.StoreOutcome], working: str, done: str,
                failed: str) -> bool:
        """Start an edit of the store; its outcome's list is shown, then ``done`` in
        the status line, or the error after ``failed`` in the error panel."""
        if self.store is None:
            self.errors.show_error(f"{failed}: no run store is open")
            return False

        def then(outcome: jobs.StoreOutcome) -> bool:
            if outcome.runs is not None:
                self.show_runs(outcome.runs)
            if not outcome.ok:
                self.errors.show_error(f"{failed}: {outcome.error}")
                return False
            self.errors.clear()
            self.status.setText(done)
            return True

        return self._start(job, working, then)

    # ------------------------------------------------------------- reading
    def refresh(self) -> bool:
        """Read the list of runs again (on the run host), keeping the selection where the
        runs remain; a store that could not be opened is tried again. False if a job of
        the panel is running."""
        path = self.path

        def then(outcome: jobs.StoreOutcome) -> bool:
            if not outcome.opened:
                self.store = None
                self.errors.show_error(f"Could not open the run store: {outcome.error}")
            elif outcome.runs is None:
                self.errors.show_error(f"Could not read the run history: {outcome.error}")
            else:
                self.store = StoreLocation(path)
                self.errors.clear()
                self.show_runs(outcome.runs)
                return True
            self.status.setText(f"the run history in {path} could not be read")
            self._selection_changed()
            return False

        return self._start(lambda: jobs.list_runs(path, GUI_BUSY_TIMEOUT_S),
                           "reading the run history", then)

    def show_runs(self, runs: pd.DataFrame) -> None:
        """Show ``runs`` (the store's ``list_runs()``, read on the run host), keeping the
        selection where the runs remain."""
        keep = self.selected_ids()
        self.table.set_data(self._ordered(runs))
        self.select(keep)
        where = self.store.path if self.store is not None else "the run store"
        self.status.setText(f"{counted(self.table.model.rowCount(), 'saved run')} in {where}")

    @staticmethod
    def _ordered(runs: pd.DataFrame) -> pd.DataFrame:
        first = [c for c in COLUMN_ORDER if c in runs.columns]
        return runs[first + [c for c in runs.columns if c not in first]]

    def run_ids(self) -> list[int]:
        """The ids of the listed runs, in the order shown."""
        frame = self.table.model.frame()
        return [int(i) for i in frame["id"]] if "id" in frame.columns else []

    def selected_ids(self) -> list[int]:
        """The ids of the selected runs, in the order shown."""
        rows = sorted(index.row() for index in self.table.view.selectionModel().selectedRows())
        ids = self.run_ids()
        return [ids[row] for row in rows]

    def select(self, run_ids: Sequence[int]) -> None:
        """Select the listed runs among ``run_ids`` (others are ignored)."""
        selection = self.table.view.selectionModel()
        selection.clearSelection()
        flags = (QItemSelectionModel.SelectionFlag.Select
                 | QItemSelectionModel.SelectionFlag.Rows)
        for row, run_id in enumerate(self.run_ids()):
            if run_id in run_ids:
                selection.select(self.table.model.index(row, 0), flags)

    # ------------------------------------------------------------- changes
    # Each starts a job on the run host and returns whether it started; ``job_finished``
    # follows with whether the store did all of it. The list is read again either way.
    def rename_run(self, run_id: int, name: str) -> bool:
        """Give a run a new name; a store that refuses says why in the error panel."""
        path = self.path
        return self._change(
            lambda: jobs.update_runs(path, [run_id], name=name, busy_timeout=GUI_BUSY_TIMEOUT_S),
            f"renaming run {run_id}", f"Renamed run {run_id}", f"Could not rename run {run_id}")

    def set_tags(self, run_ids: Sequence[int], tags: Sequence[str]) -> bool:
        """Replace the tags of each run in ``run_ids``."""
        path, ids, new = self.path, list(run_ids), list(tags)
        return self._change(
            lambda: jobs.update_runs(path, ids, tags=new, busy_timeout=GUI_BUSY_TIMEOUT_S),
            f"tagging {counted(len(ids), 'run')}", f"Tagged {counted(len(ids), 'run')}",
            "Could not set the tags")

    def set_notes(self, run_id: int, notes: str) -> bool:
        """Replace a run's notes."""
        path = self.path
        return self._change(
            lambda: jobs.update_runs(path, [run_id], notes=notes,
                                     busy_timeout=GUI_BUSY_TIMEOUT_S),
            f"saving the notes of run {run_id}", f"Saved the notes of run {run_id}",
            f"Could not save the notes of run {run_id}")

    def delete_runs(self, run_ids: Sequence[int]) -> bool:
        """Delete runs (no confirmation: ``ask_delete`` asks first)."""
        path, ids = self.path, list(run_ids)
        return self._change(
            lambda: jobs.delete_runs(path, ids, busy_timeout=GUI_BUSY_TIMEOUT_S),
            f"deleting {counted(len(ids), 'run')}", f"Deleted {counted(len(ids), 'run')}",
            "Could not delete")

    def export_runs(self, run_ids: Sequence[int], folder: Path) -> bool:
        """Write each run's tables with ``engine.results.export.export_result`` (with the tables
        attached to it: a sweep's table, a walk-forward's folds), on the run host: one run
        into ``folder`` itself, several into one ``run_<id>`` subfolder each."""
        if self.store is None:
            self.errors.show_error("Could not export: no run store is open")
            return False
        path, ids, what = self.path, list(run_ids), counted(len(run_ids), "run")

        def then(outcome: jobs.StoreOutcome) -> bool:
            if not outcome.ok:  # worded as gui.file_writes.failure_message
                advice = "; choose another folder" if outcome.os_error else ""
                message = f"Could not write {folder}: {outcome.error}{advice}"
                log.warning("%s (%s)", message, what)
                self.errors.show_error(message, f"Writing {what} to {folder}\n"
                                                f"{outcome.error}")
                self.status.setText(f"exporting {what} failed")
                return False
            log.info("wrote %s to %s", what, folder)
            self.errors.clear()
            self.status.setText(f"Exported {what} to {folder}")
            return True

        return self._start(
            lambda: jobs.export_runs(path, ids, folder, busy_timeout=GUI_BUSY_TIMEOUT_S),
            f"exporting {what}", then)

    # ------------------------------------------------- actions (with dialogs)
    def _selected_row(self) -> dict[str, Any] | None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return None
        frame = self.table.model.frame()
        return dict(frame[frame["id"] == ids[0]].iloc[0])

    def open_selected(self) -> None:
        """Emit ``open_requested`` for the one selected run."""
        ids = self.selected_ids()
        if len(ids) == 1:
            self.open_requested.emit(ids[0])

    def compare_selected(self) -> None:
        """Emit ``compare_requested`` with the selected runs (two or more)."""
        ids = self.selected_ids()
        if len(ids) >= 2:
            self.compare_requested.emit(ids)

    def ask_rename(self) -> None:
        """Ask for a new name of the selected run."""
        row = self._selected_row()
        if row is None:
            return
        name, ok = QInputDialog.getText(self, "Rename run", f"New name of run {row['id']}:",
                                        text=str(row["name"]))
        if ok:
            self.rename_run(int(row["id"]), name)

    def ask_tags(self) -> None:
        """Ask for the tags (comma-separated) of the selected runs."""
        ids = self.selected_ids()
        if not ids:
            return
        row = self._selected_row()
        current = str(row["tags"]) if row is not None else ""
        text, ok = QInputDialog.getText(
            self, "Tags", f"Tags of {counted(len(ids), 'run')}, separated by commas "
            "(replaces their tags):", text=current)
        if ok:
            self.set_tags(ids, [tag.strip() for tag in text.split(",")])

    def ask_notes(self) -> None:
        """Ask for the notes of the selected run."""
        row = self._selected_row()
        if row is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Notes", f"Notes on run {row['id']}:",
                                                 str(row["notes"] or ""))
        if ok:
            self.set_notes(int(row["id"]), text)

    def ask_export(self) -> None:
        """Ask for a folder and export the selected runs into it."""
        ids = self.selected_ids()
        if not ids:
            return
        folder = ask_folder(self, EXPORT, "Export run(s) into folder")
        if folder is not None:
            self.export_runs(ids, folder)

    def ask_delete(self) -> None:
        """Delete the selected runs after the user confirms."""
        ids = self.selected_ids()
        if not ids:
            return
        answer = QMessageBox.question(
            self, "Delete runs", f"Delete {counted(len(ids), 'saved run')} "
            f"({', '.join(map(str, ids))})? "
            "This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_runs(ids)

    def _selection_changed(self, *_: object) -> None:
        count = len(self.selected_ids())
        ready = self.store is not None and not self._working
        for name, enabled in (("open", count == 1), ("compare", count >= 2),
                              ("rename", count == 1), ("tags", count >= 1),
                              ("notes", count == 1), ("export", count >= 1),
                              ("delete", count >= 1)):
            self.actions_by_name[name].setEnabled(enabled and ready)
        self.actions_by_name["refresh"].setEnabled(not self._working)
