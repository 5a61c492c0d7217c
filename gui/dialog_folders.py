"""Where the window's file dialogs open: the last folder used for that kind of file, else
Documents, never the process's working folder (System32 when started from Explorer)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

#: The kinds of files the window asks for; each remembers its own folder.
DATA = "data"
STOCK_LIST = "stock_list"
CONFIG = "config"
EXPORT = "export"
IMAGE = "image"

GROUP = "dialog_folders"


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


def ask_folder(parent: QWidget | None, kind: str, caption: str) -> Path | None:
    """A folder the user picks (None when they cancel), starting in ``kind``'s folder."""
    chosen = QFileDialog.getExistingDirectory(parent, caption, str(start_folder(kind)))
    return _chosen(kind, chosen)


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
