"""The HTTP protocol both servers speak (the chat's, which Gradio starts, and `rag api`'s uvicorn workers):
uvicorn's own, with what it lacks for a hostile client.

- **A header timeout.** uvicorn has none: `timeout_keep_alive` only closes a connection idle *between* requests
  and is reset by every byte, so a client that opens connections and trickles a request line (or sends nothing)
  holds them for ever. Here a request's head (request line and headers) must be complete within
  `header_timeout_s` of the connection opening or of its first byte; otherwise the client gets a 408 and the
  connection is closed. (The body has its own timeout, in the ASGI middleware: rag/serve/bounds.py.)
- **Malformed HTTP in OpenAI's error shape.** uvicorn answers a request it cannot parse (a Content-Length that is
  not a number, a bad header) with a plain-text 400; here it is the JSON error object every other refusal uses.

    protocol_class() -> the class to give uvicorn (`http=`): over httptools when installed, else over h11
    configure(header_timeout_s)   the timeout for the classes of this process (each `rag api` worker sets it)
    uvicorn_configs_bounded()     a context in which the server Gradio's launch() builds gets protocol_class()
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import contextmanager

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("rag.serve.protocol")

HEADER_TIMEOUT_S = 10.0  # a request line and headers take a few bytes; a real client sends them in one write


def error_bytes(status: int, reason: str, message: str, code: str) -> bytes:
    """A whole HTTP/1.1 response with OpenAI's error object, closing the connection (written straight to the
    socket: no ASGI app is running for this request)."""
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n")
    return head.encode("ascii") + body


MALFORMED = error_bytes(400, "Bad Request", "the request is not valid HTTP/1.1 (a malformed request line or header, "
                        "such as a Content-Length that is not a number)", "invalid_http")
HEAD_TOO_SLOW = error_bytes(408, "Request Timeout", "the request line and headers did not arrive in time",
                            "request_timeout")


class _HeaderDeadline:
    """Mixed into uvicorn's protocols: a timer that runs from the connection's opening (or, on a kept-alive
    connection, from the next request's first byte) until its head is complete."""

    header_timeout_s = HEADER_TIMEOUT_S
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc) -> None:
        self._disarm_head()
        super().connection_lost(exc)

    def _arm_head(self) -> None:
        if self._head_timer is None and self.header_timeout_s > 0:
            self._head_timer = asyncio.get_running_loop().call_later(self.header_timeout_s, self._head_too_slow)

    def _disarm_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection whose request head did not arrive within %g s", self.header_timeout_s)
            self.transport.write(HEAD_TOO_SLOW)
            self.transport.close()

    def send_400_response(self, msg: str) -> None:  # uvicorn's hook for a request it cannot parse
        self._disarm_head()
        if not self.transport.is_closing():
            self.transport.write(MALFORMED)
            self.transport.close()


class BoundedH11Protocol(_HeaderDeadline, H11Protocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # h11 leaves IDLE once a request's head is parsed, and comes back to it for the next request
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_head()
        else:
            self._disarm_head()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional for uvicorn
    HttpToolsProtocol = None

if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        def on_message_begin(self) -> None:  # the first byte of a request (the next one on a kept-alive connection)
            self._arm_head()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._disarm_head()
            super().on_headers_complete()


def protocol_class() -> type:
    """What uvicorn's `http="auto"` would pick, with the bounds above."""
    return BoundedHttpToolsProtocol if HttpToolsProtocol is not None else BoundedH11Protocol


def configure(header_timeout_s: float) -> None:
    """The header timeout for every connection this process accepts from now on."""
    _HeaderDeadline.header_timeout_s = header_timeout_s


@contextmanager
def uvicorn_configs_bounded():
    """While open, every uvicorn.Config made without an `http=` gets protocol_class(). Gradio's launch() builds its
    server's Config itself and has no way to pass one; this is the chat server's way to give it the bounds."""
    import uvicorn

    original = uvicorn.Config

    class Config(original):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("http", protocol_class())
            super().__init__(*args, **kwargs)

    uvicorn.Config = Config
    try:
        yield
    finally:
        uvicorn.Config = original
