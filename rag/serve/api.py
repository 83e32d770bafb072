"""OpenAI-compatible endpoints over the chat's own answering queue: `GET /v1/models`, `POST /v1/chat/completions`.

A thin shell over the answering service (rag/serve/service.py), so any OpenAI client (the `openai` package, chat front ends, curl) can ask:
- the last user message is the question; earlier user/assistant turns are the conversation history;
- the reply's `content` is the answer with its [n] markers and a Sources list (file, lines or page, quote);
  the structured `citations` and the `refused` flag are extra fields of the response (and of the last chunk);
- errors use OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with fitting status codes;
- every input is bounded before work is done on it (body size, messages, history, question length), and the
  work a request costs (JSON, checks, answering) runs off the event loop: one request never stalls another.

The routes are served by the web chat's own server (ui/app.py), or alone by `rag api --workers N`
(rag/serve/apiserver.py); `service` is the answering service, which owns the collections, the one model and the
queue in front of it:
    service.names()                          the collections; `model` names one (MODEL_ID or any other: the folder)
    service.admit(bounded=True) -> leave()   a place in the queue, or QueueFull at once
    service.answer(question, history, cancel=event, collection=name) -> Answer   waits for the model
    service.settings                         limits (max_question_chars)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag.engine.pipeline import normalize_question
from rag.errors import Cancelled, IndexRebuilding, InputError, ModelError, QueueFull, RagError
from rag.serve import params, render
from rag.serve.params import RequestError
from rag.types import Answer

log = logging.getLogger("rag.serve.api")

MODEL_ID = "rag-documents"  # the served folder in /v1/models; named collections follow, by name (any other name: the folder)
POLL_S = 0.5  # how often a waiting request checks that its client is still there (and sends a keep-alive)


# ---- the reply's text ---------------------------------------------------------------------------

def format_content(answer: Answer) -> str:
    """The reply's content: what a chat client shows (rag/serve/render.py, without the engine's notes)."""
    return render.answer_text(answer, notes=False)


def _checked(value: str, param: str) -> str:
    """A string from the request that can be written back out: a lone surrogate ("\\ud800" in JSON) cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"'{param}' holds text that is not valid Unicode (a lone surrogate)", param) from None
    return value


def _text(content, param: str = "messages") -> str:
    """A message's text: a string, or OpenAI's list of parts ({"type": "text", "text": ...})."""
    if isinstance(content, str):
        return _checked(content, param)
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict):
                raise RequestError("a message's content parts must be objects", param)
            if part.get("type") == "text":
                if not isinstance(part.get("text"), str):
                    raise RequestError("a text part's 'text' must be a string", param)
                texts.append(_checked(part["text"], param))
        return " ".join(texts)
    if content is None:
        return ""
    raise RequestError("a message's content must be text or a list of text parts", param)


def parse_messages(messages, max_messages: int | None = None) -> tuple[str, list[tuple[str, str]]]:
    """(question, history): the last message is the question, earlier user/assistant pairs the history."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list", "messages")
    if max_messages is not None and len(messages) > max_messages:
        raise RequestError(f"too many messages: {len(messages)} (limit {max_messages})", "messages")
    turns = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError("each message needs a 'role' and a 'content'", "messages")
        turns.append((_checked(m["role"], "messages"), _text(m.get("content"))))
    role, question = turns[-1]
    if role != "user":
        raise RequestError("the last message must be the user's question", "messages")
    history, pending = [], None
    for role, text in turns[:-1]:  # system and tool messages are not part of the conversation here
        if role == "user":
            if pending is not None:
                history.append((pending, ""))
            pending = text
        elif role == "assistant" and pending is not None:
            history.append((pending, render.answer_only(text)))
            pending = None
    if pending is not None:
        history.append((pending, ""))
    return question, history


def cap_history(history, turns: int, max_chars: int) -> list[tuple[str, str]]:
    """What a follow-up reads of the conversation: the last `turns` turns, each side cut to `max_chars`."""
    return [(q[:max_chars], a[:max_chars]) for q, a in list(history)[-turns:]] if turns > 0 else []


@dataclass
class ChatRequest:
    question: str
    history: list[tuple[str, str]]
    model: str
    stream: bool


def read_request(raw: bytes, settings) -> ChatRequest:
    """The request body, checked against every bound before any work on its contents. Blocking (JSON decoding,
    the walk over the messages): the route runs it on a worker thread. Raises InputError (-> 400)."""
    try:
        body = params.finite_json(raw)  # NaN and Infinity are not JSON, whatever Python's json accepts
    except RecursionError:
        raise RequestError("the request body is nested too deeply", None, "invalid_json") from None
    except ValueError:  # also bytes that are not UTF-8
        raise RequestError("the request body is not JSON", None, "invalid_json") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object", None, "invalid_json")
    model = body.get("model")
    if model is None:
        model = MODEL_ID
    elif not isinstance(model, str):
        raise RequestError("'model' must be a string", "model")
    stream = body.get("stream")
    if stream is None:
        stream = False
    elif not isinstance(stream, bool):
        raise RequestError("'stream' must be true or false (a JSON boolean)", "stream")
    params.check(body, settings)  # max_tokens, temperature, n, tools...: refused as OpenAI refuses them
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        raw_question = messages[-1].get("content")  # the length first, on the raw string, before anything else
        limit = settings.max_question_chars
        if isinstance(raw_question, str) and len(raw_question) > limit:
            raise RequestError(f"the question is longer than {limit} characters", "messages")
    question, history = parse_messages(messages, settings.api_max_messages)
    size = sum(len(q) + len(a) for q, a in history)
    if size > settings.api_max_history_chars:
        raise RequestError(f"the conversation before the question is {size} characters (limit "
                         f"{settings.api_max_history_chars})", "messages")
    limit = settings.max_question_chars
    if len(question) > limit:  # a question given as several text parts
        raise RequestError(f"the question is longer than {limit} characters", "messages")
    _, trimmed = normalize_question(question, limit)  # empty -> InputError
    if trimmed:
        raise RequestError(f"the question is longer than {limit} characters", "messages")
    return ChatRequest(question, cap_history(history, settings.history_turns, limit), _checked(model, "model"), stream)


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (TooLarge) as soon as its declared length or the bytes read pass `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestError("the Content-Length header is not a number", None, "invalid_request")
        if int(declared) > limit:
            raise TooLarge()
    parts, size = [], 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise TooLarge()
        parts.append(piece)
    return b"".join(parts)


# ---- errors in OpenAI's shape -------------------------------------------------------------------

def error_response(status: int, message: str, type_: str, code: str, param: str | None = None, headers=None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _from_exception(e: Exception) -> JSONResponse:
    if isinstance(e, RequestError):
        return error_response(400, str(e), "invalid_request_error", e.code, e.param)
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
                                           for name in model_ids(service)]}

    @routes.post("/chat/completions")
    async def chat_completions(request: Request):
        if denied := unauthorized(request):
            return denied
        try:
            return await _chat(request)
        except Exception as e:  # never a plain-text 500: whatever fails, the client reads OpenAI's error shape
            return _from_exception(e)

    async def _chat(request: Request):
        settings = service.settings
        try:
            raw = await read_body(request, settings.api_max_body_bytes)
        except TooLarge:
            return error_response(413, f"the request body is larger than {settings.api_max_body_bytes} bytes",
                                  "invalid_request_error", "request_too_large")
        try:
            asked = await anyio.to_thread.run_sync(read_request, raw, settings)  # JSON and checks: off the loop
            leave = service.admit(bounded=True)  # a full queue or a rebuild answers now, not after a wait
        except RagError as e:
            return _from_exception(e)

        cancel = threading.Event()

        collection = asked.model if asked.model in service.names() else None  # a collection's name; else the folder

        def work() -> Answer:
            try:
                return service.answer(asked.question, asked.history, cancel=cancel, collection=collection)
            finally:
                leave()

        pending = _in_thread(work)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": asked.model}
        if asked.stream:
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


def model_ids(service) -> list[str]:
    """What /v1/models lists: the served folder (as MODEL_ID), then every named collection."""
    return [MODEL_ID] + service.names()[1:]


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

    def error_event(e: Exception) -> str:
        return f"data: {json.dumps(json.loads(_from_exception(e).body), ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        while not (await asyncio.wait({pending}, timeout=POLL_S))[0]:
            yield ": waiting for the model\n\n"
        try:
            answer = pending.result()
        except Cancelled:
            return
        # after the 200 header an error can only travel in the stream, in OpenAI's shape: the answer's error,
        # or one in making the last events (each is made whole before any of it is sent)
        last = [chunk({"content": format_content(answer)}), chunk({}, "stop", **_extras(answer))]
        for event in last:
            yield event
        yield "data: [DONE]\n\n"
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except Exception as e:
        yield error_event(e)  # an unexpected error is logged, with its traceback, by _from_exception
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
