"""The gateway serves the portal's files with the build's precompressed siblings.

Most tests run the real app against a small dist of their own (so each case is exact); the last
ones check the real portal/dist: every text file has siblings that decompress to it.
"""

import gzip
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from app.asgi import create_app
from app.settings import ROOT_DIR
from tests.conftest import make_settings

SCRIPT = b"export const answer = 42;\n" * 200
PAGE = b"<!doctype html><title>Portal</title>" + b"<p>hello</p>" * 100
BROTLI = b"brotli bytes stand-in"  # served as they are: the server never decodes its siblings
EXPLORER = b"<!doctype html><title>GraphiQL</title>" + b"<div id=graphiql></div>" * 40
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("portal-files")
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "assets" / "app-Ab12Cd34.js").write_bytes(SCRIPT)
    (dist / "assets" / "app-Ab12Cd34.js.gz").write_bytes(gzip.compress(SCRIPT))
    (dist / "assets" / "app-Ab12Cd34.js.br").write_bytes(BROTLI)
    (dist / "assets" / "logo-Ef56.png").write_bytes(b"\x89PNG\r\n\x1a\nnot compressible")
    (dist / "index.html").write_bytes(PAGE)
    (dist / "index.html.gz").write_bytes(gzip.compress(PAGE))
    (dist / "guide.html").write_bytes(PAGE)  # built without siblings: always identity
    (dist / "graphiql.html").write_bytes(EXPLORER)
    (dist / "graphiql.html.gz").write_bytes(gzip.compress(EXPLORER))
    (dist / "graphiql.html.br").write_bytes(BROTLI)
    (dist / ".built").write_text("")
    (root / "secret.txt").write_text("outside the portal")
    (dist / "escape.txt").symlink_to(root / "secret.txt")
    return dist


@pytest.fixture(scope="module")
def app(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    database = tmp_path_factory.mktemp("portal-files-db") / "gw.db"
    settings = make_settings(f"sqlite+aiosqlite:///{database}").model_copy(
        update={"portal_dist_dir": dist}
    )
    return create_app(settings)


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


async def fetch(app: Any, path: str, accept_encoding: str | None = None, **headers: str) -> Answer:
    """A GET through the app with the path exactly as written (no client clean-up of `..`)."""
    return await call(app, "GET", path, accept_encoding, **headers)


async def call(
    app: Any, method: str, path: str, accept_encoding: str | None = None, **headers: str
) -> Answer:
    """One request straight into the ASGI app, its path decoded the way an ASGI server does."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    if accept_encoding is not None:
        sent["accept-encoding"] = accept_encoding
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.encode(), value.encode()) for name, value in sent.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    started: dict[str, Any] = {}
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    answered = {name.decode().lower(): value.decode() for name, value in started["headers"]}
    return Answer(started["status"], answered, bytes(body))


# --- negotiation ---


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        ("gzip, deflate, br, zstd", "br"),  # what Chromium sends: brotli wins
        ("gzip", "gzip"),
        ("br;q=0.5, gzip;q=0.8", "gzip"),  # the client's q-values beat the server's preference
        ("br;q=0, gzip", "gzip"),
        ("BR", "br"),  # codings are case-insensitive
        ("x-gzip", "gzip"),
        ("*", "br"),
        ("*;q=0.1, identity;q=0.5", None),  # identity is preferred to anything the star covers
        ("identity", None),
        ("", None),  # an empty header: only identity is acceptable
        ("deflate", None),  # nothing we have: identity
        ("gzip;q=0, br;q=0", None),
        ("gzip;q=nonsense", None),  # an unparsable q-value refuses that coding
    ],
)
async def test_the_encoding_follows_accept_encoding(
    app: Any, accept_encoding: str, expected: str | None
) -> None:
    response = await fetch(app, "/portal/assets/app-Ab12Cd34.js", accept_encoding)
    assert response.status_code == 200, response.text
    assert response.headers.get("content-encoding") == expected
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["vary"] == "Accept-Encoding"
    body = {"br": BROTLI, "gzip": None, None: SCRIPT}[expected]
    if expected == "gzip":
        assert gzip.decompress(response.content) == SCRIPT
    else:
        assert response.content == body
    assert response.headers["content-length"] == str(len(response.content))


async def test_without_accept_encoding_the_plain_file_is_sent(app: Any) -> None:
    response = await fetch(app, "/portal/assets/app-Ab12Cd34.js")
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.content == SCRIPT


async def test_a_file_without_siblings_is_sent_as_identity(app: Any) -> None:
    response = await fetch(app, "/portal/guide.html", "br, gzip")
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == PAGE


async def test_the_page_falls_back_to_gzip_when_brotli_was_not_built(app: Any) -> None:
    response = await fetch(app, "/portal/", "br, gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(response.content) == PAGE


@pytest.mark.parametrize("accept_encoding", ["identity;q=0", "*;q=0", "br;q=0, identity;q=0"])
async def test_refusing_every_available_encoding_is_not_acceptable(
    app: Any, accept_encoding: str
) -> None:
    response = await fetch(app, "/portal/guide.html", accept_encoding)
    assert response.status_code == 406, response.text
    assert response.json()["error"]["code"] == "not_acceptable"


async def test_refusing_identity_still_gets_a_compressed_sibling(app: Any) -> None:
    response = await fetch(app, "/portal/assets/app-Ab12Cd34.js", "gzip, identity;q=0")
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"


# --- caching ---


async def test_hashed_assets_are_immutable_and_pages_are_revalidated(app: Any) -> None:
    asset = await fetch(app, "/portal/assets/app-Ab12Cd34.js", "gzip")
    assert asset.headers["cache-control"] == IMMUTABLE
    logo = await fetch(app, "/portal/assets/logo-Ef56.png", "gzip, br")
    assert logo.headers["cache-control"] == IMMUTABLE
    assert logo.headers["content-type"] == "image/png"
    assert "content-encoding" not in logo.headers
    page = await fetch(app, "/portal/", "gzip")
    assert page.headers["cache-control"] == "no-cache"


async def test_each_encoding_has_its_own_etag_and_a_match_answers_304(app: Any) -> None:
    brotli = await fetch(app, "/portal/assets/app-Ab12Cd34.js", "br")
    gzipped = await fetch(app, "/portal/assets/app-Ab12Cd34.js", "gzip")
    plain = await fetch(app, "/portal/assets/app-Ab12Cd34.js", "identity")
    etags = {brotli.headers["etag"], gzipped.headers["etag"], plain.headers["etag"]}
    assert len(etags) == 3, etags

    etag = gzipped.headers["etag"]
    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await fetch(
            app, "/portal/assets/app-Ab12Cd34.js", "gzip", if_none_match=if_none_match
        )
        assert again.status_code == 304, if_none_match
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["vary"] == "Accept-Encoding"
        assert again.headers["cache-control"] == IMMUTABLE

    # The gzip validator does not validate the brotli representation.
    other = await fetch(app, "/portal/assets/app-Ab12Cd34.js", "br", if_none_match=etag)
    assert other.status_code == 200 and other.content == BROTLI


def rebuild(path: Path, content: bytes) -> None:
    """Write the file again as a build does: new bytes or the same, always a later mtime."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_bytes(content)
    os.utime(path, ns=(before + 10**9, before + 10**9))


async def test_a_rebuild_keeps_the_etag_of_a_file_whose_bytes_did_not_change(
    app: Any, dist: Path
) -> None:
    page = dist / "rebuilt.html"
    rebuild(page, PAGE)
    first = await fetch(app, "/portal/rebuilt.html", "identity")

    rebuild(page, PAGE)
    same = await fetch(app, "/portal/rebuilt.html", "identity", if_none_match=first.headers["etag"])
    assert same.status_code == 304
    assert same.headers["etag"] == first.headers["etag"]

    rebuild(page, PAGE.replace(b"hello", b"HELLO"))  # same size, other bytes
    changed = await fetch(
        app, "/portal/rebuilt.html", "identity", if_none_match=first.headers["etag"]
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != first.headers["etag"]
    assert b"HELLO" in changed.content


async def test_head_answers_the_get_headers_without_a_body(app: Any) -> None:
    got = await fetch(app, "/portal/assets/app-Ab12Cd34.js", "gzip")
    head = await call(app, "HEAD", "/portal/assets/app-Ab12Cd34.js", "gzip")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-encoding", "content-length", "etag", "cache-control"):
        assert head.headers[name] == got.headers[name], name


async def test_only_get_and_head_are_allowed(app: Any) -> None:
    response = await call(app, "POST", "/portal/index.html")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"] and "HEAD" in response.headers["allow"]


# --- the GraphQL explorer's page (GET /graphql from a browser) ---


async def explorer(app: Any, accept_encoding: str | None, **headers: str) -> Answer:
    return await fetch(app, "/graphql", accept_encoding, accept="text/html", **headers)


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [("gzip, deflate, br, zstd", "br"), ("gzip", "gzip"), ("identity", None), (None, None)],
)
async def test_the_explorer_page_is_sent_compressed_like_the_portal_files(
    app: Any, accept_encoding: str | None, expected: str | None
) -> None:
    response = await explorer(app, accept_encoding)
    assert response.status_code == 200, response.content[:300]
    assert response.headers.get("content-encoding") == expected
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["vary"] == "Accept, Accept-Encoding"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-length"] == str(len(response.content))
    sent = gzip.decompress(response.content) if expected == "gzip" else response.content
    assert sent == (BROTLI if expected == "br" else EXPLORER)


async def test_the_explorer_page_answers_304_to_its_etag(app: Any) -> None:
    gzipped = await explorer(app, "gzip")
    again = await explorer(app, "gzip", if_none_match=gzipped.headers["etag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == gzipped.headers["etag"]

    brotli = await explorer(app, "br", if_none_match=gzipped.headers["etag"])
    assert brotli.status_code == 200 and brotli.content == BROTLI


async def test_the_explorer_page_refuses_an_impossible_accept_encoding(app: Any) -> None:
    response = await explorer(app, "identity;q=0, gzip;q=0, br;q=0")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


# --- what is never served ---


@pytest.mark.parametrize(
    "path",
    [
        "/portal/../secret.txt",
        "/portal/%2e%2e/secret.txt",
        "/portal/assets/..%2f..%2fsecret.txt",
        "/portal/assets/%2e%2e/%2e%2e/secret.txt",
        "/portal/..%5csecret.txt",
        "/portal/escape.txt",  # a symlink out of dist
        "/portal/.built",
        "/portal/assets/app-Ab12Cd34.js.gz",  # siblings are reached through Accept-Encoding only
        "/portal/index.html%00.js",
        "/portal/missing.html",
        "/portal/assets/",
    ],
)
async def test_nothing_outside_the_built_files_is_served(app: Any, path: str) -> None:
    response = await fetch(app, path, "gzip")
    assert response.status_code == 404, (path, response.status_code, response.content[:200])
    assert b"outside the portal" not in response.content


async def test_the_index_is_served_with_and_without_the_trailing_slash(app: Any) -> None:
    for path in ("/portal", "/portal/", "/portal/index.html"):
        response = await fetch(app, path, "identity")
        assert response.status_code == 200, path
        assert response.content == PAGE, path


# --- the real build ---

DIST = ROOT_DIR / "portal" / "dist"
COMPRESSIBLE = {".html", ".js", ".css", ".json", ".svg"}
MIN_BYTES = 512  # portal/build/compress.js MIN_BYTES


def built_text_files() -> list[Path]:
    if not (DIST / "portal-manifest.json").is_file():
        pytest.fail("portal/dist is not built: cd portal && npm ci && npm run build")
    return sorted(
        path
        for path in DIST.rglob("*")
        if path.is_file() and path.suffix in COMPRESSIBLE and path.stat().st_size >= MIN_BYTES
    )


def test_every_built_text_file_has_a_gzip_sibling_of_the_same_bytes() -> None:
    files = built_text_files()
    assert files
    wrong = [
        str(path.relative_to(DIST))
        for path in files
        if not path.with_name(path.name + ".gz").is_file()
        or gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) != path.read_bytes()
    ]
    assert wrong == [], f"missing or stale .gz siblings (rebuild the portal): {wrong}"


VERIFY_BROTLI = """
const { readFileSync } = require('node:fs');
const { brotliDecompressSync } = require('node:zlib');
const files = JSON.parse(process.argv[1]);
const wrong = files.filter((file) => {
  try { return !brotliDecompressSync(readFileSync(file + '.br')).equals(readFileSync(file)); }
  catch { return true; }
});
process.stdout.write(JSON.stringify(wrong));
"""


def test_every_built_text_file_has_a_brotli_sibling_of_the_same_bytes() -> None:
    files = [str(path) for path in built_text_files()]
    # Python has no brotli decoder here; node (which builds the portal) has one in zlib.
    checked = subprocess.run(
        ["node", "-e", VERIFY_BROTLI, json.dumps(files)], capture_output=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr.decode()
    wrong = json.loads(checked.stdout)
    assert wrong == [], f"missing or stale .br siblings (rebuild the portal): {wrong}"
