"""Test-only faults, for the processes the tests start with PYTHONPATH=tests/seams (tests/seams/__init__ has
none: this folder is only ever a path entry). Python imports this module at start-up; it turns the RAG_FAULT_*
variables into faults through the seams production code leaves for them (empty lists of hooks in use):

    RAG_FAULT_PAUSE=<stage>:<seconds>   a build stops there (rag.index.store.CHECKPOINTS): "chunks", "commit"
    RAG_FAULT_DROP=<n>                  an API worker fails every n-th question with a bare 500
                                        (rag.serve.apiserver.APP_HOOKS), as a server that loses requests would
"""

import itertools
import os
import sys
import time


def pause_at(want: str, seconds: float):
    def hook(stage: str) -> None:
        if stage == want:
            print(f"fault injection: paused at {stage}", file=sys.stderr, flush=True)
            time.sleep(seconds)

    return hook


def drop_every(n: int):
    def hook(app) -> None:
        from fastapi import Request
        from fastapi.responses import PlainTextResponse

        count = itertools.count(1)

        @app.middleware("http")
        async def dropping(request: Request, call_next):
            if request.url.path.endswith("/chat/completions") and next(count) % n == 0:
                return PlainTextResponse("dropped", status_code=500)
            return await call_next(request)

    return hook


def _install() -> None:
    want, _, seconds = os.environ.get("RAG_FAULT_PAUSE", "").partition(":")
    if want:
        from rag.index import store

        store.CHECKPOINTS.append(pause_at(want, float(seconds or 30)))
    if n := int(os.environ.get("RAG_FAULT_DROP", "0") or 0):
        from rag.serve import apiserver

        apiserver.APP_HOOKS.append(drop_every(n))


_install()
