"""qlib provider layout: a calendar, instruments and float32 ``features/*/*.day.bin`` files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.data.folder import (
    FolderScan,
    Layout,
    Listing,
    ProgressCallback,
    ReadResult,
    finish_scan,
    is_stock_list,
    list_folder,
)
from engine.data.naming import parse_code
from engine.data.read_pool import read_each
from engine.data.reader import FileTable, digest_of, file_table, read_bytes
from engine.errors import DataError
from engine.progress import CancelToken
from engine.rules.rulebook import half_up_cent
from engine.util.text import decode_text

BIN_SUFFIX = ".day.bin"
CALENDAR = Path("calendars") / "day.txt"
# Fields that are prices: with ``$factor`` the real value is ``$field / $factor``.
PRICE_FIELDS = ("open", "high", "low", "close", "pre_close", "up_limit", "down_limit", "vwap")


def _matches(folder: Path, listing: Listing) -> bool:
    return (folder / CALENDAR).is_file() and (folder / "features").is_dir()


def _scan(folder: Path, listing: Listing) -> FolderScan:
    """The instruments' features folders by code; every file beside the provider's own
    that is not read (in the folder, in ``features``, in an instrument's folder) and every
    features folder not named by a code is listed in one warning (SPEC §1)."""
    features = list_folder(folder / "features")
    found: dict[str, Path] = {}
    sources: dict[str, tuple[Path, ...]] = {}
    ignored = [p.name for p in listing.files if not is_stock_list(p)]
    ignored += [f"features/{p.name}" for p in features.files]
    broken = [f"features/{name}" for name in features.broken]
    # The instruments' listed spans are checked against the .bin files, so they key the cache.
    instruments = _instrument_lists(folder)
    for inst in features.dirs:
        code = parse_code(inst.name)
        bins = list_folder(inst)
        broken += [f"features/{inst.name}/{name}" for name in bins.broken]
        if code is None:
            ignored.append(f"features/{inst.name}")
            continue
        ignored += [f"features/{inst.name}/{p.name}" for p in bins.files
                    if not p.name.lower().endswith(BIN_SUFFIX)]
        previous = found.setdefault(code, inst)
        if previous != inst:  # features/sh600000 and features/SH600000
            raise DataError(f"features/{previous.name} and features/{inst.name} both hold "
                            f"{code}; remove one of them", file=inst, code=code,
                            rule="duplicate stock file")
        sources[code] = (folder / CALENDAR, *instruments,
                         *(p for p in bins.files if p.name.lower().endswith(BIN_SUFFIX)))
    return finish_scan(folder, listing, "qlib", found, ignored=ignored,
                       ignored_what="file(s) or folder(s) that are not the qlib provider's "
                       "calendar, instruments or features",
                       broken=broken, sources=sources)


def _instrument_lists(folder: Path) -> tuple[Path, ...]:
    """``instruments/*.txt`` (symlinks that lead nowhere skipped)."""
    inside = folder / "instruments"
    if not inside.is_dir():
        return ()
    return tuple(p for p in list_folder(inside).files if p.suffix.lower() == ".txt")


@dataclass(frozen=True)
class _Provider:
    """The calendar (days since epoch) and each instrument's last listed day, if known."""

    calendar: np.ndarray
    ends: dict[str, int]


def _provider(folder: Path) -> _Provider:
    path = folder / CALENDAR
    lines = decode_text(read_bytes(path), path, CALENDAR.as_posix()).splitlines()
    numbered = [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]
    try:
        calendar = np.array([day for _, day in numbered],
                            dtype="datetime64[D]").astype(np.int64)
    except ValueError as exc:
        raise DataError(f"{CALENDAR}: {exc}; it must hold one YYYY-MM-DD date per line",
                        file=path, rule="bad calendar") from exc
    _check_calendar_order(path, calendar, [number for number, _ in numbered])
    ends: dict[str, int] = {}
    for listing in _instrument_lists(folder):
        listed = decode_text(read_bytes(listing), listing, f"instruments/{listing.name}")
        for line in listed.splitlines():
            parts = line.split()
            code = parse_code(parts[0]) if len(parts) >= 3 else None
            if code is not None:
                try:
                    end = int(np.datetime64(parts[2], "D").astype(np.int64))
                except ValueError:
                    continue
                ends[code] = max(end, ends.get(code, end))
    return _Provider(calendar, ends)


def _check_calendar_order(path: Path, calendar: np.ndarray, numbers: list[int]) -> None:
    """Calendar days must rise line by line: a repeated or earlier date would shift every
    feature value after it onto the wrong day."""
    bad = np.flatnonzero(calendar[1:] <= calendar[:-1])
    if not bad.size:
        return
    i = int(bad[0])
    day, before = np.datetime64(int(calendar[i + 1]), "D"), np.datetime64(int(calendar[i]), "D")
    line, previous = numbers[i + 1], numbers[i]
    if day == before:
        raise DataError(f"{CALENDAR.as_posix()}: date {day} on line {line} repeats line "
                        f"{previous}; remove the duplicate line (the calendar must list each "
                        "trading day once, in order)", file=path, row=str(line),
                        rule="bad calendar")
    raise DataError(f"{CALENDAR.as_posix()}: date {day} on line {line} comes before line "
                    f"{previous}'s {before}; the calendar must list each trading day once, "
                    "in order", file=path, row=str(line), rule="bad calendar")


def read_instrument(provider: _Provider, code: str, inst: Path) -> FileTable:
    """One instrument's ``.day.bin`` fields as a FileTable on its span of the calendar.

    Prices are rounded half up to the cent (``half_up_cent``), after ``$price / $factor``
    where there is a ``$factor`` (the exchange's tick: float32 holds about 7 digits, so
    its values and the division leave noise that would break exact limit-price
    comparisons); with ``$factor``, volume is ``$volume * $factor`` and ``$factor``
    becomes ``adj_factor``.
    """
    fields, digests, spans = {}, [], {}
    for path in list_folder(inst).files:
        if not path.name.lower().endswith(BIN_SUFFIX):
            continue
        name = path.name[: -len(BIN_SUFFIX)].lower()
        data = read_bytes(path)
        spans[path] = _span(provider, code, path, f"features/{inst.name}/{path.name}", data)
        fields[name] = np.frombuffer(data, dtype="<f4")[1:].astype(np.float64)
        digests.append(f"{name}:{digest_of(data)}")
    if not spans:
        raise DataError(f"features/{inst.name}: no {BIN_SUFFIX} files", file=inst, code=code,
                        rule="missing column")
    span = max(spans.values(), key=lambda s: (s[1], -s[0]))
    for path, here in spans.items():
        if here != span:
            raise DataError(
                f"features/{inst.name}/{path.name}: covers calendar days {here[0]}.."
                f"{sum(here) - 1}, the other fields of {inst.name} cover {span[0]}.."
                f"{sum(span) - 1}; the file is truncated, dump the instrument again",
                file=path, code=code, rule="bin shorter than calendar")
    _check_listed_span(provider, code, inst, span)
    return file_table(inst, digest_of(";".join(digests).encode()),
                      _real_values(provider.calendar[span[0]:sum(span)], fields),
                      label=f"features/{inst.name}")


def _span(provider: _Provider, code: str, path: Path, label: str, data: bytes) -> tuple[int, int]:
    """(start index into the calendar, number of values) of one ``.day.bin`` file."""
    if len(data) % 4 or len(data) < 8:
        raise DataError(f"{label}: {len(data)} bytes is not a start index plus float32 "
                        "values; the file is truncated, dump it again", file=path,
                        code=code, rule="truncated .bin file")
    start, count = float(np.frombuffer(data, dtype="<f4", count=1)[0]), len(data) // 4 - 1
    if not (start >= 0 and start.is_integer()):
        raise DataError(f"{label}: start index {start} is not a calendar position",
                        file=path, code=code, rule="corrupt .bin file")
    if int(start) + count > provider.calendar.size:
        raise DataError(f"{label}: {count} values from calendar day {int(start)} run past "
                        f"the end of {CALENDAR} ({provider.calendar.size} days); the "
                        "calendar and the features are from different dumps",
                        file=path, code=code, rule="bin longer than calendar")
    return int(start), count


def _check_listed_span(provider: _Provider, code: str, inst: Path, span: tuple[int, int]) -> None:
    """A .bin that ends before the instrument's listed end date has lost its tail."""
    end = provider.ends.get(code)
    if end is None:
        return
    last = int(np.searchsorted(provider.calendar, end, side="right")) - 1
    if sum(span) - 1 < last:
        day = np.datetime64(int(provider.calendar[max(sum(span) - 1, 0)]), "D")
        raise DataError(
            f"features/{inst.name}: its .bin files end on {day} but instruments/ lists "
            f"{code} until {np.datetime64(end, 'D')}; the files are shorter than the "
            "calendar says (truncated), dump them again", file=inst, code=code,
            row=str(day), rule="bin shorter than calendar")


def _real_values(days: np.ndarray, fields: dict[str, np.ndarray]) -> pa.Table:
    factor = fields.pop("factor", None)
    columns: dict[str, object] = {"date": pa.array(days.astype(np.int32), pa.date32())}
    for name, values in fields.items():
        if name in PRICE_FIELDS:
            values = half_up_cent(values if factor is None else values / factor)
        elif factor is not None and name == "volume":
            values = values * factor
        columns[f"${name}"] = values
    if factor is not None:
        columns["adj_factor"] = factor
    return pa.table(columns)


def _read(scan: FolderScan, codes: Sequence[str], progress: ProgressCallback | None,
          cancel: CancelToken | None) -> ReadResult:
    provider = _provider(scan.folder)
    return read_each(codes, lambda code: read_instrument(provider, code, scan.files[code]),
                     progress, cancel)


LAYOUT = Layout("qlib", "qlib provider folder", _matches, _scan, _read)
