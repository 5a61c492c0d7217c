"""The run store's SQLite file: its tables, schema versions and migrations, and the checks
and settings that open a file as a store (identity, WAL, transactions).

The file is marked with ``PRAGMA application_id``; an SQLite file that is not a
workbench store is refused before anything is written to it. The schema version is
``PRAGMA user_version``; ``MIGRATIONS`` maps each version to the step that upgrades it
to the next one. The ``RunStore`` that uses all this is ``engine.results.store``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import BacktestError
from engine.results.store_codec import SEALED_COLUMNS, frame_checksum, run_checksum

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of a workbench store ("BTWB").
APPLICATION_ID = 0x42545742


class StoreError(BacktestError):
    """The run store cannot be opened, or a run id is not in it."""


class DamagedRunError(StoreError):
    """A saved run's bytes fail their checksum; ``run_id`` names it."""

    def __init__(self, message: str, *, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id


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


def read_only_reason(path: Path) -> str | None:
    """Why an existing store can only be read ("the file is read-only", "its folder is
    read-only": SQLite writes its journal and WAL files beside the file), or None when
    it can be written or does not exist yet."""
    if not path.is_file():
        return None
    if not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(path.parent, os.W_OK):
        return "its folder is read-only"
    return None


def read_only_error(path: Path, reason: str) -> StoreError:
    """The one-line refusal of a write to a store opened read-only."""
    return StoreError(f"run store {path} is read-only ({reason}): its runs can be listed, "
                      "shown, compared and exported but not saved, renamed, tagged or "
                      "deleted; make it writable or give --store another file")


def _is_read_only(exc: sqlite3.Error) -> bool:
    return "readonly" in str(exc) or "read-only" in str(exc)


def connect(path: Path, busy_timeout: float) -> tuple[sqlite3.Connection, str | None]:
    """Open ``path`` as a run store (created if missing): checked to be one and not from a
    newer workbench (before anything is written), in WAL mode, with foreign keys on. Not
    yet migrated (``migrate``). A store that cannot be written opens read-only (for
    listing and loading); the second value then says why, else it is None."""
    if path.is_dir():
        raise StoreError(f"run store {path} is a folder; give a file path "
                         "such as runs.sqlite")
    if not path.exists() and path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        raise StoreError(f"cannot create the run store {path}: its folder is read-only; "
                         "give --store a file in a folder you can write")
    read_only = read_only_reason(path)
    while True:
        try:
            conn = _open_file(path, busy_timeout, read_only)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the run store {path}: {exc}") from exc
        try:
            _check_identity(conn, path)
            # A newer workbench's store is refused before WAL or a migration writes to it.
            _check_version(user_version(conn), path)
            if read_only is None:
                _use_wal(conn, path, busy_timeout)
                # In WAL mode NORMAL never corrupts the database; a power cut may lose the
                # last commits, a crashed process loses nothing committed.
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            if read_only is None and _is_read_only(exc) and path.is_file():
                read_only = "the disk refuses writes to it"  # os.access said it could
                continue
            raise StoreError(f"run store {path} cannot be opened as a run database: "
                             f"{exc}") from exc
        return conn, read_only


def _open_file(path: Path, busy_timeout: float, read_only: str | None) -> sqlite3.Connection:
    """The SQLite connection: read-write (creating the file), or for a store that cannot
    be written ``mode=ro``, else (its folder cannot hold the WAL index SQLite needs
    beside a WAL file) ``immutable``: the file read as it is, without locks."""
    def open_(target: str | Path, uri: bool) -> sqlite3.Connection:
        return sqlite3.connect(target, timeout=busy_timeout, isolation_level=None,
                               check_same_thread=False, uri=uri)

    if read_only is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open_(path, uri=False)
    uri = path.absolute().as_uri()
    conn = open_(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA user_version").fetchone()  # opens the file (and its -shm)
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return open_(f"{uri}?mode=ro&immutable=1", uri=True)


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
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
    raise StoreError(f"{path} is an SQLite database but not a workbench run store "
                     f"({what}); it was left unchanged. Give --store a new file name, "
                     "such as runs.sqlite")


def _use_wal(conn: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Switch to WAL (kept in the file). Two processes creating the store at once can
    get "database is locked" here without SQLite's busy handler being called, so the
    switch is retried until the busy timeout."""
    deadline = time.monotonic() + busy_timeout
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
                    "writers wait for each other", path, mode)


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database (``PRAGMA user_version``)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_version(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(f"run store {path} has schema version {version}, written "
                         f"by a newer version of the workbench (this one reads up to "
                         f"{SCHEMA_VERSION}); update the workbench or use --store")


def migrate(conn: sqlite3.Connection, path: Path, busy_timeout: float,
            read_only: str | None = None) -> None:
    """Bring the schema to ``SCHEMA_VERSION``, one migration step at a time (a store
    opened read-only cannot be upgraded, so it must be at ``SCHEMA_VERSION``)."""
    try:
        version = user_version(conn)
        if version == SCHEMA_VERSION:
            return
        if read_only is not None:
            _check_version(version, path)
            raise StoreError(f"run store {path} is read-only ({read_only}) and at schema "
                             f"version {version}; this workbench must first upgrade it to "
                             f"{SCHEMA_VERSION}: make it writable, or give --store another "
                             "file")
        with transaction(conn, path, busy_timeout):
            version = user_version(conn)  # again: another process may have migrated
            _check_version(version, path)
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
                log.info("run store %s migrated to schema version %d", path, version)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"run store {path} cannot be read: {exc}") from exc


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path, busy_timeout: float,
                write: bool = True) -> Iterator[sqlite3.Connection]:
    """One transaction (IMMEDIATE for writes, so the write lock is taken up front
    and the busy timeout applies); rolled back on any error. SQLite's own errors
    (disk full, locked past the timeout) come out as ``StoreError``."""
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
        if _is_read_only(exc):
            raise read_only_error(path, f"the disk refused the write: {exc}") from exc
        if "locked" in str(exc):
            raise StoreError(f"run store {path} is busy: another process has "
                             f"been writing it for {busy_timeout:g} s; try "
                             "again in a moment") from exc
        raise StoreError(f"run store {path}: {exc}") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"run store {path}: {exc}") from exc
