"""Progress of an index build, for whoever listens (the web page's indexing panel); nothing when no one does.

    with listening(fn):          # fn(stage, done, total, detail) is called as the build goes:
        open_or_build(...)       #   "parse" per file read (detail: its name), "embed" per block of chunks

A context variable, so a listener set on one thread (the page's build) hears only that build.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[str, int, int, str], None]
_listener: contextvars.ContextVar[Listener | None] = contextvars.ContextVar("rag_progress", default=None)


def active() -> bool:
    return _listener.get() is not None


def report(stage: str, done: int, total: int, detail: str = "") -> None:
    fn = _listener.get()
    if fn is not None:
        fn(stage, done, total, detail)


@contextmanager
def listening(fn: Listener) -> Iterator[None]:
    token = _listener.set(fn)
    try:
        yield
    finally:
        _listener.reset(token)
