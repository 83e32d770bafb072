"""One settings object holding every knob with its default.

Any field can be overridden from the environment as RAG_<FIELD> (e.g. RAG_K=5, RAG_CORPUS_DIR=~/notes).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

SCHEMA_VERSION = 1
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    models_file: Path = ROOT / "models.txt"
    embed_model: str = ""  # name from models.txt; "" = the first `embed` line
    llm_model: str = ""  # name from models.txt or a path to a .gguf; "" = the first `llm` line

    # cleaning and chunking
    chunk_size: int = 400  # characters; roughly one or two sentences, well under MiniLM's 256 word pieces
    chunk_overlap: int = 0
    embed_title: bool = True  # prefix each chunk with its article title before embedding
    max_file_mb: float = 64.0

    # retrieval
    k: int = 3  # passages given to the model and cited
    candidates: int = 30  # per retriever, before fusion
    hybrid: bool = True  # dense + BM25; False = dense only
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    min_relevance: float = 0.30  # below this cosine for the best passage, the corpus is taken not to answer

    # generation
    use_llm: bool = True  # False = extractive answer (best supporting sentence) only
    max_tokens: int = 48
    n_ctx: int = 2048
    n_threads: int = 0  # 0 = all cores
    max_question_chars: int = 1000  # longer questions are trimmed, with a notice
    generation_timeout_s: float = 60.0

    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values: dict = {}
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is None or f.name == "extra":
                continue
            values[f.name] = _coerce(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        s = cls(**values)
        for name in ("corpus_dir", "index_dir", "models_file"):
            setattr(s, name, Path(getattr(s, name)).expanduser())
        return s

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def chunking_key(self) -> dict:
        """What, if changed, invalidates stored chunks and vectors."""
        return {
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "embed_title": self.embed_title,
        }


def _coerce(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "Path":
        return Path(raw)
    return raw
