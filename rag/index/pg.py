"""The index in PostgreSQL (14 or newer, with the pgvector extension): any number of processes, on any number
of machines, answer from the database alone.

Tables (created on the first build):
    rag_state                 one row: the live generation; a build switches it in its committing transaction
    rag_generations           a generation's manifest, chunk count and mean chunk length (for BM25)
    rag_documents             one version of one file (source, content sha256); its chunks hang off it
    rag_generation_documents  which document versions make a generation, in corpus order
    rag_chunks                text, heading trail, lines, page, kind, ...; the BM25 terms and their counts
                              (GIN index); the vector (pgvector, HNSW index, inner product)

A build inserts the documents that changed (unchanged ones are shared with the live generation, found by
source and content hash), the generation's membership, and moves rag_state, all in one transaction: a reader
sees the old generation or the new one, never a part; a writer killed at any moment is rolled back by the
server and the last good generation goes on serving. Writers take a session advisory lock (released by the
server when a killed writer's connection goes away), and the commit re-checks that the live generation is still
the one the build started from, so two writers can never both commit.

The lexical side is BM25 computed in SQL with bm25s's formula (Lucene variant, k1 1.5, b 0.75) over the terms
of rag.text.tokens, so a question gets the same lexical scores as from the files back-end.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from contextlib import contextmanager

import numpy as np

from rag import text
from rag.errors import IndexStoreError
from rag.index.store import DocPart, checkpoint
from rag.types import Chunk

log = logging.getLogger("rag.index.pg")

LOCK_KEY = 0x7261670  # the writers' advisory lock ("rag")
KEEP_GENERATIONS = 2  # the live one and the one before it (a reader that has not switched yet)
FLAT_MAX = 50_000  # as rag/index/files.py: below this many chunks the dense search is exact (no HNSW)
# m 24 (pgvector's default is 16) and ef_search 300 (its default, 40, caps a query at 40 results): the least that
# finds the exact top 10 with recall ≥ 0.95 at 1M passages (0.950-0.953 at 27-31 ms p50 on 2 cores; m 16 needs
# ef_search 500 and 32 ms); the graph builds in 12-14 minutes there. docs/scaling.md has the sweep.
HNSW_M, HNSW_EF_CONSTRUCTION = 24, 64
HNSW_EF_SEARCH = 300
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults, as the files back-end uses them

CHUNK_COLUMNS = ("chunk_id", "source", "title", "heading", "text", "start_line", "end_line", "start_char", "end_char",
                 "hash", "doc_sha", "paragraph", "kind", "page")


def build_settings(n: int, dim: int) -> list[str]:
    """SET commands for building an HNSW index over n vectors at once: pgvector builds the graph in memory when
    maintenance_work_mem holds it (about the vectors plus 2·m neighbour ids each; on disk, and several times slower,
    otherwise), and in parallel with max_parallel_maintenance_workers (the leader works too)."""
    need = n * (4 * dim + 8 * 2 * HNSW_M + 64) * 1.5
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    mb = int(min(max(need, 2**30), memory / 2) / 2**20)
    return [f"SET maintenance_work_mem = '{mb}MB'",
            f"SET max_parallel_maintenance_workers = {max(0, (os.cpu_count() or 1) - 1)}"]


SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS rag_state (
    id int PRIMARY KEY CHECK (id = 1),
    generation bigint,
    dim int NOT NULL
);
CREATE TABLE IF NOT EXISTS rag_generations (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    manifest jsonb NOT NULL,
    n_chunks int NOT NULL DEFAULT 0,
    avgdl float8 NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS rag_documents (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    sha256 text NOT NULL,
    n_chunks int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS rag_generation_documents (
    generation bigint NOT NULL REFERENCES rag_generations(id) ON DELETE CASCADE,
    ord int NOT NULL,
    document bigint NOT NULL REFERENCES rag_documents(id),
    source text NOT NULL,
    PRIMARY KEY (generation, ord)
);
CREATE INDEX IF NOT EXISTS rag_generation_documents_document ON rag_generation_documents (document);
CREATE TABLE IF NOT EXISTS rag_chunks (
    id bigserial PRIMARY KEY,
    document bigint NOT NULL REFERENCES rag_documents(id) ON DELETE CASCADE,
    ord int NOT NULL,
    chunk_id text NOT NULL, source text NOT NULL, title text NOT NULL, heading text NOT NULL, text text NOT NULL,
    start_line int NOT NULL, end_line int NOT NULL, start_char int NOT NULL, end_char int NOT NULL,
    hash text NOT NULL, doc_sha text NOT NULL, paragraph int NOT NULL, kind text NOT NULL, page int NOT NULL,
    terms text[] NOT NULL,
    tfs int[] NOT NULL,
    dl int NOT NULL,
    embedding vector({dim}) NOT NULL
);
CREATE INDEX IF NOT EXISTS rag_chunks_document ON rag_chunks (document, ord);
CREATE INDEX IF NOT EXISTS rag_chunks_terms ON rag_chunks USING gin (terms);
CREATE INDEX IF NOT EXISTS rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_ip_ops)
    WITH (m = {m}, ef_construction = {ef});
INSERT INTO rag_state (id, generation, dim) VALUES (1, NULL, {dim}) ON CONFLICT (id) DO NOTHING;
"""

LEXICAL_SQL = """
WITH q AS (SELECT term, count(*)::float8 AS qn FROM unnest(%(terms)s::text[]) AS term GROUP BY term),
m AS (SELECT c.id, c.terms, c.tfs, c.dl FROM rag_chunks c
      WHERE c.terms && %(terms)s::text[] AND c.document = ANY(%(docs)s::bigint[])),
p AS (SELECT m.id, q.term, q.qn, m.tfs[array_position(m.terms, q.term)]::float8 AS tf, m.dl
      FROM m JOIN q ON q.term = ANY(m.terms)),
d AS (SELECT term, count(*)::float8 AS df FROM p GROUP BY term)
SELECT p.id, sum(p.qn * ln(1 + (%(n)s - d.df + 0.5) / (d.df + 0.5))
                 * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.dl / %(avgdl)s)))
FROM p JOIN d USING (term) GROUP BY p.id
"""


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _connect(url: str):
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, prepare_threshold=None)  # no cached plans: the search settings change per query
    except psycopg.Error as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise IndexStoreError(f"cannot connect to PostgreSQL at {redact(url)}: {first}") from None
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        pass  # the extension is not there yet: the first build creates it, then connects again
    return conn


def _store_error(e: Exception, url: str) -> IndexStoreError:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return IndexStoreError(f"PostgreSQL store {redact(url)}: {first}")


def term_counts(c: Chunk) -> tuple[list[str], list[int], int]:
    """What BM25 needs of a chunk, as rag/index/lexical.Lexical tokenizes it (an empty chunk counts as one token)."""
    toks = text.tokens(f"{c.title} {c.heading} {c.text}")
    counts = Counter(toks)
    return list(counts), list(counts.values()), max(1, len(toks))


def _clean(s: str) -> str:
    return s.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


class PgGeneration:
    """One committed generation: chunk metadata cached in this process (rebuildable), searches in SQL."""

    def __init__(self, store: "PgStore", gid: int, manifest: dict, n_chunks: int, avgdl: float, docs: list[int],
                 rows: list[int], chunks: list[Chunk]):
        self.store, self.gid = store, gid
        self.id = str(gid)
        self.manifest = manifest
        self.n_chunks, self.avgdl = n_chunks, avgdl
        self.docs = docs
        self.rows = np.asarray(rows, dtype=np.int64)  # database id of each chunk, in reading order
        self.pos = {int(r): i for i, r in enumerate(rows)}
        self.chunks = chunks
        self.path = f"{redact(store.url)} (generation {gid})"
        self.exact = manifest.get("index_type", "auto") == "flat" or (
            manifest.get("index_type", "auto") == "auto" and n_chunks < FLAT_MAX)

    def dense(self, qv: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(qv, dtype=np.float32)
        with self.store.cursor() as cur:
            if self.exact:
                cur.execute("SET LOCAL enable_indexscan = off")
            else:
                cur.execute(f"SET LOCAL hnsw.ef_search = {int(max(HNSW_EF_SEARCH, depth))}")
                cur.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cur.execute(
                "SELECT id, -(embedding <#> %s) FROM rag_chunks WHERE document = ANY(%s::bigint[])"
                " ORDER BY embedding <#> %s LIMIT %s", (q, self.docs, q, int(depth)))
            rows = cur.fetchall()
        hits = sorted(((float(s), self.pos[int(i)]) for i, s in rows if int(i) in self.pos), key=lambda x: (-x[0], x[1]))
        return (np.asarray([s for s, _ in hits], dtype=np.float32), np.asarray([p for _, p in hits], dtype=np.int64))

    def lexical(self, query: str) -> np.ndarray:
        scores = np.zeros(len(self.chunks), dtype=np.float32)
        terms = text.tokens(query)
        if not terms or not self.chunks:
            return scores
        with self.store.cursor() as cur:
            cur.execute(LEXICAL_SQL, {"terms": terms, "docs": self.docs, "n": float(self.n_chunks), "k1": BM25_K1,
                                      "b": BM25_B, "avgdl": float(self.avgdl)})
            for i, s in cur.fetchall():
                if (p := self.pos.get(int(i))) is not None:
                    scores[p] = s
        return scores

    def vectors_at(self, positions) -> np.ndarray:
        ids = [int(self.rows[p]) for p in positions]
        with self.store.cursor() as cur:
            cur.execute("SELECT id, embedding FROM rag_chunks WHERE id = ANY(%s::bigint[])", (ids,))
            found = {int(i): np.asarray(getattr(v, "to_numpy", lambda: v)(), dtype=np.float32) for i, v in cur.fetchall()}
        return np.stack([found[i] for i in ids]) if ids else np.zeros((0, 0), np.float32)

    def file_chunks(self, source: str) -> tuple[list[Chunk], np.ndarray]:
        positions = [i for i, c in enumerate(self.chunks) if c.source == source]
        return [self.chunks[i] for i in positions], self.vectors_at(positions)


class PgStore:
    """A PostgreSQL database as the index store; one reader connection per process (serialized by a lock)."""

    _open: dict[str, "PgStore"] = {}
    _open_lock = threading.Lock()

    def __init__(self, url: str):
        self.url = url
        self._conn = None
        self._lock = threading.RLock()
        self._writer = None  # (connection, base generation) while this process holds the build lock
        self._registered = False  # pgvector's types known to the reader connection

    @classmethod
    def connect(cls, url: str) -> "PgStore":
        """The store for `url`, one per process; fails at once (IndexStoreError) when the server is unreachable."""
        with cls._open_lock:
            store = cls._open.get(url)
            if store is None:
                store = cls._open[url] = cls(url)
        store._connection()
        return store

    def _connection(self):
        import psycopg

        with self._lock:
            if self._conn is not None and not self._conn.closed:
                try:
                    if self._conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                        return self._conn
                except psycopg.Error:
                    pass
                self._conn.close()
            self._conn = _connect(self.url)
            self._registered = False
            return self._conn

    @contextmanager
    def cursor(self):
        """A cursor inside a transaction on the reader connection. A connection the server dropped fails this
        one call (IndexStoreError) and is opened anew by the next."""
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.Error as e:
                if conn.broken or conn.closed:
                    self._conn = None
                raise _store_error(e, self.url) from None

    def current_id(self) -> str | None:
        import psycopg

        try:
            with self.cursor() as cur:
                cur.execute("SELECT generation FROM rag_state WHERE id = 1")
                row = cur.fetchone()
        except IndexStoreError as e:
            if "rag_state" in str(e) and "does not exist" in str(e):
                return None
            raise
        except psycopg.Error as e:
            raise _store_error(e, self.url) from None
        return str(row[0]) if row and row[0] is not None else None

    def open(self) -> PgGeneration | None:
        """The live generation, read in one snapshot; no lock: a build never blocks this."""
        from pgvector.psycopg import register_vector

        try:
            with self.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("SELECT to_regclass('rag_state') IS NOT NULL")
                if not cur.fetchone()[0]:
                    return None
                if not self._registered:
                    register_vector(cur.connection)
                    self._registered = True
                cur.execute("SELECT g.id, g.manifest, g.n_chunks, g.avgdl FROM rag_state s"
                            " JOIN rag_generations g ON g.id = s.generation WHERE s.id = 1")
                row = cur.fetchone()
                if row is None:
                    return None
                gid, manifest, n_chunks, avgdl = row
                cur.execute("SELECT document FROM rag_generation_documents WHERE generation = %s ORDER BY ord", (gid,))
                docs = [r[0] for r in cur.fetchall()]
                cols = ", ".join(f"c.{name}" for name in CHUNK_COLUMNS)
                cur.execute(f"SELECT c.id, {cols} FROM rag_generation_documents gd JOIN rag_chunks c"
                            " ON c.document = gd.document WHERE gd.generation = %s ORDER BY gd.ord, c.ord", (gid,))
                rows, chunks = [], []
                for r in cur:
                    rows.append(r[0])
                    chunks.append(Chunk(**{"id": r[1], **dict(zip(CHUNK_COLUMNS[1:], r[2:]))}))
        except IndexStoreError:
            raise
        if len(chunks) != n_chunks:
            raise IndexStoreError(f"generation {gid} in {redact(self.url)} is inconsistent; run `rag index --rebuild`")
        return PgGeneration(self, gid, manifest, n_chunks, avgdl, docs, rows, chunks)

    # ---- writers -----------------------------------------------------------------------------------

    @contextmanager
    def writer(self, wait: bool = True):
        """The build lock: a session advisory lock on a connection of its own. wait=False fails at once when
        another build holds it; a killed holder's lock goes with its connection."""
        conn = _connect(self.url)
        try:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            elif not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                raise IndexStoreError(f"another build holds the lock on {redact(self.url)}; "
                                      "run it again when that build has finished")
            log.info("store lock taken on %s", redact(self.url))
            self._writer = (conn, self.current_id())
            yield
        finally:
            self._writer = None
            conn.close()  # closing the session releases the advisory lock

    def _ensure_schema(self, conn, dim: int) -> None:
        from pgvector.psycopg import register_vector

        exists = conn.execute("SELECT to_regclass('rag_state') IS NOT NULL").fetchone()[0]
        if not exists:
            with conn.transaction():
                conn.execute(SCHEMA.format(dim=int(dim), m=HNSW_M, ef=HNSW_EF_CONSTRUCTION))
        register_vector(conn)
        have = conn.execute("SELECT dim FROM rag_state WHERE id = 1").fetchone()[0]
        if have != dim:
            raise IndexStoreError(f"{redact(self.url)} holds {have}-dimensional vectors, the embedding model makes {dim}; "
                                  "use another database or drop the rag_* tables")

    def commit(self, manifest: dict, parts: list[DocPart], old) -> PgGeneration:
        """Write the next generation in one transaction and make it live (call under writer())."""
        import psycopg
        from psycopg.types.json import Jsonb

        if self._writer is None:
            raise IndexStoreError("commit() outside writer()")
        conn, base = self._writer
        try:
            self._ensure_schema(conn, int(manifest["dim"]))
            kept = {}
            if old is not None:
                for ord_, (doc, source) in enumerate(conn.execute(
                        "SELECT document, source FROM rag_generation_documents WHERE generation = %s ORDER BY ord",
                        (old.gid,)).fetchall()):
                    kept[source] = doc
            with conn.transaction():
                gid = conn.execute("INSERT INTO rag_generations (manifest) VALUES (%s) RETURNING id",
                                   (Jsonb(manifest),)).fetchone()[0]
                members = []
                for part in parts:
                    if part.chunks is None:
                        if part.source not in kept:
                            raise IndexStoreError(f"{part.source} is not in the live generation to be kept")
                        members.append((part.source, kept[part.source]))
                        continue
                    sha = manifest.get("files", {}).get(part.source, {}).get("sha256", "")
                    doc = conn.execute("INSERT INTO rag_documents (source, sha256, n_chunks) VALUES (%s, %s, %s)"
                                       " RETURNING id", (part.source, sha, len(part.chunks))).fetchone()[0]
                    self._copy_chunks(conn, doc, part.chunks, part.vectors)
                    members.append((part.source, doc))
                checkpoint("chunks")
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO rag_generation_documents (generation, ord, document, source)"
                                    " VALUES (%s, %s, %s, %s)",
                                    [(gid, i, doc, source) for i, (source, doc) in enumerate(members)])
                n, avgdl = conn.execute(
                    "SELECT count(*), coalesce(avg(c.dl), 1) FROM rag_generation_documents gd"
                    " JOIN rag_chunks c ON c.document = gd.document WHERE gd.generation = %s", (gid,)).fetchone()
                conn.execute("UPDATE rag_generations SET n_chunks = %s, avgdl = %s WHERE id = %s", (n, avgdl, gid))
                live = conn.execute("SELECT generation FROM rag_state WHERE id = 1 FOR UPDATE").fetchone()[0]
                if (str(live) if live is not None else None) != base:
                    raise IndexStoreError(f"another build made generation {live} live while this one ran; "
                                          "nothing was written, run it again")
                conn.execute("UPDATE rag_state SET generation = %s WHERE id = 1", (gid,))
                checkpoint("commit")
            self._collect(conn, gid)
        except psycopg.Error as e:
            raise _store_error(e, self.url) from None
        self._writer = (conn, str(gid))
        log.info("generation %s is live in %s", gid, redact(self.url))
        return self.open()

    def _copy_chunks(self, conn, doc: int, chunks: list[Chunk], vectors: np.ndarray) -> None:
        types = ["int8", "int4", "text", "text", "text", "text", "text", "int4", "int4", "int4", "int4", "text",
                 "text", "int4", "text", "int4", "text[]", "int4[]", "int4", "vector"]
        cols = ", ".join(("document", "ord", *CHUNK_COLUMNS, "terms", "tfs", "dl", "embedding"))
        with conn.cursor() as cur, cur.copy(f"COPY rag_chunks ({cols}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for ord_, (c, v) in enumerate(zip(chunks, vectors)):
                terms, tfs, dl = term_counts(c)
                copy.write_row((doc, ord_, _clean(c.id), _clean(c.source), _clean(c.title), _clean(c.heading),
                                _clean(c.text), c.start_line, c.end_line, c.start_char, c.end_char, c.hash, c.doc_sha,
                                c.paragraph, c.kind, c.page, terms, tfs, dl, np.asarray(v, dtype=np.float32)))

    def _collect(self, conn, live: int) -> None:
        """Drop all but the last KEEP_GENERATIONS generations, and the document versions no generation uses."""
        with conn.transaction():
            conn.execute("DELETE FROM rag_generations WHERE id NOT IN"
                         " (SELECT id FROM rag_generations WHERE id <= %s ORDER BY id DESC LIMIT %s)",
                         (live, KEEP_GENERATIONS))
            conn.execute("DELETE FROM rag_documents d WHERE NOT EXISTS"
                         " (SELECT 1 FROM rag_generation_documents gd WHERE gd.document = d.id)")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
