"""Request bodies as bounded byte streams: the ASGI receive channel read chunk by chunk, gzip
decoded on the fly, and every limit checked on the bytes as they arrive, so neither a huge body nor
a gzip bomb is ever held in memory."""

import asyncio
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from app.errors import FieldError, GatewayError

Receive = Callable[[], Awaitable[Any]]
SUPPORTED_ENCODINGS = ("gzip", "identity")
_INFLATE_STEP = 1024 * 1024  # decompressed bytes produced per step: bounds one step's memory


class UploadInterrupted(Exception):
    """The body did not end: the client went away, or stopped sending."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def body_too_large(limit: int, what: str = "request body") -> GatewayError:
    message = (
        f"The {what} is larger than this endpoint accepts ({limit:,} bytes"
        f"{', decompressed' if what != 'request body' else ''}); split it into smaller requests."
    )
    return GatewayError(
        "body_too_large", message, kind="too_large", errors=[FieldError("body_too_large", message)]
    )


def content_encoding(headers: Any) -> str:
    """The body's encoding; anything but gzip or identity is a 415 naming what is accepted."""
    encoding = str(headers.get("content-encoding", "identity")).strip().lower() or "identity"
    if encoding not in SUPPORTED_ENCODINGS:
        message = (
            f"Content-Encoding {encoding!r} is not supported: send the body uncompressed or "
            "gzip-compressed (Content-Encoding: gzip)."
        )
        raise GatewayError(
            "unsupported_content_encoding",
            message,
            kind="unsupported_media_type",
            errors=[FieldError("unsupported_content_encoding", message, ("Content-Encoding",))],
        )
    return encoding


async def received_chunks(
    receive: Receive, limit: int, idle_timeout: float
) -> AsyncIterator[bytes]:
    """The body as it arrives on the wire, at most `limit` bytes, each chunk within
    `idle_timeout` seconds of the previous one."""
    total = 0
    while True:
        try:
            async with asyncio.timeout(idle_timeout):  # no task per chunk, unlike wait_for
                message = await receive()
        except TimeoutError:
            raise UploadInterrupted(f"no data arrived for {idle_timeout:g} s") from None
        if message["type"] == "http.disconnect":
            raise UploadInterrupted("the client closed the connection")
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise body_too_large(limit)
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def decoded_chunks(
    receive: Receive, encoding: str, limit: int, idle_timeout: float
) -> AsyncIterator[bytes]:
    """The body decoded (gzip inflated), at most `limit` bytes after decoding."""
    if encoding == "identity":
        async for chunk in received_chunks(receive, limit, idle_timeout):
            yield chunk
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    async for chunk in received_chunks(receive, limit, idle_timeout):
        for piece in _inflate(inflater, chunk):
            total += len(piece)
            if total > limit:
                raise body_too_large(limit, "decompressed request body")
            yield piece
    if not inflater.eof:
        raise _bad_gzip("the compressed stream ends early")


def _inflate(inflater: "zlib._Decompress", chunk: bytes) -> Iterator[bytes]:
    try:
        while True:
            piece = inflater.decompress(chunk, _INFLATE_STEP)
            if piece:
                yield piece
            chunk = inflater.unconsumed_tail
            if not chunk:
                return
    except zlib.error as error:
        raise _bad_gzip(str(error)) from None


def _bad_gzip(reason: str) -> GatewayError:
    message = f"The body is not valid gzip ({reason})."
    return GatewayError(
        "malformed_gzip", message, errors=[FieldError("malformed_gzip", message, ())]
    )
