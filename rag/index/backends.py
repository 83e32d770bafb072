"""The store the settings name: the one place that knows every back-end (rag/index/store.py is the interface)."""

from __future__ import annotations

from pathlib import Path

from rag.index.store import Store, is_postgres


def open_store(settings) -> Store:
    """The store the settings name: `settings.store` (RAG_STORE) when set, else the index folder."""
    url = str(settings.store or "")
    if is_postgres(url):
        from rag.index.pg import PgStore  # psycopg only when asked for

        return PgStore.connect(url)
    from rag.index.files import FilesStore

    return FilesStore(Path(url) if url else Path(settings.index_dir))
