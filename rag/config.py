"""One settings object holding every knob with its default.

Any field can be overridden from the environment as RAG_<FIELD> (e.g. RAG_K=5, RAG_CORPUS_DIR=~/notes).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

SCHEMA_VERSION = 5  # 2: chunks carry kind, heading and page; the manifest records what cleaning dropped, per file
# 3: an article page is indexed as its body alone, bylines and datelines are metadata: each file's manifest
#    entry carries "meta" (title, author, published, site, language); an older index is rebuilt
# 4: metadata leaves out a file's placeholder properties (a template's author and dates), a PDF's printed date
#    comes before its file date, a Word file's title block is read, names are kept as the page writes them
# 5: a PDF whose information dictionary has no title (or the name of the file it was made from) takes the title
#    its first page prints
TEXT_VERSION = 12  # 12: a rendered man page's header and footer lines are furniture, dropped and reported; 11: a plain-text line underlined with a row of "=", "*", "-" ... is a heading; 10: a plain text opening with a short title block (a man page: its NAME line) is titled so; 9: a plain-text heading line directly over an indented body heads it (indexes built under 8 in between lack it); 8: an indented paragraph of a plain text is prose, not code; 7: a changelog entry's first line heads its entry; 6: cleaning keeps a stated sentence before a news body, no site-specific phrases; 5: identical and
#                   near-identical chunks of a file are stored once. Bump when parsing, cleaning or chunking rules change.
ROOT = Path(__file__).resolve().parent.parent
MODEL_CACHE_DIR = ROOT / "index" / "models"  # local exports of the embedding model (see rag/index/embed.py)


@dataclass
class Settings:
    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    store: str = ""  # where the index lives (rag/index/store.py): "" = FAISS + bm25s files in index_dir; postgresql://... = PostgreSQL
    models_file: Path = ROOT / "models.txt"
    embed_model: str = ""  # name from models.txt; "" = the first `embed` line
    llm_model: str = ""  # name from models.txt or a path to a .gguf; "" = the first `llm` line
    embed_backend: str = "auto"  # "auto" (onnx-int8 when onnxruntime is installed, else torch), "onnx", "onnx-int8", "torch"
    model_cache_dir: Path = MODEL_CACHE_DIR

    # cleaning and chunking
    chunk_size: int = 400  # characters; roughly one or two sentences, well under MiniLM's 256 word pieces
    chunk_overlap: int = 0
    embed_title: bool = True  # prefix each chunk with its article title (and heading trail) before embedding
    clean: bool = True  # drop page furniture (navigation, captions, repeated footers...); False keeps every block
    max_file_mb: float = 64.0

    # retrieval
    index_type: str = "auto"  # FAISS index: "auto" (by corpus size, see rag/index/files.py), "flat", "hnsw", "ivfpq"
    k: int = 3  # passages given to the model and cited
    candidates: int = 30  # per retriever, before fusion
    hybrid: bool = True  # dense + BM25; False = dense only
    fusion: str = "convex"  # "rrf" (reciprocal rank) or "convex" (cosine + lexical_weight * BM25 / best BM25)
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 0.3
    sentence_lexical_weight: float = 0.5  # sentence selection: cosine + this * idf-weighted share of question terms
    list_coverage: float = 0.75  # "which articles mention X": an article counts when a sentence holds this share of X's terms
    list_max: int = 5
    # Evidence choice and declining are learned (rag/engine/rerank.py, trained by `rag train` on tests/qa/): the settings
    # below were chosen on the dev folders only; test folders never set anything (README, "Quality").
    select_from: int = 8  # hits whose sentences (with their paragraph neighbours) compete for the evidence
    rerank: bool = True  # False: first-stage ranking only and no declining (for comparison: `rag eval --variant`)
    rerank_top: int = 32  # first-stage best sentences the trained ranker re-scores (its cost grows with this)
    ranker_dir: Path = ROOT / "rag" / "weights"
    reader: bool = True  # the reader (rag/engine/reader.py) re-reads the best candidates and decides, when it is trained
    reader_top: int = 20  # the ranked candidates the reader reads (their token vectors are most of its cost)
    gate_passages: int = 3  # the answerability score reads key-term coverage over this many best passages
    decline_threshold: float | None = None  # None: the trained one (rag/weights/answerability.json)
    short_threshold: float | None = None  # None: the trained one
    gather_margin: float = 2.0  # why/how/summary: sentences within this many logits of the best one are gathered
    bound_from: int = 3  # how many/when/how much: the answer's sentence is among this many best evidence sentences
    yesno_coverage: float = 1.1  # "Yes"/"No" opens a yes/no answer only when its sentence holds this share of the key
    #                              terms; above 1 = never: on the dev splits the opener was wrong the one time it fired at 0.9

    # generation
    use_llm: bool = True  # False = extractive answer (best supporting sentence) only
    answer_style: str = "typed"  # "typed": model picks a name/number/date found in the evidence, else the best
    #                              sentence; "generate": free generation kept only when the evidence supports it
    choose_from: int = 3  # candidate short answers considered (nearest to the question's words first)
    choose_context_words: int = 8  # ...reading this many words either side of them (0 = the whole sentence)
    max_tokens: int = 48
    n_ctx: int = 2048
    n_threads: int = 0  # 0 = all cores
    max_question_chars: int = 1000  # longer questions are trimmed, with a notice
    generation_timeout_s: float = 60.0  # also bounds each wait on a remote model server (openai: in models.txt)

    # serving (`rag ui`: the web chat and the OpenAI-compatible API share one port and one model)
    api_queue_max: int = 32  # API questions beyond this many waiting for the model get HTTP 429 at once
    max_upload_mb: float = 100.0  # the page refuses larger files (`rag ui --max-upload-mb`)
    corpus_noun: str = "documents"  # what the page calls the folder's files ("articles" when it is known to hold them)
    collection_name: str = ""  # the page's name for the folder `rag ui` serves ("" = the folder's own name)
    collections_file: Path = ROOT / "index" / "collections.json"  # named collections (`rag collections`)
    # every API input is bounded before any work is done on it (rag/serve/api.py); over a bound: 413 or 400, at once
    api_max_body_bytes: int = 1_048_576  # a request body larger than this (Content-Length or as read) gets 413
    api_max_messages: int = 64  # messages in one request
    api_max_history_chars: int = 64_000  # all messages before the question, together
    # every HTTP route of both servers (rag/serve/bounds.py, rag/serve/protocol.py): a body that stops arriving for
    # this long gets 408, as does a request line and headers not complete this long after the connection opened
    http_body_timeout_s: float = 15.0
    http_header_timeout_s: float = 10.0
    history_turns: int = 2  # a follow-up reads only the last turns (the pipeline uses the last); each is cut to
    #                         max_question_chars (the API and the chat; the question itself is refused over that)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values: dict = {}
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _coerce(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        s = cls(**values)
        for name in ("corpus_dir", "index_dir", "models_file", "model_cache_dir", "collections_file"):
            setattr(s, name, Path(getattr(s, name)).expanduser())
        return s

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def chunking_key(self) -> dict:
        """What, if changed, invalidates stored chunks and vectors."""
        return {
            "text_version": TEXT_VERSION,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "embed_title": self.embed_title,
            "clean": self.clean,
        }


def _coerce(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "float | None":
        return None if raw.strip().lower() in ("", "none") else float(raw)
    if kind == "Path":
        return Path(raw)
    return raw
