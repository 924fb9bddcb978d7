"""Downloading an asset from its source URL, and nothing else.

Only http and https; every hop (redirects are followed here, one by one) is resolved and its
addresses checked by the guard, and the request goes to a checked address with the original host
in the Host header and TLS SNI (so certificates are verified for the host, and a DNS answer that
changes between check and connect is never used). Size is enforced on the announced length and on
the bytes actually read; each network step has a timeout and the whole fetch a deadline.
"""

import asyncio
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import httpx

from app.assets.errors import (
    AssetHttpStatus,
    AssetTimeout,
    AssetTooLarge,
    AssetTooManyRedirects,
    AssetUnreachable,
    AssetUrlRefused,
)
from app.assets.guard import AddressPolicy, IPAddress, Resolver, checked_addresses, system_resolver
from app.settings import Settings

USER_AGENT = "SmartGateway-AssetFetcher/1"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout_seconds: float
    deadline_seconds: float
    max_redirects: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "FetchLimits":
        return cls(
            max_bytes=settings.asset_max_bytes,
            timeout_seconds=settings.asset_fetch_timeout_seconds,
            deadline_seconds=settings.asset_fetch_deadline_seconds,
            max_redirects=settings.asset_fetch_max_redirects,
        )


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None
    url: str  # where the bytes finally came from, after redirects


@dataclass(frozen=True)
class Target:
    """One hop: the URL as the client wrote it, and the host and port it names."""

    url: httpx.URL
    host: str
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = self.port == DEFAULT_PORTS[self.url.scheme]
        return host if default else f"{host}:{self.port}"

    @property
    def names_an_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


@cache
def default_tls() -> ssl.SSLContext:
    """The system's trusted CAs, loaded once per process (loading them takes tens of ms)."""
    return httpx.create_ssl_context()


def parse_target(url: str) -> Target:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise AssetUrlRefused(url, str(error)) from error
    if parsed.scheme not in DEFAULT_PORTS:
        raise AssetUrlRefused(url, "only http and https URLs are fetched")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise AssetUrlRefused(url, "it names no host")
    return Target(parsed, host, parsed.port or DEFAULT_PORTS[parsed.scheme])


class AssetFetcher:
    """Fetches asset URLs under one address policy and one set of limits. `resolver` and `tls`
    exist for the sandbox and tests (a name resolved to a local server, a local CA)."""

    def __init__(
        self,
        policy: AddressPolicy,
        limits: FetchLimits,
        *,
        resolver: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self.limits = limits
        self._resolver = resolver
        self._tls = tls or default_tls()

    async def fetch(self, url: str) -> Fetched:
        try:
            async with asyncio.timeout(self.limits.deadline_seconds):
                return await self._follow(url)
        except TimeoutError as error:
            raise AssetTimeout(url, self.limits.deadline_seconds) from error

    async def _follow(self, url: str) -> Fetched:
        # A client per fetch: pooled connections are keyed by address, and one opened with
        # another host's SNI must not carry this host's request.
        async with httpx.AsyncClient(
            verify=self._tls,
            trust_env=False,  # a proxy would resolve the host itself, past the guard
            follow_redirects=False,
            timeout=self.limits.timeout_seconds,
        ) as client:
            current = url
            for _ in range(self.limits.max_redirects + 1):
                target = parse_target(current)
                addresses = await checked_addresses(
                    target.host, target.port, self.policy, self._resolver
                )
                answer = await self._hop(client, target, addresses)
                if isinstance(answer, Fetched):
                    return answer
                current = str(target.url.join(answer))
        raise AssetTooManyRedirects(url, self.limits.max_redirects)

    async def _hop(
        self, client: httpx.AsyncClient, target: Target, addresses: Sequence[IPAddress]
    ) -> Fetched | str:
        """The bytes at `target`, or where it redirects to."""
        try:
            response = await self._open(client, target, addresses)
            try:
                location = response.headers.get("location")
                if response.is_redirect and location:
                    return str(location)
                return await self._read(response, str(target.url))
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            raise AssetTimeout(str(target.url), self.limits.timeout_seconds) from error
        except httpx.TransportError as error:
            raise AssetUnreachable(target.host, str(error) or type(error).__name__) from error

    async def _open(
        self, client: httpx.AsyncClient, target: Target, addresses: Sequence[IPAddress]
    ) -> httpx.Response:
        """Connect to the checked addresses in turn until one answers."""
        extensions = {} if target.names_an_address else {"sni_hostname": target.host}
        refused: httpx.ConnectError | None = None
        for address in addresses:
            request = client.build_request(
                "GET",
                target.url.copy_with(host=str(address)),
                headers={"Host": target.host_header, "User-Agent": USER_AGENT},
                extensions=extensions,
            )
            try:
                return await client.send(request, stream=True)
            except httpx.ConnectError as error:
                refused = error
        raise AssetUnreachable(target.host, str(refused) or "connection refused")

    async def _read(self, response: httpx.Response, url: str) -> Fetched:
        if response.status_code != 200:
            raise AssetHttpStatus(url, response.status_code)
        limit = self.limits.max_bytes
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            raise AssetTooLarge(limit, int(announced))
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise AssetTooLarge(limit)
            chunks.append(chunk)
        return Fetched(b"".join(chunks), response.headers.get("content-type"), url)
