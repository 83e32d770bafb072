"""`rag api`: the OpenAI-compatible API (rag/serve/api.py) without the web chat, in one or several worker processes.

Each uvicorn worker is a stateless answering process: it opens the store's live generation (no lock, nothing
parsed), loads the embedding model, and reaches the language model in-process or on a model server (an
`openai:` line in models.txt); everything it holds can be rebuilt from the store. Several workers, on one
machine or many behind a load balancer, share one PostgreSQL store (RAG_STORE=postgresql://...) and one model
server. A worker never builds the index: `rag index --store URL` does, and the workers follow the generation it
makes live.
"""

from __future__ import annotations

import logging
import ipaddress
import os

log = logging.getLogger("rag.serve.apiserver")

APP_HOOKS: list = []  # test-only seam (tests/seams/sitecustomize.py): callables given each worker's app; empty in use


def create_app():
    """The ASGI app of one worker (uvicorn's factory): settings from the environment (RAG_*)."""
    from fastapi import FastAPI

    from rag.serve import api
    from rag.engine.pipeline import Pipeline
    from rag.config import Settings
    from rag.errors import IndexStoreError
    from rag.index.build import current_report
    from rag.serve.service import AnswerService
    from rag.index.backends import open_store
    from rag.serve import protocol
    from rag.serve.bounds import Bounds, Limits

    settings = Settings.from_env()
    store = open_store(settings)
    data = store.open()  # lock-free; a worker serves what is live and never writes
    if data is None:
        raise IndexStoreError(f"no index in {store.url}: run `rag index` first")
    pipeline = Pipeline(settings, index=(data, current_report(data)))
    pipeline.warm_up()
    service = AnswerService(pipeline)  # the served folder and every registered collection
    app = FastAPI(title="rag", docs_url=None, redoc_url=None, openapi_url=None)
    # every route bounded (size, time; errors in OpenAI's shape, 404 and 405 included): rag/serve/bounds.py
    app.add_middleware(Bounds, limits=Limits(settings.api_max_body_bytes, settings.http_body_timeout_s, api_prefix=""))
    protocol.configure(settings.http_header_timeout_s)  # this worker's connections (a spawned worker starts afresh)
    for hook in APP_HOOKS:
        hook(app)
    app.include_router(api.router(service, os.environ.get("RAG_API_KEY", "")))
    app.state.service = service

    @app.get("/healthz")
    def healthz():
        return {"pid": os.getpid(), **service.status()}

    log.info("worker %d serving generation %s of %s", os.getpid(), data.id, store.url)
    return app


def serve(host: str, port: int, workers: int, log_level: str = "warning") -> None:
    import uvicorn

    from rag.serve import protocol

    # http=: uvicorn's protocol with a header timeout and malformed requests answered in JSON (rag/serve/protocol.py)
    uvicorn.run("rag.serve.apiserver:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, timeout_graceful_shutdown=5, http=protocol.protocol_class())


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
