"""Run history: every completed run saved in an SQLite database, loaded back exactly.

Storage format. One ``runs`` row per run holds what the history list shows as plain
columns (name, created, stock count, dates, RSI parameters, mode, fill, headline
metrics), so listing and sorting never touch the bulk data, plus the config, metrics,
timings, codes and warnings as JSON text (Python writes floats in round-trip form and
NaN as ``NaN``, which it reads back exactly). Each table of the result (equity, fills,
trades, rejections, excluded, worker_spans) is one Arrow IPC stream, zstd-compressed,
in a BLOB of ``frames``. Blobs rather than one SQL row per fill because:

- the bytes are the float64 bits, so values round-trip exactly, and dtypes (dates,
  categorical side/reason, bool, string) come back as they went in;
- a 10,000-fill run is one insert of ~200 kB instead of 10,000 inserts (milliseconds,
  not tenths of a second) and the database stays small;
- nothing needs to query single fills across runs in SQL; the history list and the
  comparisons read the ``runs`` columns and the JSON.

Integrity. Every ``frames`` blob carries the xxh3-64 checksum of its bytes (with its
role, name and row count), and every ``runs`` row one of the columns that make up the
result (all but the editable name, notes and tags). ``load`` and ``attachments`` verify
them, so a run damaged on disk raises ``DamagedRunError`` naming its id instead of
being exported or compared with wrong numbers. The file is marked with
``PRAGMA application_id``; an SQLite file that is not a workbench store is refused
before anything is written to it.

Identical runs do not pile up: a save whose config, data fingerprint, metrics and
attachment names equal an earlier run's (the same run again: the engine is
deterministic), and whose name, if one is given, is that run's, replaces that run under
a new id, so it moves to the top of the list, keeping its name and notes unless new
ones are given, and its tags with the new ones.

A save is one ``BEGIN IMMEDIATE`` transaction: a process killed mid-save leaves no
trace of the run (SQLite rolls the half transaction back on the next open). The
database runs in WAL mode with a busy timeout, so readers never block and two
processes saving at once both succeed. The schema version is ``PRAGMA user_version``;
``MIGRATIONS`` maps each version to the step that upgrades it to the next one. A store
whose file or folder cannot be written opens read-only (listing, showing, loading and
exporting work; every write is refused in one line naming the file).

Modules: ``store_schema`` (the tables, versions, migrations and opening checks),
``store_codec`` (tables and values to and from blobs, JSON and checksums), this one (the
``RunStore`` and its API).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.results.store_codec import (
    FRAME_FORMAT,
    SEALED_COLUMNS,
    decode_frame,
    decode_result,
    decode_table,
    encode_frame,
    frame_checksum,
    run_checksum,
    run_row,
)
from engine.results.store_path import STORE_ENV as STORE_ENV  # re-exported
from engine.results.store_path import default_store_path
from engine.results.store_schema import MIGRATIONS as MIGRATIONS  # re-exported
from engine.results.store_schema import SCHEMA_VERSION as SCHEMA_VERSION  # re-exported
from engine.results.store_schema import (
    DamagedRunError,
    StoreError,
    connect,
    migrate,
    read_only_error,
    transaction,
    user_version,
)
from engine.results.tables import RESULT_TABLES, BacktestResult, to_arrow
from engine.strategies.naming import strategy_label

if TYPE_CHECKING:  # pandas is imported where a table is made: off a run's save
    import pandas as pd

log = logging.getLogger(__name__)

#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 60.0
#: Columns of ``RunStore.list_runs`` in order.
LIST_COLUMNS = ("id", "name", "created", "stocks", "start", "end", "period", "oversold",
                "overbought", "capital_mode", "fill", "total_return", "sharpe",
                "max_drawdown", "trades", "tags", "notes")
_LIST_DTYPES = {"id": "int64", "stocks": "int64", "period": "int64", "trades": "int64",
                "oversold": "float64",
                "overbought": "float64", "total_return": "float64", "sharpe": "float64",
                "max_drawdown": "float64"}


def default_name(result: BacktestResult) -> str:
    """A run's name when none is given.

    For example ``RSI 14 30/70 · 500 stocks · 2023-02-04..2026-02-04``.
    """
    c = result.config
    return (f"{strategy_label(c)} · {len(result.codes)} stocks · "
            f"{c.start.isoformat()}..{c.end.isoformat()}")


def _clean_tags(tags: Sequence[str]) -> list[str]:
    """Tags stripped, empty ones dropped, duplicates removed (first kept, order kept)."""
    if isinstance(tags, str):
        raise StoreError(f"tags must be a list of words, not the text {tags!r}")
    cleaned = [str(t).strip() for t in tags]
    for tag in cleaned:
        if "," in tag:
            raise StoreError(f"tag {tag!r} contains a comma; give each tag separately")
    return list(dict.fromkeys(t for t in cleaned if t))


def _insert_frame(conn: sqlite3.Connection, run_id: int, role: str, name: str,
                  n_rows: int, data: bytes) -> None:
    """Insert one encoded table of a run (inside the save's transaction)."""
    conn.execute("INSERT INTO frames (run_id, role, name, format, n_rows, data, checksum) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, role, name, FRAME_FORMAT, n_rows,
                                                  data, frame_checksum(role, name, n_rows, data)))


def _insert_tags(conn: sqlite3.Connection, run_id: int, tags: list[str]) -> None:
    conn.execute("DELETE FROM tags WHERE run_id = ?", (run_id,))
    conn.executemany("INSERT INTO tags (run_id, tag) VALUES (?, ?)",
                     [(run_id, tag) for tag in tags])


def _identical(conn: sqlite3.Connection, row: Mapping[str, Any], attachments: set[str]
               ) -> list[tuple[int, str, str, list[str]]]:
    """(id, name, notes, tags) of the stored runs identical to ``row`` with attachments
    named ``attachments``: the same config, data fingerprint and metrics."""
    found = []
    for run_id, name, notes in conn.execute(
            "SELECT id, name, notes FROM runs WHERE fingerprint = ? AND config = ? AND "
            "metrics = ? ORDER BY id", (row["fingerprint"], row["config"], row["metrics"])):
        names = {n for (n,) in conn.execute(
            "SELECT name FROM frames WHERE run_id = ? AND role = 'attachment'", (run_id,))}
        if names == attachments:
            tags = [t for (t,) in conn.execute(
                "SELECT tag FROM tags WHERE run_id = ? ORDER BY rowid", (run_id,))]
            found.append((int(run_id), str(name), str(notes), tags))
    return found


class RunStore:
    """The run history in one SQLite file (see the module docstring for the format).

    Safe to share between threads (calls are serialised) and between processes (WAL
    plus a busy timeout). Use as a context manager or call ``close``.
    """

    def __init__(self, path: Path | str | None = None,
                 busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        """``busy_timeout``: seconds a call waits for another process's write to finish
        before it fails with ``StoreError`` (a window keeps it short, so an edit never
        freezes it while a long save runs elsewhere)."""
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        #: Why the store is open read-only (``store_schema.read_only_reason``), or None:
        #: it can be listed and loaded, and every write is refused in one line.
        self.read_only: str | None
        self._conn, self.read_only = connect(self.path, busy_timeout)
        try:
            migrate(self._conn, self.path, busy_timeout, self.read_only)
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """``store_schema.transaction`` on this store's connection, one thread at a time;
        a write to a store opened read-only is refused before it starts."""
        if write and self.read_only is not None:
            raise read_only_error(self.path, self.read_only)
        with self._lock, transaction(self._conn, self.path, self.busy_timeout, write) as conn:
            yield conn

    def _require(self, conn: sqlite3.Connection, run_id: int) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (int(run_id),)).fetchone() is None:
            raise StoreError(f"no run with id {run_id} in the run store {self.path}")

    # ------------------------------------------------------------------ public API
    @property
    def schema_version(self) -> int:
        """The schema version recorded in the database (``PRAGMA user_version``)."""
        with self._lock:
            return user_version(self._conn)

    def save(self, result: BacktestResult, name: str | None = None, notes: str = "",
             tags: Sequence[str] = (),
             attachments: Mapping[str, pd.DataFrame] | None = None) -> int:
        """Save a completed run in one transaction; returns its id.

        ``name`` defaults to ``default_name(result)``. ``attachments`` are extra tables
        kept with the run (a sweep's table beside its best run), read back with
        ``attachments``. An earlier identical run of the same name, if ``name`` is given
        (see the module docstring), is replaced: its name and notes stay unless
        ``name`` / ``notes`` are given, its tags join ``tags``.
        """
        row = run_row(result, name if name else default_name(result), notes)
        clean_tags = _clean_tags(tags)
        frames = [("result", key, to_arrow(result.table(key))) for key in RESULT_TABLES]
        frames += [("attachment", key, to_arrow(frame))
                   for key, frame in (attachments or {}).items()]
        # Encode before the transaction, so the write lock is held only for the inserts.
        # A table without columns (worker_spans of a run without workers) is not stored.
        encoded = [(role, key, table.num_rows, encode_frame(table))
                   for role, key, table in frames if table.num_columns]
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        attached = {key for role, key, _, _ in encoded if role == "attachment"}
        with self._transaction() as conn:
            replaced = [found for found in _identical(conn, row, attached)
                        if not name or found[1] == name]  # a name given tells runs apart
            for earlier, earlier_name, earlier_notes, earlier_tags in replaced:
                row["name"] = row["name"] if name else earlier_name
                row["notes"] = notes or earlier_notes
                clean_tags = list(dict.fromkeys([*earlier_tags, *clean_tags]))
                conn.execute("DELETE FROM runs WHERE id = ?", (earlier,))
            run_id = int(conn.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})",
                                      tuple(row.values())).lastrowid or 0)
            _insert_tags(conn, run_id, clean_tags)
            for role, key, n_rows, data in encoded:
                _insert_frame(conn, run_id, role, key, n_rows, data)
        log.info("saved run %d (%s) in %s%s", run_id, row["name"], self.path,
                 f", replacing the identical run {replaced[-1][0]}" if replaced else "")
        return run_id

    def list_runs(self) -> pd.DataFrame:
        """One row per run, newest first (columns ``LIST_COLUMNS``; tags comma-joined)."""
        import pandas as pd

        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT id, name, created, n_stocks, start_date, end_date, period, oversold, "
                "overbought, capital_mode, fill, total_return, sharpe, max_drawdown, trades, "
                "'' AS tags, notes FROM runs ORDER BY id DESC").fetchall()
            tags: dict[int, list[str]] = {}
            for run_id, tag in conn.execute("SELECT run_id, tag FROM tags ORDER BY rowid"):
                tags.setdefault(run_id, []).append(tag)
        frame = pd.DataFrame(rows, columns=list(LIST_COLUMNS))
        frame["tags"] = [",".join(tags.get(i, [])) for i in frame["id"]]
        return frame.astype(_LIST_DTYPES)

    def run_info(self, run_id: int) -> dict[str, Any]:
        """A run's name, notes, tags (list), created time and fingerprint."""
        with self._transaction(write=False) as conn:
            self._require(conn, run_id)
            name, notes, created, fingerprint = conn.execute(
                "SELECT name, notes, created, fingerprint FROM runs WHERE id = ?",
                (int(run_id),)).fetchone()
            tags = [t for (t,) in conn.execute(
                "SELECT tag FROM tags WHERE run_id = ? ORDER BY rowid", (int(run_id),))]
        return {"id": int(run_id), "name": name, "notes": notes, "tags": tags,
                "created": created, "fingerprint": fingerprint}

    def _damaged(self, run_id: int, what: str) -> DamagedRunError:
        return DamagedRunError(
            f"run {run_id} in {self.path} is damaged ({what} fails its checksum), so it is "
            f"not shown, exported or compared; delete it (backtest runs delete {run_id}) "
            "and run it again", run_id=int(run_id))

    def _sealed_row(self, conn: sqlite3.Connection, run_id: int) -> dict[str, Any]:
        """A run's ``SEALED_COLUMNS``, verified against its checksum."""
        self._require(conn, run_id)
        *values, checksum = conn.execute(
            f"SELECT {', '.join(SEALED_COLUMNS)}, checksum FROM runs WHERE id = ?",
            (int(run_id),)).fetchone()
        if run_checksum(values) != checksum:
            raise self._damaged(run_id, "its settings and metrics")
        return dict(zip(SEALED_COLUMNS, values, strict=True))

    def _frames(self, conn: sqlite3.Connection, run_id: int, role: str) -> dict[str, bytes]:
        """A run's stored tables of ``role`` (in save order), each verified."""
        frames = {}
        for name, n_rows, data, checksum in conn.execute(
                "SELECT name, n_rows, data, checksum FROM frames WHERE run_id = ? AND role = ? "
                "ORDER BY rowid", (int(run_id), role)):
            if frame_checksum(role, name, n_rows, data) != checksum:
                raise self._damaged(run_id, f"its {name} table")
            frames[name] = data
        return frames

    def load(self, run_id: int) -> BacktestResult:
        """The saved run, equal to the result that was saved (tables value for value);
        ``DamagedRunError`` if any of its bytes changed on disk."""
        with self._transaction(write=False) as conn:
            row = self._sealed_row(conn, run_id)
            blobs = self._frames(conn, run_id, "result")
        frames = {name: decode_table(data) for name, data in blobs.items()}
        missing = sorted(set(RESULT_TABLES) - set(frames) - {"worker_spans"})
        if missing:
            raise StoreError(f"run {run_id} in {self.path} lacks its {', '.join(missing)} "
                             "table(s); delete it and run it again")
        return decode_result(row, frames)

    def load_many(self, run_ids: Sequence[int]) -> tuple[dict[int, BacktestResult],
                                                          dict[int, str]]:
        """The saved results and names of ``run_ids``, by id (for a comparison); raises
        ``StoreError`` for an id that is not in the store."""
        names = {run_id: str(self.run_info(run_id)["name"]) for run_id in run_ids}
        return {run_id: self.load(run_id) for run_id in run_ids}, names

    def attachments(self, run_id: int) -> dict[str, pd.DataFrame]:
        """The extra tables saved with a run (see ``save``), by name, each verified."""
        with self._transaction(write=False) as conn:
            self._require(conn, run_id)
            blobs = self._frames(conn, run_id, "attachment")
        return {name: decode_frame(data) for name, data in blobs.items()}

    def update(self, run_id: int, *, name: str | None = None, notes: str | None = None,
               tags: Sequence[str] | None = None) -> None:
        """Change a run's name, notes and/or tags (tags replace the old ones)."""
        if name is not None and not name.strip():
            raise StoreError("a run's name cannot be empty")
        clean_tags = None if tags is None else _clean_tags(tags)
        with self._transaction() as conn:
            self._require(conn, run_id)
            if name is not None:
                conn.execute("UPDATE runs SET name = ? WHERE id = ?", (name.strip(), int(run_id)))
            if notes is not None:
                conn.execute("UPDATE runs SET notes = ? WHERE id = ?", (notes, int(run_id)))
            if clean_tags is not None:
                _insert_tags(conn, int(run_id), clean_tags)

    def delete(self, run_id: int) -> None:
        """Remove a run with its tables and tags."""
        with self._transaction() as conn:
            self._require(conn, run_id)
            conn.execute("DELETE FROM runs WHERE id = ?", (int(run_id),))
        log.info("deleted run %d from %s", run_id, self.path)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
