"""Named collections: several document folders side by side, each with its own index.

The registry is one small JSON file (Settings.collections_file, RAG_COLLECTIONS_FILE; by default
index/collections.json), written atomically. Each entry names a folder, the index built from it (by default
collections/<name>/ beside the registry) and, optionally, what the folder holds ("articles"; the page says
"documents" otherwise). `rag ui` serves the folder it is started with plus every registered collection; the
page's chooser and the API's `model` name pick one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import RagError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NOUNS = ("documents", "articles")


class CollectionError(RagError):
    pass


@dataclass(frozen=True)
class Collection:
    name: str
    corpus: str
    index: str
    noun: str = "documents"  # what the page calls the folder's files

    def settings(self, base: Settings) -> Settings:
        # a collection's index is files in its own folder, whatever store the served folder uses
        return base.replace(corpus_dir=Path(self.corpus), index_dir=Path(self.index), corpus_noun=self.noun, store="")


def _registry(settings: Settings) -> Path:
    return Path(settings.collections_file).expanduser()


def load(settings: Settings) -> list[Collection]:
    path = _registry(settings)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise CollectionError(f"cannot read the collections file {path}: {e}") from None
    out = []
    for item in raw.get("collections", []) if isinstance(raw, dict) else []:
        try:
            c = Collection(str(item["name"]), str(item["corpus"]), str(item["index"]), str(item.get("noun") or "documents"))
        except (KeyError, TypeError):
            continue
        if NAME.match(c.name):
            out.append(c)
    return out


def _save(settings: Settings, items: list[Collection]) -> None:
    path = _registry(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".collections-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"collections": [asdict(c) for c in items]}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def add(settings: Settings, name: str, corpus: Path, index: Path | None = None, noun: str = "documents") -> Collection:
    if not NAME.match(name or ""):
        raise CollectionError(f"a collection name is letters, digits, '.', '_' or '-' (at most 64), not {name!r}")
    corpus = Path(corpus).expanduser().resolve()
    if not corpus.is_dir():
        raise CollectionError(f"{corpus} is not a folder")
    if noun not in NOUNS:
        raise CollectionError(f"what the folder holds is one of {', '.join(NOUNS)}")
    items = load(settings)
    if any(c.name == name for c in items):
        raise CollectionError(f"there is already a collection named {name} (remove it first)")
    index = Path(index).expanduser().resolve() if index else _registry(settings).parent / "collections" / name
    c = Collection(name, str(corpus), str(index), noun)
    _save(settings, items + [c])
    return c


def remove(settings: Settings, name: str) -> Collection:
    items = load(settings)
    found = next((c for c in items if c.name == name), None)
    if found is None:
        raise CollectionError(f"no collection named {name}")
    _save(settings, [c for c in items if c.name != name])
    return found
