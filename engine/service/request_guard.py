"""What every request meets before any endpoint runs (an ASGI middleware, outermost):

1. the token, checked from the headers alone, before a byte of the body is read (401 otherwise; constant time);
2. the declared body size against the route's limit (413 at once);
3. for every route but the upload, the whole body read here with a size limit (413, also for chunked bodies) and a
   deadline (408 for a client that stops sending or declares more than it sends); the endpoint gets the buffered
   body. The upload streams on to its endpoint, which bounds it the same way chunk by chunk.

Header timeouts (a client that never finishes its headers) live in ``http_protocol``.
"""

from __future__ import annotations

import asyncio
import hmac
import json

MAX_BODY_BYTES = 64 << 20  # JSON and .npy bodies
MAX_UPLOAD_BYTES = 8 << 30  # a splat upload
BODY_DEADLINE_S = 30.0  # a whole buffered body
CHUNK_IDLE_S = 30.0  # between two chunks of an upload
UPLOAD_SUFFIX = "/upload"


async def send_error(send, status: int, detail: str, close: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app, token: str, body_deadline_s: float = BODY_DEADLINE_S):
        self.app = app
        self.expected = token.encode()
        self.body_deadline_s = body_deadline_s

    def authorised(self, headers: dict[bytes, bytes]) -> bool:
        value = headers.get(b"authorization", b"")
        given = value[7:] if value.startswith(b"Bearer ") else b""
        return hmac.compare_digest(given, self.expected)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if not self.authorised(headers):
            return await send_error(send, 401, "missing or wrong token (send 'Authorization: Bearer <token>')", True)
        upload = scope["path"].endswith(UPLOAD_SUFFIX)
        limit = MAX_UPLOAD_BYTES if upload else MAX_BODY_BYTES
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await send_error(send, 413, f"request body larger than the limit of {limit} bytes", True)
        if upload:
            return await self.app(scope, receive, send)
        try:
            body = await asyncio.wait_for(_read_body(receive, limit), self.body_deadline_s)
        except _TooLarge:
            return await send_error(send, 413, f"request body larger than the limit of {limit} bytes", True)
        except TimeoutError:
            return await send_error(send, 408, f"the request body did not arrive within {self.body_deadline_s:g} s "
                                               "(or is shorter than its Content-Length)", True)  # fmt: skip
        except _Disconnected:
            return None
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect when the client goes

        return await self.app(scope, replay, send)


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def stream_chunks(receive, limit: int = MAX_UPLOAD_BYTES, idle_s: float = CHUNK_IDLE_S):
    """The chunks of a streamed body (the upload): TimeoutError after ``idle_s`` without data, BodyTooLarge past
    ``limit``, ConnectionAbortedError when the client goes."""
    size = 0
    while True:
        message = await asyncio.wait_for(receive(), idle_s)
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError("the client went away during the upload")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"upload larger than the limit of {limit} bytes")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


class BodyTooLarge(Exception):
    pass
