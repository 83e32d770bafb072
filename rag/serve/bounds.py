"""One bound for every HTTP route a server exposes: an ASGI middleware around the whole app.

Both servers wrap their app in it: the chat's (Gradio's routes, the page's uploads and the OpenAI-compatible
/v1 routes on one port) and `rag api`'s uvicorn workers. Before a route sees a request:

- **Size.** A body over the route's limit (`api_max_body_bytes`; the page's upload route: `max_upload_mb`) is
  refused with 413 by its Content-Length before a byte is read, or as it arrives when it has none. No route
  ever holds more than its limit: a small body is read here, whole, and handed on; an upload's is counted as
  the route reads it, chunk by chunk, and cut off past the limit.
- **Time.** A body that stops arriving (`http_body_timeout_s` with no byte), or that arrives too slowly to end
  within that time plus a second per MIN_BODY_RATE bytes, is refused with 408. (A request's head has its own
  timeout, in the protocol: rag/serve/protocol.py.)
- **Refusals a client can read.** Every refusal is OpenAI's error object, sent with `Connection: close`. A
  client that writes its whole body before it reads (Python's urllib and http.client do) would see the
  connection reset if the server closed with the body unread, so the announced body is first read and dropped,
  up to DRAIN_MAX_BYTES; it is never kept.
- **OpenAI's shape for the API's 404 and 405**, under `api_prefix`: `{"error": {...}}`, not FastAPI's
  `{"detail": ...}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

log = logging.getLogger("rag.serve.bounds")

DRAIN_MAX_BYTES = 64 * 2**20  # a refused body up to this size is read and dropped so that the client reads the
#                                error (urllib sends a 50 MB question whole first); past it the connection is cut
MIN_BODY_RATE = 2**20  # bytes per second: a body of n bytes may take http_body_timeout_s + n / MIN_BODY_RATE
HELD_STATUSES = (404, 405)  # the API's answers that FastAPI words as {"detail": ...}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int  # every route but the streamed ones
    body_timeout_s: float  # the longest wait for the next piece of a body
    streamed: tuple[tuple[str, int], ...] = ()  # (path, limit): routes that read their (large) body as it arrives
    api_prefix: str | None = "/v1"  # 404 and 405 under it in OpenAI's shape ("" = every path; None = none)


class Refused(Exception):
    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.code = status, code


def error_body(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                 "code": code}}).encode()


class Bounds:
    """ASGI middleware: `Bounds(app, limits)`."""

    def __init__(self, app, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = _Body(scope, receive, self.limits)
        send = self._api_errors(scope, send)
        try:
            body.check_declared()
            if body.streamed:
                return await self._streamed(scope, body, send)
            chunks = await body.read_all()
        except Refused as e:
            return await self._refuse(body, send, e)
        await self.app(scope, _replay(chunks, receive), send)

    async def _streamed(self, scope, body: "_Body", send):
        """A large body (an upload): the route reads it through `body.receive`, which counts and times it; when
        it is refused the route is told the client left, and this answers in its place."""
        started = False

        async def guarded_send(message):
            nonlocal started
            if body.refused is not None:
                return  # the route's own reply to a "disconnect": the refusal goes instead
            started = True
            await send(message)

        try:
            await self.app(scope, body.receive, guarded_send)
        except Exception:
            if body.refused is None:
                raise
        if body.refused is not None and not started:
            await self._refuse(body, send, body.refused)

    async def _refuse(self, body: "_Body", send, e: Refused):
        if e.status == 413:
            await body.drain()
        log.info("refused %s %s: %s", body.scope.get("method"), body.scope.get("path"), e)
        payload = error_body(str(e), e.code)
        await send({"type": "http.response.start", "status": e.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})

    def _api_errors(self, scope, send):
        """`send`, rewriting a 404 or 405 under the API's prefix into OpenAI's shape (its headers, such as a
        405's Allow, kept)."""
        prefix, path = self.limits.api_prefix, scope.get("path", "")
        if prefix is None or (prefix and path != prefix and not path.startswith(prefix + "/")):
            return send
        held: dict = {}

        async def rewriting(message):
            if message["type"] == "http.response.start" and message["status"] in HELD_STATUSES:
                held["start"] = message
                return
            if "start" not in held:
                return await send(message)
            if message.get("more_body"):
                return  # FastAPI's words, dropped
            start = held.pop("start")
            status = start["status"]
            text = (f"no route {scope.get('method')} {scope.get('path')}" if status == 404 else
                    f"{scope.get('path')} does not take {scope.get('method')}")
            payload = error_body(text[:300], "not_found" if status == 404 else "method_not_allowed")
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type",
                                                                                      b"content-encoding")]
            await send({**start, "headers": headers + [(b"content-type", b"application/json"),
                                                      (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})

        return rewriting


class _Body:
    """One request's body, as the bounds see it: its declared length, what has arrived, and the clock."""

    def __init__(self, scope, receive, limits: Limits):
        self.scope, self._receive, self.limits = scope, receive, limits
        path = scope.get("path", "")
        streamed = dict(limits.streamed)
        self.streamed = path in streamed
        self.limit = streamed.get(path, limits.max_body_bytes)
        headers = scope.get("headers", [])
        lengths = [v for k, v in headers if k == b"content-length"]
        self.declared: int | None = None
        self.bad_length = len(set(lengths)) > 1 or any(not v.strip().isdigit() for v in lengths)
        if lengths and not self.bad_length:
            self.declared = int(lengths[0])
        self.expects_continue = any(k == b"expect" and v.lower() == b"100-continue" for k, v in headers)
        self.received = 0
        self.done = False  # the whole body has arrived
        self.refused: Refused | None = None
        self.started = time.monotonic()

    def check_declared(self) -> None:
        if self.bad_length:
            self.done = True  # nothing sensible to drain
            raise Refused(400, "the Content-Length header is not one number", "invalid_request")
        if self.declared is not None and self.declared > self.limit:
            raise self._too_large()

    def _too_large(self) -> Refused:
        return Refused(413, f"the request body is larger than {self.limit} bytes", "request_too_large")

    def _deadline(self) -> float:
        expected = self.declared if self.declared is not None else max(self.received, self.limit)
        return self.started + self.limits.body_timeout_s + expected / MIN_BODY_RATE

    async def _next(self) -> dict:
        """The next message of the body, within the timeouts (Refused 408 otherwise)."""
        wait = min(self.limits.body_timeout_s, self._deadline() - time.monotonic())
        try:
            if wait <= 0:
                raise asyncio.TimeoutError
            message = await asyncio.wait_for(self._receive(), wait)
        except asyncio.TimeoutError:
            self.done = True  # a stalled body is not drained: it would stall the drain too
            raise Refused(408, f"the request body did not arrive within {self.limits.body_timeout_s:g} s",
                          "request_timeout") from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.done = not message.get("more_body", False)
        else:
            self.done = True  # the client went away
        return message

    async def read_all(self) -> list[dict]:
        """The whole body, as the messages that carried it (at most `limit` bytes are ever held)."""
        messages = []
        while not self.done:
            message = await self._next()
            if self.received > self.limit:
                raise self._too_large()
            messages.append(message)
        return messages

    async def receive(self) -> dict:
        """The route's `receive` for a streamed body: counted and timed; a refusal reads as the client leaving."""
        if self.refused is not None:
            return {"type": "http.disconnect"}
        if self.done:
            return await self._receive()  # after the body: the wait for a disconnect, untimed
        try:
            message = await self._next()
            if self.received > self.limit:
                raise self._too_large()
        except Refused as e:
            self.refused = e
            return {"type": "http.disconnect"}
        return message

    async def drain(self) -> None:
        """Read and drop what is left of a refused body, up to DRAIN_MAX_BYTES, so that the error reaches a client
        that sends its whole body before reading. Not when the client waits for "100 Continue" (it has sent
        nothing), nor past the bound, nor once the body stalls."""
        if self.expects_continue and self.received == 0:
            return
        if self.declared is not None and self.declared > DRAIN_MAX_BYTES:
            return
        try:
            while not self.done and self.received <= DRAIN_MAX_BYTES:
                await self._next()
        except Refused:
            pass


def _replay(messages: list[dict], receive):
    """A `receive` that hands the route the body already read, then waits on the real one (for a disconnect)."""
    pending = list(messages) or [{"type": "http.request", "body": b"", "more_body": False}]

    async def replayed():
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
