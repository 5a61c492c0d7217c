"""Stock selection: a checkable, filterable list of the folder's codes, lists loaded or pasted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.data import read_stock_list
from engine.data.naming import parse_code, security_kind
from engine.data.stocklist import parse_stock_selection
from engine.errors import DataError
from engine.util.words import counted
from gui.dialog_folders import STOCK_LIST, ask_open_file


class StockPicker(QWidget):
    """Pick stocks from the data folder; ``selection()`` is None when all are picked.

    Emits ``changed`` when the selection changes and ``message_posted(str)`` to report codes
    from a list that the folder does not have (they are named, never silently dropped; an
    index is said to be one, the folder's own ``indices`` usable as the benchmark).
    """

    changed = Signal()
    message_posted = Signal(str)
    stock_activated = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.model = QStandardItemModel()
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit(placeholderText="Filter codes…", clearButtonEnabled=True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QListView()
        self.view.setModel(self.proxy)
        self.view.setUniformItemSizes(True)
        self.view.doubleClicked.connect(lambda index: self.stock_activated.emit(index.data()))
        self.count = QLabel()
        buttons = QHBoxLayout()
        for text, slot in (("All", lambda: self._check_all(True)),
                           ("None", lambda: self._check_all(False)),
                           ("Load list…", self.load_list), ("Paste…", self.paste_list)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.count)
        # The codes and their check marks, mirrored from the model: reading 5,000 items'
        # check states through Qt takes the window's thread ~50 ms.
        self._codes: list[str] = []
        self._on: list[bool] = []
        self._indices: frozenset[str] = frozenset()
        self.model.itemChanged.connect(self._item_changed)
        self._update_count()

    def set_codes(self, codes: Iterable[str], selected: Iterable[str] | None = None) -> None:
        """Show ``codes``; check ``selected`` (all when None)."""
        wanted = None if selected is None else set(selected)
        self._codes = list(codes)
        self._on = [wanted is None or code in wanted for code in self._codes]
        self.model.blockSignals(True)
        self.model.clear()
        for code, on in zip(self._codes, self._on, strict=True):
            item = QStandardItem(code)
            item.setCheckable(True)
            item.setEditable(False)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.model.appendRow(item)
        self.model.blockSignals(False)
        self.proxy.invalidate()
        self._changed()

    def set_indices(self, indices: Sequence[str]) -> None:
        """The folder's index codes: a list naming one is told it is the benchmark's."""
        self._indices = frozenset(indices)

    def codes(self) -> list[str]:
        """Every code listed."""
        return list(self._codes)

    def checked(self) -> list[str]:
        """The checked codes, in list order."""
        return [code for code, on in zip(self._codes, self._on, strict=True) if on]

    def selection(self) -> tuple[str, ...] | None:
        """None when every listed stock is checked (or nothing is listed), else the codes."""
        return None if all(self._on) else tuple(self.checked())

    def select(self, codes: Iterable[str]) -> None:
        """Check exactly ``codes`` (any spelling of SPEC §1); report those not in the folder,
        an index as an index. A list with none of the folder's stocks changes no mark."""
        wanted = {parse_code(c) or c.strip() for c in codes}
        listed = set(self.codes())
        found = wanted & listed
        if found:
            self.set_codes(self.codes(), found)
        indices = sorted(c for c in wanted - listed
                         if c in self._indices or security_kind(c) == "index")
        missing = sorted(wanted - listed - set(indices))
        said = [_indices_said(indices, self._indices)] if indices else []
        if missing:
            said.append(f"{counted(len(missing), 'code')} of the list "
                        f"{'has' if len(missing) == 1 else 'have'} no file in the data folder: "
                        f"{', '.join(missing[:8])}" + (" …" if len(missing) > 8 else ""))
        if said and not found:
            said.append("no stock of the folder in the list: the selection is unchanged")
        if said:
            self.message_posted.emit("; ".join(said))

    def load_list(self) -> None:
        """Check the stocks of a stock-list file (text, CSV or parquet)."""
        path = ask_open_file(self, STOCK_LIST, "Load stock list",
                             "Stock lists (*.txt *.csv *.parquet)")
        if path is not None:
            try:
                self.select(read_stock_list(path))
            except DataError as exc:
                self.message_posted.emit(str(exc))

    def paste_list(self) -> None:
        """Check codes pasted as text (newlines, commas or spaces between them)."""
        text = self._ask_codes()
        if text is not None and text.strip():
            try:
                self.select(parse_stock_selection(text) or [])
            except DataError as exc:
                self.message_posted.emit(str(exc))

    def _ask_codes(self) -> str | None:
        """The text pasted in the paste dialog (None when cancelled). Its hint wraps above
        the box, so it shows whole in a dialog as narrow as the screen."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Paste stock codes")
        hint = QLabel("Paste or type stock codes, one a line or separated by commas or "
                      "spaces, in any spelling: 000001.SZ, 600000_SH, sz000001, sh.600000, "
                      "000001.XSHE or a bare 000001.", wordWrap=True)
        box = QPlainTextEdit()
        box.setPlaceholderText("000001.SZ\n600000.SH\nsz000002")
        hint.setBuddy(box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(hint)
        layout.addWidget(box, 1)
        layout.addWidget(buttons)
        dialog.resize(420, 300)
        box.setFocus()
        try:
            return box.toPlainText() if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()

    def _check_all(self, on: bool) -> None:
        state = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        self.model.blockSignals(True)
        for row in range(self.proxy.rowCount()):  # only what the filter shows
            source = self.proxy.mapToSource(self.proxy.index(row, 0))
            self.model.itemFromIndex(source).setCheckState(state)
            self._on[source.row()] = on
        self.model.blockSignals(False)
        self.view.viewport().update()
        self._changed()

    def _item_changed(self, item: QStandardItem) -> None:
        self._on[item.row()] = item.checkState() == Qt.CheckState.Checked
        self._changed()

    def _changed(self, *_: object) -> None:
        self._update_count()
        self.changed.emit()

    def _update_count(self) -> None:
        total = self.model.rowCount()
        self.count.setText(f"{sum(self._on):,} of {counted(total, 'stock')} selected" if total
                           else "no stocks listed yet")


def _indices_said(indices: list[str], in_folder: frozenset[str]) -> str:
    """``000300.SH is an index (usable as the benchmark), not a stock`` for a list's index
    codes; only those the folder holds are usable as the benchmark."""
    parts = []
    for group, usable in (([c for c in indices if c in in_folder], True),
                          ([c for c in indices if c not in in_folder], False)):
        if group:
            what = ("is an index" if len(group) == 1 else "are indices") + (
                " (usable as the benchmark)" if usable else "")
            parts.append(f"{', '.join(group[:8])}{' …' if len(group) > 8 else ''} {what}, "
                         f"not {'a stock' if len(group) == 1 else 'stocks'}")
    return "; ".join(parts)
