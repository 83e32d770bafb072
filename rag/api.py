"""OpenAI-compatible endpoints over the chat's own answering queue: `GET /v1/models`, `POST /v1/chat/completions`.

A thin shell over Pipeline.answer(), so any OpenAI client (the `openai` package, chat front ends, curl) can ask:
- the last user message is the question; earlier user/assistant turns are the conversation history;
- the reply's `content` is the answer with its [n] markers and a Sources list (file, lines or page, quote);
  the structured `citations` and the `refused` flag are extra fields of the response (and of the last chunk);
- errors use OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with fitting status codes.

The routes are served by the web chat's own server (ui/app.py); `service` is its App, which owns the one
model and the queue in front of it:
    service.admit(bounded=True) -> leave()   a place in the queue, or QueueFull / IndexRebuilding at once
    service.answer(question, history, cancel=event) -> Answer   waits for the model, honours `cancel`
    service.pipeline.settings                                    limits (max_question_chars)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from .answer import normalize_question
from .errors import Cancelled, IndexRebuilding, InputError, ModelError, QueueFull, RagError
from .types import Answer

log = logging.getLogger("rag.api")

MODEL_ID = "rag-articles"  # the served folder in /v1/models; named collections follow, by name (any other name: the folder)
QUOTE_CHARS = 240  # the Sources list quotes this much; the structured citations carry the whole sentence
POLL_S = 0.5  # how often a waiting request checks that its client is still there (and sends a keep-alive)
SOURCES_HEADING = "Sources:"


# ---- the reply's text ---------------------------------------------------------------------------

def format_content(answer: Answer) -> str:
    """The answer, its [n] markers and a short Sources list: what a chat client shows."""
    if answer.refused or not answer.citations:
        return answer.answer
    text = answer.answer
    if not re.search(r"\[\d+\]", text):  # an answer may carry its markers already, beside the sentences they mark
        text += " " + " ".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))
    lines = [text, "", SOURCES_HEADING]
    for n, c in enumerate(answer.citations, 1):
        quote = c.quote if len(c.quote) <= QUOTE_CHARS else c.quote[: QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
        lines.append(f"[{n}] {c.label()} “{quote}”")
    return "\n".join(lines)


def answer_text(content: str) -> str:
    """The answer inside a reply of ours that a client sends back as history, without the Sources list and the
    trailing markers: a follow-up borrows a short previous answer (a name) for its pronoun."""
    text = content.split(f"\n\n{SOURCES_HEADING}\n", 1)[0]
    return re.sub(r"(\s*\[\d+\])+\s*$", "", text).strip()


def _text(content) -> str:
    """A message's text: a string, or OpenAI's list of parts ({"type": "text", "text": ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if content is None:
        return ""
    raise InputError("a message's content must be text or a list of text parts")


def parse_messages(messages) -> tuple[str, list[tuple[str, str]]]:
    """(question, history): the last message is the question, earlier user/assistant pairs the history."""
    if not isinstance(messages, list) or not messages:
        raise InputError("'messages' must be a non-empty list")
    turns = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise InputError("each message needs a 'role' and a 'content'")
        turns.append((m["role"], _text(m.get("content"))))
    role, question = turns[-1]
    if role != "user":
        raise InputError("the last message must be the user's question")
    history, pending = [], None
    for role, text in turns[:-1]:  # system and tool messages are not part of the conversation here
        if role == "user":
            if pending is not None:
                history.append((pending, ""))
            pending = text
        elif role == "assistant" and pending is not None:
            history.append((pending, answer_text(text)))
            pending = None
    if pending is not None:
        history.append((pending, ""))
    return question, history


# ---- errors in OpenAI's shape -------------------------------------------------------------------

def error_response(status: int, message: str, type_: str, code: str, param: str | None = None, headers=None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _from_exception(e: Exception) -> JSONResponse:
    if isinstance(e, InputError):
        return error_response(400, str(e), "invalid_request_error", "invalid_question", "messages")
    if isinstance(e, QueueFull):
        return error_response(429, str(e), "rate_limit_error", "queue_full", headers={"Retry-After": "2"})
    if isinstance(e, IndexRebuilding):
        return error_response(503, str(e), "server_error", "index_rebuilding", headers={"Retry-After": "5"})
    if isinstance(e, ModelError):
        return error_response(502, str(e), "server_error", "model_error")
    if isinstance(e, RagError):
        return error_response(500, str(e), "server_error", type(e).__name__)
    log.error("API answer failed", exc_info=e)
    return error_response(500, f"unexpected {type(e).__name__}: {e}", "server_error", "internal_error")


# ---- the routes ---------------------------------------------------------------------------------

def router(service, api_key: str = "") -> APIRouter:
    """The /v1 routes. With `api_key` set, every request must carry `Authorization: Bearer <api_key>`."""
    routes = APIRouter(prefix="/v1")
    created = int(time.time())

    def unauthorized(request: Request) -> JSONResponse | None:
        if not api_key:
            return None
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode()):
            return None
        return error_response(401, "a valid API key is required: send 'Authorization: Bearer <RAG_API_KEY>'",
                              "invalid_request_error", "invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    @routes.get("/models")
    async def models(request: Request):
        if denied := unauthorized(request):
            return denied
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "rag"}
                                           for name in _collections(service)]}

    @routes.post("/chat/completions")
    async def chat_completions(request: Request):
        if denied := unauthorized(request):
            return denied
        try:
            body = await request.json()
        except ValueError:
            return error_response(400, "the request body is not JSON", "invalid_request_error", "invalid_json")
        if not isinstance(body, dict):
            return error_response(400, "the request body must be a JSON object", "invalid_request_error", "invalid_json")
        model = body.get("model") if isinstance(body.get("model"), str) else MODEL_ID
        try:
            question, history = parse_messages(body.get("messages"))
            limit = service.pipeline.settings.max_question_chars
            _, trimmed = normalize_question(question, limit)  # empty -> InputError
            if trimmed:
                raise InputError(f"the question is longer than {limit} characters")
            leave = service.admit(bounded=True)  # a full queue or a rebuild answers now, not after a wait
        except RagError as e:
            return _from_exception(e)

        cancel = threading.Event()

        collection = {"collection": model} if model in _collections(service)[1:] else {}  # the model names a collection

        def work() -> Answer:
            try:
                return service.answer(question, history, cancel=cancel, **collection)
            finally:
                leave()

        pending = _in_thread(work)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model}
        if body.get("stream"):
            return StreamingResponse(_events(pending, cancel, meta), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            while not (await asyncio.wait({pending}, timeout=POLL_S))[0]:
                if await request.is_disconnected():  # the client gave up: free the model for the next one
                    cancel.set()
            answer = pending.result()
        except Exception as e:
            return _from_exception(e)
        finally:
            cancel.set()  # a no-op once answered; stops the work if this handler itself was cancelled
        return {
            **meta, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format_content(answer)}, "finish_reason": "stop"}],
            **_extras(answer),
        }

    return routes


def _collections(service) -> list[str]:
    """The served folder (MODEL_ID) and the named collections, when the service has any."""
    names = getattr(service, "collection_names", None)
    return names() if callable(names) else [MODEL_ID]


def _extras(answer: Answer) -> dict:
    return {"citations": [c.to_dict() for c in answer.citations], "refused": answer.refused}


async def _events(pending: asyncio.Future, cancel: threading.Event, meta: dict) -> AsyncIterator[str]:
    """Server-sent events as OpenAI clients read them, ending with `data: [DONE]`.

    The content is sent once the answer is final: the pipeline may drop the model's words for the cited
    sentence when the articles do not support them, and a streamed reply cannot be taken back. Until then a
    comment line every POLL_S keeps the connection alive and finds a client that has gone: sending to it
    fails (or the server cancels this generator), and the `finally` stops the generation at the next token.
    """

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        payload = {**meta, "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        while not (await asyncio.wait({pending}, timeout=POLL_S))[0]:
            yield ": waiting for the model\n\n"
        try:
            answer = pending.result()
        except Cancelled:
            return
        except Exception as e:  # after the 200 header an error can only travel in the stream, in OpenAI's shape
            error = json.loads(_from_exception(e).body)
            yield f"data: {json.dumps(error, ensure_ascii=False)}\n\n"
            return
        yield chunk({"content": format_content(answer)})
        yield chunk({}, "stop", **_extras(answer))
        yield "data: [DONE]\n\n"
    finally:
        cancel.set()


def _in_thread(fn) -> asyncio.Future:
    """Run blocking `fn` on its own thread (not the event loop's small pool: a queued question may wait long)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result, error):
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(result)

    def target():
        try:
            result, error = fn(), None
        except Exception as e:
            result, error = None, e
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the server is shutting down: nobody is waiting

    threading.Thread(target=target, daemon=True, name="rag-api-answer").start()
    return future
