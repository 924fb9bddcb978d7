"""The portal's static files (portal/dist), served with the build's precompressed siblings.

`npm run build` writes `x.js.br` and `x.js.gz` next to every text file (portal/build/compress.js).
A request gets the best of them its Accept-Encoding allows (brotli, then gzip, then identity),
with `Content-Encoding`, `Vary: Accept-Encoding`, the original's `Content-Type` and a strong ETag
per representation, derived from its bytes (a rebuild leaves the ETags of unchanged files alone).
Vite's hashed files under assets/ never change, so they are cached for a year as immutable; every
other file (the HTML pages, GraphiQL's too) is revalidated on each use (`no-cache` + ETag).
"""

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

import anyio

ENCODINGS = (("br", ".br"), ("gzip", ".gz"))  # in the server's order of preference
HASHED_DIR = "assets"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
INDEX = "index.html"
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}
_ALIASES = {"x-gzip": "gzip"}
_IMPLICIT_IDENTITY = 0.0001


class NotAcceptable(Exception):
    """The request refuses identity and every encoding this file has (RFC 9110 §12.5.3)."""


@dataclass(frozen=True)
class Representation:
    """One file as it will be sent: which bytes, and the headers that describe them."""

    path: Path
    headers: dict[str, str]
    size: int
    etag: str


def locate(dist: Path, url_path: str) -> Path | None:
    """The file under `dist` a URL path (relative to /portal/) names, or None. Refuses `..`,
    hidden names, the compressed siblings themselves and anything resolving outside `dist`."""
    relative = url_path.lstrip("/")
    if relative == "" or relative.endswith("/"):
        relative += INDEX
    parts = PurePosixPath(relative).parts
    if any(part.startswith(".") or "\\" in part for part in parts):  # .., hidden, backslash
        return None
    if "\x00" in relative or any(relative.endswith(suffix) for _, suffix in ENCODINGS):
        return None
    root = dist.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / INDEX
    return candidate if candidate.is_file() else None


def accepted(header: str | None) -> dict[str, float]:
    """Accept-Encoding as {coding: q}; codings lower-cased, unparsable q-values read as 0."""
    if header is None:
        return {"identity": 1.0}  # no header: send the plain bytes, every client reads them
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, *parameters = (piece.strip() for piece in item.split(";"))
        if not coding:
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        coding = coding.lower()
        weights[_ALIASES.get(coding, coding)] = q
    return weights


def _weight(weights: dict[str, float], coding: str) -> float:
    if coding in weights:
        return weights[coding]
    if "*" in weights:
        return weights["*"]
    # Identity is acceptable unless refused, but any coding the client names is preferred to it.
    return _IMPLICIT_IDENTITY if coding == "identity" else 0.0


def choose(path: Path, accept_encoding: str | None) -> tuple[Path, str | None]:
    """The sibling to send and its Content-Encoding (None for identity)."""
    weights = accepted(accept_encoding)
    offers: list[tuple[float, int, Path, str | None]] = []
    for rank, (coding, suffix) in enumerate(ENCODINGS):
        sibling = path.with_name(path.name + suffix)
        if sibling.is_file():
            offers.append((_weight(weights, coding), len(ENCODINGS) - rank, sibling, coding))
    offers.append((_weight(weights, "identity"), 0, path, None))
    q, _, chosen, encoding = max(offers, key=lambda offer: (offer[0], offer[1]))
    if q <= 0:
        raise NotAcceptable(path.name)
    return chosen, encoding


def media_type(path: Path) -> str:
    known = _MEDIA_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def representation(dist: Path, path: Path, accept_encoding: str | None) -> Representation:
    chosen, coding = choose(path, accept_encoding)
    stat = chosen.stat()
    etag = f'"{content_digest(chosen, stat.st_mtime_ns, stat.st_size)}"'
    hashed = path.relative_to(dist.resolve()).parts[0] == HASHED_DIR
    headers = {
        "content-type": media_type(path),
        "cache-control": IMMUTABLE if hashed else REVALIDATE,
        "vary": "Accept-Encoding",
        "etag": etag,
        "x-content-type-options": "nosniff",
    }
    if coding:
        headers["content-encoding"] = coding
    return Representation(chosen, headers, stat.st_size, etag)


@lru_cache(maxsize=4096)
def content_digest(path: Path, mtime_ns: int, size: int) -> str:
    """A digest of the file's bytes, read once per (path, mtime, size): a rebuild that writes
    the same bytes again gets the same digest, and so the same ETag."""
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: a `W/` prefix does not matter (RFC 9110 §13.1.2)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


async def read(representation: Representation) -> bytes:
    return await anyio.Path(representation.path).read_bytes()
