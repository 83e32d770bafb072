"""The index on disk: FAISS vectors, chunk metadata (JSON, never pickle) and a manifest, written atomically.

Layout under the index folder:
    CURRENT            name of the live generation (replaced atomically)
    gen-<id>/          manifest.json, chunks.jsonl, vectors.npy, faiss.index
    .lock              held while a build runs, so two builds never interleave
A build writes a new generation beside the live one and switches CURRENT only when every file is on
disk, so a crash at any point leaves the previous index in place.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import IndexStoreError, IndexWriteError, RagError
from rag.index.store import DocPart
from rag.models import sha256_file
from rag.types import Chunk

log = logging.getLogger("rag.index.files")

FILES = ("chunks.jsonl", "vectors.npy", "faiss.index")


@dataclass
class IndexData:
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: object
    path: Path
    _lexical: object = field(default=None, repr=False)

    def file_chunks(self, source: str) -> tuple[list[Chunk], np.ndarray]:
        rows = [i for i, c in enumerate(self.chunks) if c.source == source]
        return [self.chunks[i] for i in rows], self.vectors[rows]

    # ---- the Generation interface (rag/index/store.py) ----------------------------------------------------

    @property
    def id(self) -> str:
        return self.path.name

    def dense(self, qv: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.faiss_index.search(np.asarray(qv, dtype=np.float32)[None, :], depth)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def lexical(self, query: str) -> np.ndarray:
        if self._lexical is None:  # built once per opened generation (bm25s, in memory)
            from rag.index.lexical import Lexical

            self._lexical = Lexical(self.chunks)
        return self._lexical.scores(query)

    def vectors_at(self, positions) -> np.ndarray:
        return np.asarray(self.vectors[list(positions)], dtype=np.float32)


@contextmanager
def build_lock(index_dir: Path, wait: bool = True):
    """Serialize builds: a second `rag index` waits for the first (or fails at once with wait=False).

    A read-only folder still locks through its existing lock file (flock needs no write access), so readers
    stay serialized with a writer elsewhere; with no lock file there is nothing to serialize against.
    """
    fd = None
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise IndexWriteError(f"cannot write to index folder {index_dir}: {e.strerror}") from None
        try:
            fd = os.open(index_dir / ".lock", os.O_RDONLY)
        except OSError:
            if not index_dir.is_dir():
                raise IndexWriteError(f"cannot create index folder {index_dir}: {e.strerror}") from None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise IndexStoreError(f"another build holds the lock on {index_dir}") from None
        log.info("index lock taken at %.6f", time.time())  # the wall clock: comparable across processes
        yield
    finally:
        if fd is not None:
            log.info("index lock released at %.6f", time.time())
            os.close(fd)  # closing releases the lock


def current_generation(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / "CURRENT").read_text().strip()
    except OSError:
        return None
    path = index_dir / name
    return path if name and path.is_dir() else None


def load(index_dir: Path) -> IndexData | None:
    """The live index, or None when there is none. Files not matching the manifest's checksums are refused."""
    gen = current_generation(Path(index_dir))
    if gen is None:
        return None
    try:
        manifest = json.loads((gen / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise IndexStoreError(f"index manifest in {gen} is unreadable ({e}); run `rag index --rebuild`") from None
    for name in FILES:
        expected = manifest.get("checksums", {}).get(name)
        if not expected or not (gen / name).exists() or sha256_file(gen / name) != expected:
            raise IndexStoreError(f"index file {gen / name} does not match its manifest; run `rag index --rebuild`")
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        chunks = [Chunk(**json.loads(line)) for line in f if line.strip()]
    big = (gen / "vectors.npy").stat().st_size >= MMAP_MIN_BYTES
    vectors = np.load(gen / "vectors.npy", mmap_mode="r" if big else None, allow_pickle=False)
    index = read_faiss(gen / "faiss.index")
    if len(chunks) != vectors.shape[0] or index.ntotal != len(chunks):
        raise IndexStoreError(f"index in {gen} is inconsistent (chunks/vectors differ); run `rag index --rebuild`")
    return IndexData(manifest, chunks, vectors, index, gen)


# Which FAISS index for how many passages (measured by `rag bench`, see docs/scaling.md): exact search is
# fast enough and perfect below FLAT_MAX; HNSW keeps recall@10 >= 0.95 at a few ms up to a few million (its
# graph must sit in RAM); beyond that IVF-PQ finds candidates from compressed codes and re-ranks them exactly.
FLAT_MAX = 50_000
HNSW_MAX = 2_000_000
IVF_MIN = 10_000  # IVF-PQ's k-means needs this many vectors to train on
HNSW_EF_SEARCH = 512  # synthetic recall@10: 0.998 at 100k, 0.977 at 1M (256: 0.985, 0.949); ~2–5 ms. docs/bench.md
IVF_NPROBE, IVF_REFINE_FACTOR = 64, 10  # IVF-PQ: lists searched; candidates re-ranked exactly per result
MMAP_MIN_BYTES = 256 * 2**20  # open index files larger than this memory-mapped


def choose_index_type(n: int, requested: str = "auto") -> str:
    if requested == "ivfpq" and n < IVF_MIN:
        log.warning("index_type ivfpq needs %d passages to train on, the corpus has %d: using flat", IVF_MIN, n)
        return "flat"
    if requested != "auto":
        return requested
    return "flat" if n < FLAT_MAX else "hnsw" if n < HNSW_MAX else "ivfpq"


def make_faiss(vectors: np.ndarray, kind: str = "flat"):
    """Inner-product search (on normalized vectors: cosine similarity) of the given kind."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif kind == "ivfpq":
        # compressed codes find candidates, the exact vectors (memory-mapped with the file) re-rank them:
        # PQ alone reached recall@10 0.31 on the synthetic 100k set, with re-ranking 0.97 (docs/bench.md)
        nlist = max(16, int(4 * n**0.5))
        ivf = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, dim // 4, 8, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.min_points_per_centroid = ivf.pq.cp.min_points_per_centroid = 5  # enough here; silences FAISS
        ivf.train(vectors[np.random.default_rng(0).choice(n, size=min(n, max(50 * nlist, 10_000)), replace=False)])
        index = faiss.IndexRefineFlat(ivf)
    elif kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        raise ValueError(f"unknown index type {kind!r} (flat, hnsw, ivfpq or auto)")
    if n:
        index.add(vectors)
    return _tune(index)


def _tune(index):
    """Search-time knobs: set on every open, so an index built by an older version searches like a new one."""
    import faiss

    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if isinstance(index, faiss.IndexRefine):
        index.k_factor = IVF_REFINE_FACTOR
        faiss.extract_index_ivf(index.base_index).nprobe = IVF_NPROBE
    return index


def read_faiss(path: Path):
    """Large indexes are memory-mapped where FAISS allows it, so opening them costs no copy."""
    import faiss

    index = None
    if path.stat().st_size >= MMAP_MIN_BYTES:
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            pass  # this index type cannot be mapped
    if index is None:
        index = faiss.read_index(str(path))
    return _tune(index)


def write(index_dir: Path, manifest: dict, chunks: list[Chunk], vectors: np.ndarray) -> IndexData:
    """Write a new generation and make it live in one atomic rename. Call under build_lock."""
    import faiss

    index_dir = Path(index_dir)
    tmp = index_dir / f".tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True)
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in chunks:
                f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
        index = make_faiss(vectors, choose_index_type(len(vectors), manifest.get("index_type", "auto")))
        faiss.write_index(index, str(tmp / "faiss.index"))
        manifest = dict(manifest, checksums={name: sha256_file(tmp / name) for name in FILES})
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        for name in (*FILES, "manifest.json"):
            _fsync(tmp / name)
        gen = index_dir / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        from rag.index.store import checkpoint

        checkpoint("commit")
        os.rename(tmp, gen)
        pointer = index_dir / "CURRENT.tmp"
        pointer.write_text(gen.name + "\n")
        _fsync(pointer)
        os.replace(pointer, index_dir / "CURRENT")
        _fsync(index_dir)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise IndexWriteError(
            f"cannot write the index to {index_dir}: {e.strerror or e}; the previous index is kept"
        ) from None
    _remove_stale(index_dir, keep=gen.name)
    return IndexData(manifest, list(chunks), vectors, index, gen)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep(index_dir: Path) -> list[str]:
    """Remove what a killed build left behind: `.tmp-*` folders, `CURRENT.tmp`, and `gen-*` generations that
    CURRENT does not name (none when CURRENT itself is missing or names nothing: then nothing is certain).
    Call under build_lock, so no build of another process is writing them. Returns the names removed."""
    index_dir = Path(index_dir)
    live = current_generation(index_dir)
    removed = []
    try:
        entries = list(index_dir.iterdir())
    except OSError:
        return removed
    for p in entries:
        leftover = p.name == "CURRENT.tmp" or (p.name.startswith(".tmp-") and p.is_dir()) or (
            live is not None and p.name.startswith("gen-") and p.is_dir() and p.name != live.name)
        if not leftover or p.is_symlink():
            continue
        try:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
            removed.append(p.name)
        except OSError as e:  # a read-only folder: left as it is, the index still loads
            log.debug("cannot remove %s: %s", p, e)
    if removed:
        log.info("removed what an interrupted build left: %s", ", ".join(sorted(removed)))
    return removed


def _remove_stale(index_dir: Path, keep: str) -> None:
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("gen-") or p.name.startswith(".tmp-")):
            shutil.rmtree(p, ignore_errors=True)


class FilesStore:
    """The FAISS + bm25s files of this module behind the Store interface."""

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self.url = str(self.index_dir)
        self._swept = False

    def current_id(self) -> str | None:
        gen = current_generation(self.index_dir)
        return gen.name if gen else None

    def open(self):
        """Lock-free: a writer makes a generation live only when every file is on disk, and removes the old
        one after the switch; a reader that loses that race reads the new CURRENT and tries again."""
        if not self._swept:  # a killed build's leftovers go at the next start, a reader's too, when no build runs
            self._swept = True
            try:
                with build_lock(self.index_dir, wait=False):
                    sweep(self.index_dir)
            except (RagError, OSError):
                pass  # a build is running (it sweeps when it starts) or the folder is read-only
        for attempt in range(3):
            before = self.current_id()
            try:
                return load(self.index_dir)
            except (IndexStoreError, OSError):
                if attempt == 2 or self.current_id() == before:  # not a race with a writer: really broken
                    raise
                log.info("the index generation changed while it was opened; opening the new one")
        return None

    @contextmanager
    def writer(self, wait: bool = True):
        with build_lock(self.index_dir, wait=wait):
            sweep(self.index_dir)  # a killed build's leftovers go at the next start
            yield

    def commit(self, manifest: dict, parts: list[DocPart], old):
        chunks, vectors = [], []
        for part in parts:
            if part.chunks is None:
                cs, vs = old.file_chunks(part.source)
            else:
                cs, vs = part.chunks, part.vectors
            chunks.extend(cs)
            if len(cs):
                vectors.append(np.asarray(vs, dtype=np.float32))
        dim = int(manifest.get("dim") or 0)
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
        return write(self.index_dir, manifest, chunks, matrix)

    def close(self) -> None:
        pass
