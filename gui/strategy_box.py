"""The config panel's Strategy group: a chooser of the built-in strategies and the files of
a strategies folder (or any file added), the chosen one's parameters as fields, and the
look-ahead check; a file changed on disk is described again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLayout,
    QVBoxLayout,
    QWidget,
)

from engine.strategies.catalog import BUILTINS, is_file
from gui.dialog_folders import ask_folder, ask_open_file
from gui.error_panel import ErrorPanel
from gui.param_fields import ParamRows, row_of
from gui.plot_style import GUIDE_COLOR
from gui.strategy_files import DEFAULT_FOLDER, StrategyParams, strategy_params, strategy_title
from gui.wheel_guard import guard_wheel

#: The dialogs' kind (``gui.dialog_folders``) and the settings that remember the folder
#: listed and the files added from elsewhere.
STRATEGY = "strategy"
FOLDER_KEY = "strategies/folder"
ADDED_KEY = "strategies/added"
#: The chooser's last items: they ask for a file or a folder instead of naming a strategy.
ADD, FOLDER = "\0add", "\0folder"

#: A field the panel registers: its widget (blocked while the panel shows a configuration),
#: how to read it, how to show a value, the signal of an edit.
FieldSpec = tuple[QWidget, Callable[[], Any], Callable[[Any], None], Any]


def _listed(folder: Path) -> list[Path]:
    from engine.strategies.describe import list_strategy_files

    return [path.resolve() for path in list_strategy_files(folder)]


class StrategyBox(QGroupBox):
    """Chooses ``strategy()`` (a built-in's name or a file's path) and edits its parameters.

    Signals: ``strategy_changed`` (another strategy chosen, or the chosen file described
    again), ``params_edited``, ``problem_changed(str)`` with why the chosen strategy
    cannot be used ("" once it can). ``set_rsi_rows`` gives the panel's rows of the RSI's
    own fields, shown only while RSI is chosen.
    """

    strategy_changed = Signal()
    params_edited = Signal()
    problem_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__("Strategy")
        settings = QSettings()
        folder = str(settings.value(FOLDER_KEY, "") or "")
        self.folder = Path(folder) if folder else DEFAULT_FOLDER
        added = settings.value(ADDED_KEY, []) or []
        self.added = [Path(str(p)) for p in ([added] if isinstance(added, str) else
                                             added if isinstance(added, list) else [])]
        self._current = "rsi"
        self._shown = StrategyParams()
        self._problem = ""
        self._rsi_rows: list[tuple[QFormLayout, QLayout]] = []
        self.combo = QComboBox()
        self.combo.activated.connect(self._activated)
        self.error_box = QVBoxLayout()
        self.error_box.setSpacing(0)
        self.error_box.addWidget(self.combo)
        self.form = QFormLayout(self)
        self.form.addRow("Strategy", self.error_box)
        #: Where the parameters' rows end (their error label goes in it).
        self.params_end = QWidget()
        self.params_box = QVBoxLayout(self.params_end)
        self.params_box.setContentsMargins(0, 0, 0, 0)
        self.form.addRow(self.params_end)
        self.rows = ParamRows(self.form, self.params_end, self)
        self.rows.edited.connect(self.params_edited)
        self.lookahead = QCheckBox("check that signals use no later bar")
        self.lookahead.setChecked(True)
        self.lookahead.setToolTip("recompute the signals on the history cut after 3 days and "
                                  "fail the run if a signal changes (SPEC §3b)")
        self.form.addRow("Look-ahead", self.lookahead)
        self.file_note = QLabel(wordWrap=True)
        self.file_note.setStyleSheet(f"color: {GUIDE_COLOR};")
        self.form.addRow(self.file_note)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _: self._fill())
        self.watcher.fileChanged.connect(self._file_changed)
        self._fill()
        self._show("rsi")

    # ------------------------------------------------------------- the fields
    def field_specs(self) -> dict[str, FieldSpec]:
        """The configuration fields this group edits (``strategy`` before ``params``)."""
        return {
            "strategy": (self.combo, self.strategy, self.set_strategy, self.strategy_changed),
            "params": (self, self.rows.given, lambda pairs: self.rows.set_values(dict(pairs)),
                       self.params_edited),
            "lookahead_check": (self.lookahead, lambda: "on" if self.lookahead.isChecked()
                                else "off", lambda word: self.lookahead.setChecked(word == "on"),
                                self.lookahead.toggled),
        }

    def place_error(self, name: str, label: QLabel) -> None:
        """Put the error label of field ``name`` under its field."""
        if name == "strategy":
            self.error_box.addWidget(label)
        elif name == "params":
            self.params_box.addWidget(label)
        else:
            self.form.insertRow(row_of(self.form, self.lookahead) + 1, label)

    def field_of(self, name: str) -> str:
        """The field that shows an error about ``name`` (a parameter's: ``params``)."""
        return "params" if name in self.rows.editors else name

    def set_rsi_rows(self, rows: Sequence[tuple[QFormLayout, QLayout]]) -> None:
        """The rows of the RSI's own fields (shown only while RSI is chosen)."""
        self._rsi_rows = list(rows)
        self._show(self._current, keep=True)

    # ------------------------------------------------------------- choosing
    def strategy(self) -> str:
        """The chosen strategy: a built-in's name or a file's path."""
        return self._current

    def problem(self) -> str:
        """Why the chosen strategy cannot be used ("" when it can): its file's error."""
        return self._problem

    def set_strategy(self, strategy: str) -> None:
        """Choose ``strategy`` (a file not listed yet is added to the list)."""
        if is_file(strategy):
            path = Path(strategy).expanduser().resolve()
            strategy = str(path)
            if path not in self._files():
                self._remember_added(path)
        self._show(strategy)

    def choose(self, strategy: str) -> None:
        """Choose ``strategy`` as the user does (``strategy_changed`` follows)."""
        self.set_strategy(strategy)
        self.strategy_changed.emit()

    def add_file(self, path: Path) -> None:
        """List the strategy file at ``path`` and choose it."""
        self.choose(str(path))

    def set_folder(self, folder: Path) -> None:
        """List the strategy files of ``folder`` (remembered for the next session)."""
        self.folder = folder.resolve()
        QSettings().setValue(FOLDER_KEY, str(self.folder))
        self._fill()

    def refresh(self) -> None:
        """Describe the chosen file again if it changed on disk since it was shown."""
        if not is_file(self._current):
            return
        if strategy_params(self._current) != self._shown:
            self._show(self._current, keep=True)
            self.strategy_changed.emit()

    def _activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data == ADD:
            path = ask_open_file(self, STRATEGY, "Add a strategy file", "Python (*.py)")
            if path is not None:
                self.add_file(path)
        elif data == FOLDER:
            folder = ask_folder(self, STRATEGY, "Choose the strategies folder")
            if folder is not None:
                self.set_folder(folder)
        elif isinstance(data, str) and data != self._current:
            self.choose(data)
        self._select()

    # ------------------------------------------------------------- showing
    def _files(self) -> list[Path]:
        """The folder's files, then the ones added from elsewhere."""
        listed = _listed(self.folder)
        return listed + [path for path in self.added if path not in listed]

    def _remember_added(self, path: Path) -> None:
        self.added.append(path)
        QSettings().setValue(ADDED_KEY, [str(p) for p in self.added])
        self._fill()

    def _fill(self) -> None:
        """List the built-ins, the files and the two asking items; watch the files."""
        self.combo.blockSignals(True)
        self.combo.clear()
        for name, builtin in BUILTINS.items():
            self.combo.addItem(builtin.title, name)
        files = self._files()
        if files:
            self.combo.insertSeparator(self.combo.count())
        for path in files:
            self.combo.addItem(strategy_title(str(path)), str(path))
            self.combo.setItemData(self.combo.count() - 1, str(path),
                                  Qt.ItemDataRole.ToolTipRole)
        self.combo.insertSeparator(self.combo.count())
        self.combo.addItem("Add a strategy file…", ADD)
        self.combo.addItem("Strategies folder…", FOLDER)
        self.combo.setToolTip(f"the built-in strategies and the strategy files (.py) in "
                              f"{self.folder}; Add… takes a file from anywhere")
        self._select()
        self.combo.blockSignals(False)
        watched = self.watcher.files() + self.watcher.directories()
        if watched:
            self.watcher.removePaths(watched)
        paths = [str(p) for p in files if p.exists()]
        if self.folder.is_dir():
            paths.append(str(self.folder))
        if paths:
            self.watcher.addPaths(paths)
        self.refresh()

    def _select(self) -> None:
        index = self.combo.findData(self._current)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def _file_changed(self, path: str) -> None:
        if Path(path).exists() and path not in self.watcher.files():
            self.watcher.addPath(path)  # an editor that saves by replacing the file
        index = self.combo.findData(path)
        if index >= 0:
            self.combo.setItemText(index, strategy_title(path))
        if path == self._current:
            self.refresh()

    def _show(self, strategy: str, keep: bool = False) -> None:
        """Show ``strategy``'s parameters (``keep``: the values the user set stay)."""
        self._current = strategy
        params = strategy_params(strategy)
        self._shown = params
        if strategy == "rsi":  # the RSI's parameters are the panel's own fields
            self.rows.set_params({}, {}, keep)
        else:
            self.rows.set_params(params.defaults, params.choices, keep)
        guard_wheel(self)
        file = is_file(strategy)
        for form, row in self._rsi_rows:
            form.setRowVisible(row, strategy == "rsi")
        self.form.setRowVisible(self.lookahead, file)
        self.file_note.setVisible(file)
        self.file_note.setText(f"file: {strategy}" if file else "")
        index = self.combo.findData(strategy)
        if index >= 0:
            self.combo.setItemText(index, strategy_title(strategy))
        self._select()
        if params.problem != self._problem:
            self._problem = params.problem
            self.problem_changed.emit(params.problem)


def show_problems(box: StrategyBox, errors: ErrorPanel) -> None:
    """Show the chosen strategy's problem in ``errors``, and hide it once the strategy can
    be used again (unless the panel shows another message by then)."""
    shown: list[str] = []

    def changed(problem: str) -> None:
        if problem:
            errors.show_error(problem)
        elif shown and errors.message.text() == shown[-1]:
            errors.clear()
        shown[:] = [problem]

    box.problem_changed.connect(changed)
    if box.problem():  # a configuration restored at start names a file that cannot be used
        changed(box.problem())
