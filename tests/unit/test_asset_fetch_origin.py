"""A real HTTP(S) origin on this machine for the asset tests: files to serve, redirects, errors,
slow and oversized answers. It records every request it receives (path and Host header)."""

import datetime
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class Served:
    data: bytes
    content_type: str | None


@dataclass
class Origin:
    host: str
    port: int
    scheme: str = "http"
    files: dict[str, Served] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def url(self, path: str, host: str | None = None) -> str:
        shown = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.scheme}://{shown}:{self.port}{path}"

    def serve(self, name: str, data: bytes, content_type: str | None) -> str:
        self.files[name] = Served(data, content_type)
        return self.url(f"/file/{name}")

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def _handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            origin.requests.append((self.path, self.headers.get("Host", "")))
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            route, _, rest = parts.path.lstrip("/").partition("/")
            if route == "file" and rest in origin.files:
                served = origin.files[rest]
                self._answer(200, served.data, served.content_type)
            elif route == "redirect":
                self.send_response(int(query.get("status", "302")))
                self.send_header("Location", query["to"])
                self.end_headers()
            elif route == "loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
            elif route == "status":
                self._answer(int(rest), b"no", "text/plain")
            elif route == "echo-host":
                self._answer(200, self.headers.get("Host", "").encode(), "text/plain")
            elif route == "announced-huge":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
            elif route == "stream":
                self._stream(int(query["bytes"]), int(query.get("chunk", "65536")), 0.0)
            elif route == "drip":
                self._stream(int(query["bytes"]), 1, float(query["every"]))
            elif route == "slow":
                time.sleep(float(query["seconds"]))
                self._answer(200, PNG, "image/png")
            else:
                self._answer(404, b"not found", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str | None) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self, total: int, chunk: int, every: float) -> None:
            """A body without Content-Length, ended by closing the connection (HTTP/1.0)."""
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            sent = 0
            try:
                while sent < total:
                    piece = min(chunk, total - sent)
                    self.wfile.write(b"\0" * piece)
                    self.wfile.flush()
                    sent += piece
                    time.sleep(every)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the fetcher gave up, as it should

    return Handler


@contextmanager
def running_origin(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[Origin]:
    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up
                super().handle_error(request, client_address)

    origin = Origin(host, 0, "https" if tls else "http")
    server = Server((host, 0), _handler(origin))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    origin.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for one host name: the server's context, and a client context
    that trusts it (and nothing else)."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def certificate_for(hostname: str, directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "origin.crt", directory / "origin.key"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=pem.decode())
    return Certificate(server, client)
