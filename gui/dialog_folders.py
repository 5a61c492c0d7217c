"""Where the window's file dialogs open (the last folder used for that kind of file, else
Documents, never the process's working folder: System32 when started from Explorer), the
file names they propose, and an export folder that does not exist yet, created."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.config import BacktestConfig
from engine.strategies.naming import strategy_label

#: The kinds of files the window asks for; each remembers its own folder.
DATA = "data"
STOCK_LIST = "stock_list"
CONFIG = "config"
EXPORT = "export"
IMAGE = "image"

GROUP = "dialog_folders"
#: Characters some OS refuses in a file name (Windows' list), each written as "-".
_UNSAFE = str.maketrans(dict.fromkeys('<>:"/\\|?*', "-"))


def file_name(*parts: str, suffix: str) -> str:
    """A file name of ``parts`` (what it holds, a run's words) that every OS takes:
    "trades RSI 14 30-70 2024-01-02..2024-12-31.csv"."""
    text = " ".join(part for part in parts if part).replace(" · ", ", ")
    return " ".join(text.translate(_UNSAFE).split()) + suffix


def run_words(config: BacktestConfig) -> str:
    """A run as file names say it: its strategy and window, "RSI 14 30/70
    2024-01-02..2024-12-31" (``file_name`` makes the slash safe)."""
    return f"{strategy_label(config)} {config.start}..{config.end}"


def documents_folder() -> Path:
    """The user's Documents folder (their home folder where there is none)."""
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(documents) if documents and Path(documents).is_dir() else Path.home()


def start_folder(kind: str) -> Path:
    """The folder a dialog for ``kind`` opens in: the last one used, while it still exists."""
    remembered = str(QSettings().value(f"{GROUP}/{kind}", "") or "")
    if remembered and Path(remembered).is_dir():
        return Path(remembered)
    return documents_folder()


def remember_folder(kind: str, path: Path | str) -> None:
    """Open the next ``kind`` dialog in ``path`` (a folder, or the folder of a file)."""
    folder = Path(path)
    if not folder.is_dir():
        folder = folder.parent
    QSettings().setValue(f"{GROUP}/{kind}", str(folder.resolve()))


class _ExportFolderDialog(QFileDialog):
    """Qt's folder dialog that takes a folder typed that does not exist yet, creating it,
    where Qt's own refuses it as "Directory not found" (a native dialog creates one
    itself)."""

    def accept(self) -> None:
        chosen = self.selectedFiles()
        folder = Path(chosen[0]) if chosen else None
        if folder is not None and not folder.exists():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                QMessageBox.warning(self, self.windowTitle(), f"Could not create {folder}: "
                                    f"{exc.strerror or exc}; choose another folder")
                return
        super().accept()


def get_export_folder(parent: QWidget | None, caption: str, start: str) -> str:
    """As ``QFileDialog.getExistingDirectory``, but a folder typed that does not exist yet
    is created and chosen ("" when the user cancels)."""
    dialog = _ExportFolderDialog(parent, caption, start)
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly)
    accepted = dialog.exec() == QFileDialog.DialogCode.Accepted
    picked = dialog.selectedFiles()
    dialog.deleteLater()
    return picked[0] if accepted and picked else ""


def ask_folder(parent: QWidget | None, kind: str, caption: str) -> Path | None:
    """A folder the user picks (None when they cancel), starting in ``kind``'s folder;
    an ``EXPORT`` folder typed that does not exist yet is created."""
    ask = get_export_folder if kind == EXPORT else QFileDialog.getExistingDirectory
    return _chosen(kind, ask(parent, caption, str(start_folder(kind))))


def ask_open_file(parent: QWidget | None, kind: str, caption: str,
                  file_filter: str) -> Path | None:
    """An existing file the user picks (None when they cancel)."""
    chosen, _ = QFileDialog.getOpenFileName(parent, caption, str(start_folder(kind)),
                                            file_filter)
    return _chosen(kind, chosen)


def ask_save_file(parent: QWidget | None, kind: str, caption: str, name: str,
                  file_filter: str) -> Path | None:
    """Where to save (None when the user cancels); proposes ``name`` in ``kind``'s folder."""
    chosen, _ = QFileDialog.getSaveFileName(parent, caption, str(start_folder(kind) / name),
                                            file_filter)
    return _chosen(kind, chosen)


def _chosen(kind: str, chosen: str) -> Path | None:
    if not chosen:
        return None
    remember_folder(kind, chosen)
    return Path(chosen)
