"""The run history: saved runs as a sortable table to open, compare, annotate, export or delete."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
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

from engine.errors import BacktestError
from engine.results.export import export_result
from engine.results.store import RunStore
from gui.dialog_folders import EXPORT, ask_folder
from gui.error_panel import ErrorPanel
from gui.file_writes import write_folder
from gui.metric_table import MetricTable
from gui.plot_style import GUIDE_COLOR

#: Column order of the list: who and when, then how it did, then how it was set up.
#: Seconds an edit from the window waits for another process's write to the store; past
#: that it fails with a message instead of freezing the window (the store's own default
#: is a minute).
GUI_BUSY_TIMEOUT_S = 2.0
COLUMN_ORDER = ("id", "name", "created", "total_return", "sharpe", "max_drawdown", "trades",
                "tags", "stocks", "start", "end", "period", "oversold", "overbought",
                "capital_mode", "fill", "notes")


def _tags(value: Any) -> str:
    """The store's comma-joined tags, spaced for reading."""
    return ", ".join(str(value).split(",")) if value else ""


class RunsPanel(QWidget):
    """Lists ``store.list_runs()``; every change goes through the store, then the list
    is read again. Problems show in an inline error panel, never as a traceback.

    Signals: ``open_requested(int)`` (Open, Enter or double-click: show that run's result),
    ``compare_requested(list)`` (the selected run ids, two or more).
    """

    open_requested = Signal(int)
    compare_requested = Signal(list)

    def __init__(self, store: RunStore | None = None) -> None:
        super().__init__()
        self.errors = ErrorPanel()
        # "created" reads as YYYY-MM-DD HH:MM by its engine.results.formatting kind.
        self.table = MetricTable(extra_formats={"tags": _tags}, filter_column="name")
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
        self.store: RunStore | None = None
        self._attempt(lambda: self._open_store(store), context="Could not open the run store")
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

    def _open_store(self, store: RunStore | None) -> None:
        self.store = store if store is not None else RunStore(busy_timeout=GUI_BUSY_TIMEOUT_S)

    # ------------------------------------------------------------- reading
    def refresh(self) -> None:
        """Read the list of runs again, keeping the selection where the runs remain."""
        self._reload(clear_errors=True)

    def _reload(self, clear_errors: bool) -> None:
        if self.store is None:
            return
        store = self.store
        self._attempt(lambda: self.show_runs(store.list_runs()), clear_errors,
                      context="Could not read the run history")

    def show_runs(self, runs: pd.DataFrame) -> None:
        """Show ``runs`` (the store's ``list_runs()``, read elsewhere), keeping the selection
        where the runs remain."""
        keep = self.selected_ids()
        self.table.set_data(self._ordered(runs))
        self.select(keep)
        where = self.store.path if self.store is not None else "the run store"
        self.status.setText(f"{self.table.model.rowCount()} saved run(s) in {where}")

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
    def rename_run(self, run_id: int, name: str) -> bool:
        """Give a run a new name; False (and an inline error) if the store refuses."""
        return self._change(lambda s: s.update(run_id, name=name), f"Renamed run {run_id}",
                            f"Could not rename run {run_id}")

    def set_tags(self, run_ids: Sequence[int], tags: Sequence[str]) -> bool:
        """Replace the tags of each run in ``run_ids``."""
        def apply(store: RunStore) -> None:
            for run_id in run_ids:
                store.update(run_id, tags=list(tags))
        return self._change(apply, f"Tagged {len(run_ids)} run(s)", "Could not set the tags")

    def set_notes(self, run_id: int, notes: str) -> bool:
        """Replace a run's notes."""
        return self._change(lambda s: s.update(run_id, notes=notes),
                            f"Saved the notes of run {run_id}",
                            f"Could not save the notes of run {run_id}")

    def delete_runs(self, run_ids: Sequence[int]) -> bool:
        """Delete runs (no confirmation: ``ask_delete`` asks first)."""
        def apply(store: RunStore) -> None:
            for run_id in run_ids:
                store.delete(run_id)
        return self._change(apply, f"Deleted {len(run_ids)} run(s)", "Could not delete")

    def export_runs(self, run_ids: Sequence[int], folder: Path) -> bool:
        """Write each run's tables with ``engine.results.export.export_result`` (with the tables
        attached to it: a sweep's table, a walk-forward's folds): one run into ``folder``
        itself, several into one ``run_<id>`` subfolder each."""
        store = self._store_or_say("Could not export")
        if store is None:
            return False

        def write(into: Path) -> None:
            for run_id in run_ids:
                export_result(store.load(run_id),
                              into if len(run_ids) == 1 else into / f"run_{run_id}",
                              extra=store.attachments(run_id))
        if not write_folder(self.errors, folder, write, f"{len(run_ids)} run(s)"):
            return False
        self.errors.clear()
        self.status.setText(f"Exported {len(run_ids)} run(s) to {folder}")
        return True

    def _store_or_say(self, failed: str) -> RunStore | None:
        """The open store; None, said in the panel after ``failed``, when there is none."""
        if self.store is None:
            self.errors.show_error(f"{failed}: no run store is open")
        return self.store

    def _change(self, apply: Callable[[RunStore], None], done: str, failed: str) -> bool:
        store = self._store_or_say(failed)
        if store is None:
            return False
        ok = self._attempt(lambda: apply(store), context=failed)
        self._reload(clear_errors=False)  # a failure just shown stays shown
        if ok:
            self.status.setText(done)
        return ok

    def _attempt(self, action: Callable[[], object], clear_errors: bool = True,
                 context: str = "") -> bool:
        """Run ``action``; show a failure inline (after ``context``) instead of raising."""
        prefix = f"{context}: " if context else ""
        try:
            action()
        except (BacktestError, OSError) as exc:
            self.errors.show_error(f"{prefix}{exc}")
            return False
        except Exception as exc:  # shown in the error panel, never as a crash
            self.errors.show_error(f"{prefix}unexpected error: {exc}", traceback.format_exc())
            return False
        if clear_errors:
            self.errors.clear()
        return True

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
            self, "Tags", f"Tags of {len(ids)} run(s), separated by commas "
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
            self, "Delete runs", f"Delete {len(ids)} saved run(s) ({', '.join(map(str, ids))})? "
            "This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_runs(ids)

    def _selection_changed(self, *_: object) -> None:
        count = len(self.selected_ids())
        for name, enabled in (("open", count == 1), ("compare", count >= 2),
                              ("rename", count == 1), ("tags", count >= 1),
                              ("notes", count == 1), ("export", count >= 1),
                              ("delete", count >= 1)):
            self.actions_by_name[name].setEnabled(enabled and self.store is not None)
