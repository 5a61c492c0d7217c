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

A save is one ``BEGIN IMMEDIATE`` transaction: a process killed mid-save leaves no
trace of the run (SQLite rolls the half transaction back on the next open). The
database runs in WAL mode with a busy timeout, so readers never block and two
processes saving at once both succeed. The schema version is ``PRAGMA user_version``;
``MIGRATIONS`` maps each version to the step that upgrades it to the next one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import xxhash

from engine.config import BacktestConfig
from engine.errors import BacktestError
from engine.results.store_path import STORE_ENV as STORE_ENV  # re-exported
from engine.results.store_path import default_store_path
from engine.results.tables import RESULT_TABLES, AnyTable, BacktestResult, to_arrow

if TYPE_CHECKING:  # pandas is imported where a table is made: off a run's save
    import pandas as pd

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of a workbench store ("BTWB").
APPLICATION_ID = 0x42545742
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
_FRAME_FORMAT = "arrow-ipc"
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(
    compression="zstd" if pa.Codec.is_available("zstd") else None)


class StoreError(BacktestError):
    """The run store cannot be opened, or a run id is not in it."""


class DamagedRunError(StoreError):
    """A saved run's bytes fail their checksum; ``run_id`` names it."""

    def __init__(self, message: str, *, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id


def default_name(result: BacktestResult) -> str:
    """A run's name when none is given.

    For example ``RSI 14 30/70 · 500 stocks · 2023-02-04..2026-02-04``.
    """
    c = result.config
    return (f"RSI {c.period} {c.oversold:g}/{c.overbought:g} · {len(result.codes)} stocks · "
            f"{c.start.isoformat()}..{c.end.isoformat()}")


# AUTOINCREMENT: a deleted run's id is never given to a later run, so an id a user noted
# down never silently points at another run.
_SCHEMA_V1 = (
    """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            notes TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            n_stocks INTEGER NOT NULL,
            start_date TEXT NOT NULL,
            end_date TEXT NOT NULL,
            period INTEGER NOT NULL,
            oversold REAL NOT NULL,
            overbought REAL NOT NULL,
            capital_mode TEXT NOT NULL,
            fill TEXT NOT NULL,
            total_return REAL,
            sharpe REAL,
            max_drawdown REAL,
            trades INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            config TEXT NOT NULL,
            metrics TEXT NOT NULL,
            timings TEXT NOT NULL,
            codes TEXT NOT NULL,
            warnings TEXT NOT NULL
        )""",
    """CREATE TABLE tags (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (run_id, tag)
        )""",
    """CREATE TABLE frames (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            name TEXT NOT NULL,
            format TEXT NOT NULL,
            n_rows INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (run_id, role, name)
        )""",
)


#: Tables of a store; a file holding other tables is not one.
STORE_TABLES = frozenset({"runs", "tags", "frames"})
#: The ``runs`` columns sealed by its ``checksum`` (what the result is made of).
SEALED_COLUMNS = ("created", "n_stocks", "start_date", "end_date", "period", "oversold",
                  "overbought", "capital_mode", "fill", "total_return", "sharpe",
                  "max_drawdown", "trades", "fingerprint", "config", "metrics", "timings",
                  "codes", "warnings")


def _create_v1(conn: sqlite3.Connection) -> None:
    # One statement at a time: ``executescript`` would commit the migration's transaction.
    for statement in _SCHEMA_V1:
        conn.execute(statement)


def _add_checksums_v2(conn: sqlite3.Connection) -> None:
    """Checksum columns, filled for the runs already saved (as they read now)."""
    conn.execute("ALTER TABLE runs ADD COLUMN checksum TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE frames ADD COLUMN checksum TEXT NOT NULL DEFAULT ''")
    for row in conn.execute(f"SELECT id, {', '.join(SEALED_COLUMNS)} FROM runs").fetchall():
        conn.execute("UPDATE runs SET checksum = ? WHERE id = ?", (run_checksum(row[1:]), row[0]))
    frames = conn.execute("SELECT rowid, role, name, n_rows, data FROM frames").fetchall()
    for rowid, role, name, n_rows, data in frames:
        conn.execute("UPDATE frames SET checksum = ? WHERE rowid = ?",
                     (frame_checksum(role, name, n_rows, data), rowid))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


#: ``MIGRATIONS[v]`` upgrades a database at schema version ``v`` to ``v + 1`` (0 = empty).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _create_v1,
                                                               1: _add_checksums_v2}


def run_checksum(values: Sequence[Any]) -> str:
    """xxh3-64 (hex) of a run's ``SEALED_COLUMNS`` values, in that order."""
    return xxhash.xxh3_64_hexdigest(json.dumps(list(values), ensure_ascii=False).encode())


def frame_checksum(role: str, name: str, n_rows: int, data: bytes) -> str:
    """xxh3-64 (hex) of a stored table's bytes together with what they are."""
    digest = xxhash.xxh3_64(f"{role}\0{name}\0{n_rows}\0".encode())
    digest.update(data)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} value {value!r}")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def encode_frame(frame: AnyTable) -> bytes:
    """A table as one Arrow IPC stream of one record batch (exact values; a DataFrame's
    dtypes are kept in the pandas metadata, and an Arrow table's types map to the same
    pandas dtypes: ``engine.results.tables``)."""
    # One record batch, even for an empty table: it carries the categories of an empty
    # categorical column, which a table without chunks would lose.
    batch = _one_batch(to_arrow(frame))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=_IPC_OPTIONS) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def _one_batch(table: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
    """``table`` as a single record batch (a loaded table is one already)."""
    if isinstance(table, pa.RecordBatch):
        return table
    batches = table.to_batches()
    if len(batches) == 1:
        return batches[0]
    if table.num_rows:
        return table.combine_chunks().to_batches()[0]
    return pa.RecordBatch.from_pylist([], schema=table.schema)


def decode_table(data: bytes) -> pa.Table:
    """The table ``encode_frame`` wrote, in Arrow form."""
    return pa.ipc.open_stream(data).read_all()


def decode_frame(data: bytes) -> pd.DataFrame:
    """The table ``encode_frame`` wrote, as a DataFrame."""
    return decode_table(data).to_pandas()


def _clean_tags(tags: Sequence[str]) -> list[str]:
    """Tags stripped, empty ones dropped, duplicates removed (first kept, order kept)."""
    if isinstance(tags, str):
        raise StoreError(f"tags must be a list of words, not the text {tags!r}")
    cleaned = [str(t).strip() for t in tags]
    for tag in cleaned:
        if "," in tag:
            raise StoreError(f"tag {tag!r} contains a comma; give each tag separately")
    return list(dict.fromkeys(t for t in cleaned if t))


def _float_or_none(value: Any) -> float | None:
    """A metric as an SQL REAL (NaN and missing both become NULL)."""
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else value


def _run_row(result: BacktestResult, name: str, notes: str) -> dict[str, Any]:
    """The ``runs`` columns of a result."""
    c, m = result.config, result.metrics
    row: dict[str, Any] = {
        "name": name, "notes": notes,
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "n_stocks": len(result.codes), "start_date": c.start.isoformat(),
        "end_date": c.end.isoformat(), "period": c.period, "oversold": c.oversold,
        "overbought": c.overbought, "capital_mode": c.capital_mode, "fill": c.fill,
        "total_return": _float_or_none(m.get("total_return")),
        "sharpe": _float_or_none(m.get("sharpe")),
        "max_drawdown": _float_or_none(m.get("max_drawdown")),
        "trades": int(m.get("trades", 0)),
        "fingerprint": result.fingerprint, "config": _dumps(c.to_dict()),
        "metrics": _dumps(m), "timings": _dumps(result.timings),
        "codes": _dumps(list(result.codes)), "warnings": _dumps(list(result.warnings)),
    }
    row["checksum"] = run_checksum([row[name] for name in SEALED_COLUMNS])
    return row


def _insert_frame(conn: sqlite3.Connection, run_id: int, role: str, name: str,
                  n_rows: int, data: bytes) -> None:
    """Insert one encoded table of a run (inside the save's transaction)."""
    conn.execute("INSERT INTO frames (run_id, role, name, format, n_rows, data, checksum) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, role, name, _FRAME_FORMAT, n_rows,
                                                  data, frame_checksum(role, name, n_rows, data)))


def _insert_tags(conn: sqlite3.Connection, run_id: int, tags: list[str]) -> None:
    conn.execute("DELETE FROM tags WHERE run_id = ?", (run_id,))
    conn.executemany("INSERT INTO tags (run_id, tag) VALUES (?, ?)",
                     [(run_id, tag) for tag in tags])


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
        self._conn = self._connect()
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ plumbing
    def _connect(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise StoreError(f"run store {self.path} is a folder; give a file path "
                             "such as runs.sqlite")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout,
                                   isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the run store {self.path}: {exc}") from exc
        try:
            self._check_identity(conn)
            self._use_wal(conn)
            # In WAL mode NORMAL never corrupts the database; a power cut may lose the
            # last commits, a crashed process loses nothing committed.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"run store {self.path} cannot be opened as a run database: "
                             f"{exc}") from exc
        return conn

    def _check_identity(self, conn: sqlite3.Connection) -> None:
        """Refuse an SQLite file that is not a workbench store (before WAL or a
        migration writes to it). Stores made before ``APPLICATION_ID`` are known by
        their tables."""
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if app_id == APPLICATION_ID or (app_id == 0 and tables in (set(), STORE_TABLES)):
            return
        what = (f"its tables are {', '.join(sorted(tables)[:5])}" if tables
                else f"its application id is {app_id:#x}")
        raise StoreError(f"{self.path} is an SQLite database but not a workbench run store "
                         f"({what}); it was left unchanged. Give --store a new file name, "
                         "such as runs.sqlite")

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL (kept in the file). Two processes creating the store at once can
        get "database is locked" here without SQLite's busy handler being called, so the
        switch is retried until the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        if mode != "wal":
            log.warning("run store %s cannot use WAL (journal mode %s); concurrent "
                        "writers wait for each other", self.path, mode)

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(f"run store {self.path} has schema version {version}, written "
                             f"by a newer version of the workbench (this one reads up to "
                             f"{SCHEMA_VERSION}); update the workbench or use --store")

    def _migrate(self) -> None:
        """Bring the schema to ``SCHEMA_VERSION``, one migration step at a time."""
        try:
            if self._version() == SCHEMA_VERSION:
                return
            with self._transaction():
                version = self._version()  # again: another process may have migrated
                self._check_version(version)
                while version < SCHEMA_VERSION:
                    MIGRATIONS[version](self._conn)
                    version += 1
                    self._conn.execute(f"PRAGMA user_version = {version}")
                    log.info("run store %s migrated to schema version %d", self.path, version)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"run store {self.path} cannot be read: {exc}") from exc

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction (IMMEDIATE for writes, so the write lock is taken up front
        and the busy timeout applies); rolled back on any error. SQLite's own errors
        (disk full, locked past the timeout) come out as ``StoreError``."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):
                    raise StoreError(f"run store {self.path} is busy: another process has "
                                     f"been writing it for {self.busy_timeout:g} s; try "
                                     "again in a moment") from exc
                raise StoreError(f"run store {self.path}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"run store {self.path}: {exc}") from exc

    def _require(self, conn: sqlite3.Connection, run_id: int) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (int(run_id),)).fetchone() is None:
            raise StoreError(f"no run with id {run_id} in the run store {self.path}")

    # ------------------------------------------------------------------ public API
    @property
    def schema_version(self) -> int:
        """The schema version recorded in the database (``PRAGMA user_version``)."""
        with self._lock:
            return self._version()

    def save(self, result: BacktestResult, name: str | None = None, notes: str = "",
             tags: Sequence[str] = (),
             attachments: Mapping[str, pd.DataFrame] | None = None) -> int:
        """Save a completed run in one transaction; returns its id.

        ``name`` defaults to ``default_name(result)``. ``attachments`` are extra tables
        kept with the run (a sweep's table beside its best run), read back with
        ``attachments``.
        """
        row = _run_row(result, name if name else default_name(result), notes)
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
        with self._transaction() as conn:
            run_id = int(conn.execute(f"INSERT INTO runs ({columns}) VALUES ({marks})",
                                      tuple(row.values())).lastrowid or 0)
            _insert_tags(conn, run_id, clean_tags)
            for role, key, n_rows, data in encoded:
                _insert_frame(conn, run_id, role, key, n_rows, data)
        log.info("saved run %d (%s) in %s", run_id, row["name"], self.path)
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
        config, metrics, timings, fingerprint, codes, warnings = (
            row[name] for name in ("config", "metrics", "timings", "fingerprint", "codes",
                                   "warnings"))
        missing = sorted(set(RESULT_TABLES) - set(frames) - {"worker_spans"})
        if missing:
            raise StoreError(f"run {run_id} in {self.path} lacks its {', '.join(missing)} "
                             "table(s); delete it and run it again")
        return BacktestResult(
            config=BacktestConfig.from_dict(json.loads(config)),
            codes=tuple(json.loads(codes)), tables=frames, metrics=json.loads(metrics),
            timings=json.loads(timings), fingerprint=fingerprint,
            warnings=tuple(json.loads(warnings)))

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
