"""Chats that outlive a reload: one small SQLite file under the index folder, rows keyed by a browser's id.

A browser keeps a random id (128 bits, in its localStorage); every read and write here is scoped to that id, so
one browser never sees another's chats (the id is the only key, as a session cookie would be). Each change is one
transaction (SQLite's journal makes it atomic: a crash leaves the chat as it was before or after, never half
written), and sizes are bounded: chats per browser, turns per chat, characters per message and title.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

MAX_CHATS = 100  # per browser: the oldest beyond this are deleted
MAX_TURNS = 200  # per chat: older turns are dropped
MAX_TEXT = 20_000  # characters of one stored message (question or answer's text)
MAX_ANSWER_JSON = 200_000  # characters of one stored answer record (citations, passages)
MAX_TITLE = 80
UNDO_S = 600  # a deleted chat can be brought back for this long, or until the browser deletes another one
BROWSER_ID = re.compile(r"^[0-9a-f]{32}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id TEXT PRIMARY KEY, browser TEXT NOT NULL, title TEXT NOT NULL, collection TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, updated REAL NOT NULL, deleted REAL);
CREATE INDEX IF NOT EXISTS chats_browser ON chats (browser, updated);
CREATE TABLE IF NOT EXISTS turns (
    chat TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE, n INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (chat, n));
"""


def valid_browser(browser: str | None) -> str | None:
    return browser if isinstance(browser, str) and BROWSER_ID.match(browser) else None


class ChatStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(SCHEMA)
            if "deleted" not in {row[1] for row in db.execute("PRAGMA table_info(chats)")}:  # a file from before undo
                db.execute("ALTER TABLE chats ADD COLUMN deleted REAL")
            db.execute("DELETE FROM chats WHERE deleted < ?", (time.time() - UNDO_S,))

    @contextmanager
    def _db(self):
        """One connection per change, in one transaction (committed on success, rolled back on any error)."""
        with self._lock:
            db = sqlite3.connect(self.path, timeout=10)
            try:
                db.execute("PRAGMA foreign_keys = ON")
                with db:
                    yield db
            finally:
                db.close()

    def list(self, browser: str) -> list[tuple[str, str, str]]:
        """(id, title, collection) of the browser's chats, the latest first."""
        if not valid_browser(browser):
            return []
        with self._db() as db:
            return db.execute("SELECT id, title, collection FROM chats WHERE browser = ? AND deleted IS NULL"
                              " ORDER BY updated DESC", (browser,)).fetchall()

    def turns(self, browser: str, chat: str) -> list[tuple[str, str, dict]]:
        """(question, answer's text, answer record) of one of the browser's chats, in order."""
        if not valid_browser(browser) or not chat:
            return []
        with self._db() as db:
            rows = db.execute(
                "SELECT t.question, t.answer, t.record FROM turns t JOIN chats c ON c.id = t.chat"
                " WHERE c.id = ? AND c.browser = ? AND c.deleted IS NULL ORDER BY t.n", (chat, browser)).fetchall()
        return [(q, a, json.loads(r)) for q, a, r in rows]

    def collection(self, browser: str, chat: str) -> str:
        if not valid_browser(browser) or not chat:
            return ""
        with self._db() as db:
            row = db.execute("SELECT collection FROM chats WHERE id = ? AND browser = ? AND deleted IS NULL",
                             (chat, browser)).fetchone()
        return row[0] if row else ""

    def add_turn(self, browser: str, chat: str | None, question: str, answer: str, record: dict,
                 collection: str = "") -> str | None:
        """Append a turn to `chat` (a new chat, titled by its first question, when None or not the browser's);
        returns the chat's id, None when the browser id is not valid."""
        if not valid_browser(browser):
            return None
        now = time.time()
        record_json = json.dumps(record, ensure_ascii=False)
        if len(record_json) > MAX_ANSWER_JSON:  # the passages are what grows: keep the citations
            record_json = json.dumps({**record, "passages": []}, ensure_ascii=False)[:MAX_ANSWER_JSON]
            try:
                json.loads(record_json)
            except ValueError:
                record_json = "{}"
        with self._db() as db:
            owned = chat and db.execute("SELECT 1 FROM chats WHERE id = ? AND browser = ? AND deleted IS NULL",
                                        (chat, browser)).fetchone()
            if not owned:
                chat = uuid.uuid4().hex
                db.execute("INSERT INTO chats (id, browser, title, collection, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                           (chat, browser, _title(question), collection, now, now))
            n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE chat = ?", (chat,)).fetchone()[0]
            db.execute("INSERT INTO turns (chat, n, question, answer, record) VALUES (?, ?, ?, ?, ?)",
                       (chat, n, question[:MAX_TEXT], answer[:MAX_TEXT], record_json))
            db.execute("DELETE FROM turns WHERE chat = ? AND n <= ?", (chat, n - MAX_TURNS))
            db.execute("UPDATE chats SET updated = ?, collection = ? WHERE id = ?", (now, collection, chat))
            db.execute("DELETE FROM chats WHERE browser = ? AND id NOT IN "
                       "(SELECT id FROM chats WHERE browser = ? ORDER BY updated DESC LIMIT ?)", (browser, browser, MAX_CHATS))
        return chat

    def rename(self, browser: str, chat: str, title: str) -> bool:
        title = _title(title)
        if not valid_browser(browser) or not chat or not title:
            return False
        with self._db() as db:
            return db.execute("UPDATE chats SET title = ? WHERE id = ? AND browser = ? AND deleted IS NULL",
                              (title, chat, browser)).rowcount == 1

    def delete(self, browser: str, chat: str) -> bool:
        """Hide the chat from its browser, to be brought back by `undelete` until the browser deletes another chat
        or UNDO_S pass; then it is deleted with its turns (the chat deleted before this one is, now)."""
        if not valid_browser(browser) or not chat:
            return False
        with self._db() as db:
            db.execute("DELETE FROM chats WHERE browser = ? AND deleted IS NOT NULL", (browser,))
            return db.execute("UPDATE chats SET deleted = ? WHERE id = ? AND browser = ? AND deleted IS NULL",
                              (time.time(), chat, browser)).rowcount == 1

    def undelete(self, browser: str, chat: str) -> bool:
        if not valid_browser(browser) or not chat:
            return False
        with self._db() as db:
            return db.execute("UPDATE chats SET deleted = NULL WHERE id = ? AND browser = ? AND deleted >= ?",
                              (chat, browser, time.time() - UNDO_S)).rowcount == 1


def _title(text: str) -> str:
    text = " ".join((text or "").split())
    if len(text) <= MAX_TITLE:
        return text
    cut = text[: MAX_TITLE - 1].rsplit(" ", 1)[0] or text[: MAX_TITLE - 1]
    return cut + "…"
