"""Opening SQLite connections with sqlite-vec loaded and the AgentDB pragmas set.

The pragmas: ``journal_mode=WAL`` (readers never block the writer and the writer never
blocks readers), ``synchronous=NORMAL`` (a committed transaction survives a crash of the
process; an OS crash or power cut may lose the last few), ``busy_timeout`` (connections
wait for each other's locks instead of failing with "database is locked"), and a page
cache of ``cache_size_mib``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import apsw

from resonance_engine.errors import StoreError
from resonance_engine.store.schema import APPLICATION_ID

__all__ = [
    "open_connection",
    "refuse_foreign_database",
    "memory_uri",
    "write_transaction",
    "describe_error",
    "DEFAULT_BUSY_TIMEOUT_MS",
    "DEFAULT_CACHE_MIB",
]

DEFAULT_BUSY_TIMEOUT_MS = 10_000
DEFAULT_CACHE_MIB = 64


def memory_uri() -> str:
    """A fresh URI for an in-memory database that several connections can share.

    SQLite's ``memdb`` VFS keeps the database while at least one connection is open.
    """
    return f"file:/resonance-{uuid.uuid4().hex}?vfs=memdb"


def describe_error(exc: BaseException) -> str:
    """A short text for an apsw exception (class name without "Error" and message)."""
    name = type(exc).__name__.removesuffix("Error")
    return f"{name}: {exc}"


def _load_sqlite_vec(conn: apsw.Connection) -> None:
    try:
        import sqlite_vec
    except ImportError:
        raise StoreError(
            "the sqlite-vec extension is not installed; AgentDB needs it for fingerprint "
            "search: pip install 'sqlite-vec>=0.1.9'"
        ) from None
    path = sqlite_vec.loadable_path()
    try:
        conn.enable_load_extension(True)
        conn.load_extension(path)
        conn.enable_load_extension(False)
    except (apsw.Error, AttributeError) as exc:
        raise StoreError(
            f"cannot load the sqlite-vec extension from {path!r} ({describe_error(exc)}); "
            "reinstall it for this platform: pip install --force-reinstall sqlite-vec"
        ) from None


def refuse_foreign_database(conn: apsw.Connection, path: str) -> None:
    """Raise StoreError when ``conn`` is another application's SQLite database: an
    ``application_id`` that is not AgentDB's, or a schema without one. Only reads.
    """
    app_id = int(cast(int, conn.execute("PRAGMA application_id").fetchall()[0][0]))
    objects = int(cast(int, conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()[0][0]))
    if app_id != APPLICATION_ID and (app_id != 0 or objects > 0):
        raise StoreError(
            f"{path!r} is an SQLite database of another application "
            f"(application_id={app_id}, {objects} schema objects); it was left untouched: "
            "choose another path"
        )


def open_connection(
    path: str,
    *,
    readonly: bool = False,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    cache_size_mib: int = DEFAULT_CACHE_MIB,
) -> apsw.Connection:
    """Open ``path`` (a file path or a :func:`memory_uri`) with sqlite-vec and the pragmas.

    Raises
    ------
    StoreError
        The file cannot be opened or created, is not an SQLite database, or sqlite-vec
        cannot be loaded.
    """
    is_memory = path.startswith("file:/resonance-")
    if readonly:
        flags = apsw.SQLITE_OPEN_READONLY
    else:
        flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    if is_memory:
        flags |= apsw.SQLITE_OPEN_URI
    elif not readonly:
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise StoreError(
                f"cannot create database {path!r}: folder {parent!r} does not exist; "
                "create it or choose another path"
            )
    elif not os.path.exists(path):
        raise StoreError(f"database {path!r} does not exist (opened read-only)")
    try:
        conn = apsw.Connection(path, flags=flags)
    except apsw.Error as exc:
        raise StoreError(
            f"cannot open database {path!r} ({describe_error(exc)}); check that the path "
            "is a writable location or an AgentDB file"
        ) from None
    try:
        conn.set_busy_timeout(busy_timeout_ms)
        _load_sqlite_vec(conn)
        # reading the schema fails here for a file that is not a database; another
        # application's database is refused before anything (journal mode) changes
        refuse_foreign_database(conn, path)
        if not readonly and not is_memory:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchall()[0][0]
            if mode != "wal":
                raise StoreError(
                    f"cannot switch database {path!r} to WAL mode (it stays in {mode!r}); "
                    "is it on a network file system?"
                )
        conn.execute(f"PRAGMA synchronous=NORMAL; PRAGMA cache_size=-{cache_size_mib * 1024}")
        conn.execute("PRAGMA temp_store=MEMORY")
    except apsw.NotADBError:
        conn.close()
        raise StoreError(
            f"{path!r} is not an SQLite database (or it is encrypted or corrupt); "
            "choose another path for the AgentDB file"
        ) from None
    except (apsw.ReadOnlyError, apsw.CantOpenError, apsw.PermissionsError, apsw.IOError) as exc:
        conn.close()
        raise StoreError(
            f"cannot open database {path!r} for writing ({describe_error(exc)}); the file "
            "or its folder is read-only: choose a writable location or pass readonly=True"
        ) from None
    except StoreError:
        conn.close()
        raise
    except apsw.Error as exc:
        conn.close()
        raise StoreError(f"cannot open database {path!r} ({describe_error(exc)})") from None
    return conn


@contextmanager
def write_transaction(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception).

    IMMEDIATE takes the write lock at the start, waiting up to the busy timeout for
    other writers; a deferred transaction that reads first and then writes can fail with
    SQLITE_BUSY without waiting when another connection wrote in between.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if not conn.getautocommit():
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
