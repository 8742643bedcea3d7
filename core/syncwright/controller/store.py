"""The local-mode state store: one SQLite database, schema-versioned with migrations.

It implements sync's ``OperationStore`` (current operation and history per
app) and keeps what the controller learned last about each app (its
comparison: sync status, revision, health, resources, conditions,
reconciledAt) and the requests the CLI leaves for a running controller
(refresh, hard refresh, sync). SQLite gives several processes — the
controller, ``syncwright app ...`` and a second replica — one consistent view
without a server. WAL mode keeps readers from blocking the writer.

The path is ``$SYNCWRIGHT_STATE`` when it names a ``.db`` file, else
``state.db`` inside ``$SYNCWRIGHT_STATE`` (a directory) or inside
``~/.local/state/syncwright``.
"""

from __future__ import annotations

import contextlib

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..sync.operation import HistoryEntry, OperationState, StoreError, default_state_dir

#: Each entry upgrades the schema from version ``i`` to ``i + 1``; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE operations (app TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL)",
        "CREATE TABLE history (app TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (app, id))",
        "CREATE TABLE comparisons (app TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL)",
    ),
    (
        "CREATE TABLE requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, kind TEXT NOT NULL, "
        "data TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_db_path() -> Path:
    root = default_state_dir()
    return root if root.suffix == ".db" else root / "state.db"


class SqliteStore:
    """Operation state, history, last comparisons and CLI requests in one SQLite file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the state directory: {e.strerror}", context=str(self.path.parent)) from None
        self._migrate()

    # -- connection and schema -------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as e:
                raise StoreError(f"cannot open the state database: {e}", context=str(self.path)) from None
            self._local.db = db
        return db

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db().execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"state database error: {e}", context=str(self.path)) from None

    def schema_version(self) -> int:
        return int(self._exec("PRAGMA user_version")[0][0])

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; any error rolls back and becomes "cannot <what>"."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as e:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"cannot {what}: {e}", context=str(self.path)) from None
            raise

    def _migrate(self) -> None:
        """Apply the missing migrations in one transaction; refuse a newer schema."""
        with self._transaction("migrate the state database") as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(f"the state database has schema version {version}, newer than this syncwright "
                                 f"understands ({SCHEMA_VERSION}); upgrade syncwright", context=str(self.path))
            for i in range(version, SCHEMA_VERSION):
                for stmt in MIGRATIONS[i]:
                    db.execute(stmt)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- OperationStore --------------------------------------------------------------------
    def load(self, app: str) -> OperationState | None:
        rows = self._exec("SELECT data FROM operations WHERE app = ?", (app,))
        return OperationState.from_dict(json.loads(rows[0][0])) if rows else None

    def save(self, op: OperationState) -> None:
        """Store ``op``; a termination asked for meanwhile (``app terminate``) is never overwritten."""
        with self._transaction("save the operation") as db:
            row = db.execute("SELECT data FROM operations WHERE app = ?", (op.app,)).fetchone()
            if row is not None and op.phase == "Running":
                stored = json.loads(row[0])
                if stored.get("id") == op.id and stored.get("phase") == "Terminating":
                    op.phase = "Terminating"
            db.execute("INSERT OR REPLACE INTO operations (app, data, updated) VALUES (?, ?, ?)",
                       (op.app, json.dumps(op.to_dict(), separators=(",", ":")), time.time()))

    def history(self, app: str) -> list[HistoryEntry]:
        rows = self._exec("SELECT data FROM history WHERE app = ? ORDER BY id", (app,))
        return [HistoryEntry.from_dict(json.loads(r[0])) for r in rows]

    def add_history(self, app: str, entry: HistoryEntry, limit: int) -> None:
        with self._transaction("record history") as db:
            db.execute("INSERT OR REPLACE INTO history (app, id, data) VALUES (?, ?, ?)",
                       (app, entry.id, json.dumps(asdict(entry), separators=(",", ":"))))
            if limit > 0:
                db.execute("DELETE FROM history WHERE app = ? AND id NOT IN "
                           "(SELECT id FROM history WHERE app = ? ORDER BY id DESC LIMIT ?)", (app, app, limit))

    # -- comparisons -----------------------------------------------------------------------
    def save_comparison(self, app: str, data: dict[str, Any]) -> None:
        self._exec("INSERT OR REPLACE INTO comparisons (app, data, updated) VALUES (?, ?, ?)",
                   (app, json.dumps(data, separators=(",", ":"), default=str), time.time()))

    def comparison(self, app: str) -> dict[str, Any] | None:
        rows = self._exec("SELECT data FROM comparisons WHERE app = ?", (app,))
        return dict(json.loads(rows[0][0])) if rows else None

    def comparisons(self) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self._exec("SELECT app, data FROM comparisons ORDER BY app")}

    def forget(self, app: str) -> None:
        """Drop what is known about an app that no longer exists (its history is kept)."""
        self._exec("DELETE FROM comparisons WHERE app = ?", (app,))

    # -- requests from the CLI -------------------------------------------------------------
    def request(self, app: str, kind: str, data: dict[str, Any] | None = None) -> int:
        """Leave a request (``refresh``, ``hard-refresh``, ``sync``) for the controller."""
        db = self._db()
        try:
            cur = db.execute("INSERT INTO requests (app, kind, data, created) VALUES (?, ?, ?, ?)",
                             (app, kind, json.dumps(data or {}), time.time()))
        except sqlite3.Error as e:
            raise StoreError(f"cannot record the request: {e}", context=str(self.path)) from None
        return int(cur.lastrowid or 0)

    def take_requests(self, owns: Any = None) -> list[tuple[int, str, str, dict[str, Any]]]:
        """Pop the pending requests for apps ``owns(app)`` accepts (all when None), oldest first.

        Each request is taken once, by the replica that owns the app.
        """
        with self._transaction("read requests") as db:
            rows = db.execute("SELECT seq, app, kind, data FROM requests ORDER BY seq").fetchall()
            if owns is not None:
                rows = [r for r in rows if owns(r[1])]
            for r in rows:
                db.execute("DELETE FROM requests WHERE seq = ?", (r[0],))
        return [(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]

    def pending_requests(self, app: str | None = None) -> int:
        if app is None:
            return int(self._exec("SELECT COUNT(*) FROM requests")[0][0])
        return int(self._exec("SELECT COUNT(*) FROM requests WHERE app = ?", (app,))[0][0])
