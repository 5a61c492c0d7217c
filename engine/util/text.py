"""Text files decoded as SPEC §1 says: UTF-8 with or without a byte-order mark, else GB18030."""

from __future__ import annotations

import codecs
from pathlib import Path

from engine.errors import DataError

#: The UTF-8 byte-order mark that Excel and Notepad write at the start of a "UTF-8" file.
UTF8_BOM = codecs.BOM_UTF8

#: Above this size ``is_utf8`` asks Arrow to validate the bytes in place (several GB/s,
#: no copy) rather than decoding them into a string it would throw away.
_VALIDATE_IN_PLACE = 1 << 20


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (a BOM is valid UTF-8), checked without keeping a
    decoded copy: ASCII is recognised at memory speed, a large file is validated by Arrow."""
    if data.isascii():
        return True
    if len(data) < _VALIDATE_IN_PLACE:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    import numpy as np
    import pyarrow as pa

    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def text_encoding(data: bytes) -> str:
    """The codec that decodes ``data``: ``"utf-8"`` where the bytes are UTF-8 (a BOM
    included), else ``"gb18030"`` (a superset of GBK, which Chinese Excel, Notepad and
    data tools write). Arrow's CSV reader takes either name as its encoding."""
    return "utf-8" if is_utf8(data) else "gb18030"


def decode_text(data: bytes, file: Path | str, label: str = "") -> str:
    """``data`` as text: UTF-8 with its BOM stripped, else GB18030.

    Bytes neither decodes are a one-line DataError on ``file``, which its message calls
    ``label`` (default: the file's name)."""
    skip = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    try:
        return data[skip:].decode(text_encoding(data))
    except UnicodeDecodeError as exc:
        raise DataError(f"{label or Path(file).name}: byte {exc.start + skip} is neither UTF-8 nor "
                        "GB18030/GBK text; save the file as UTF-8 (or GBK) text and try again",
                        file=file, rule="encoding") from None


def read_text(path: Path | str, label: str = "") -> str:
    """The text of the file at ``path`` (UTF-8 with or without a BOM, else GB18030).

    A file the OS will not read raises ``OSError``; undecodable bytes a DataError that
    calls the file ``label`` (default: its name)."""
    path = Path(path)
    return decode_text(path.read_bytes(), path, label)
