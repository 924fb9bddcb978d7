"""Fetching asset URLs against a real local origin: only public addresses are reached (the
origin on 127.0.0.1 is "inside" unless a test allows it), every redirect is checked again, the
connection goes to the address that was checked, and each failure says precisely what went wrong."""

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.assets.errors import (
    AssetAddressBlocked,
    AssetDnsFailed,
    AssetHttpStatus,
    AssetTimeout,
    AssetTooLarge,
    AssetTooManyRedirects,
    AssetUnreachable,
    AssetUrlRefused,
)
from app.assets.fetch import AssetFetcher, FetchLimits
from app.assets.guard import AddressPolicy, IPAddress, IPNetwork, Resolver, system_resolver
from tests.unit.test_asset_fetch_origin import PNG, Origin, certificate_for, running_origin

LOCAL = (ipaddress.IPv4Network("127.0.0.1/32"),)
LIMITS = FetchLimits(max_bytes=64 * 1024, timeout_seconds=5, deadline_seconds=20, max_redirects=3)


@pytest.fixture
def origin() -> Iterator[Origin]:
    with running_origin() as running:
        yield running


def fetcher(
    allowed: tuple[IPNetwork, ...] = (),
    resolver: Resolver = system_resolver,
    limits: FetchLimits = LIMITS,
    **kwargs: object,
) -> AssetFetcher:
    return AssetFetcher(AddressPolicy(allowed), limits, resolver=resolver, **kwargs)  # type: ignore[arg-type]


def names(table: dict[str, list[str]]) -> tuple[Resolver, list[str]]:
    """A resolver answering from `table` (as a DNS zone would), recording what it was asked."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in table.get(host, [])]

    return resolve, asked


async def test_an_allowed_origin_is_fetched_with_its_bytes_and_type(origin: Origin) -> None:
    url = origin.serve("hero.png", PNG, "image/png")

    fetched = await fetcher(LOCAL).fetch(url)

    assert fetched.data == PNG
    assert fetched.content_type == "image/png"
    assert fetched.url == url


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f.0.0.1"])
async def test_loopback_in_any_spelling_is_refused_before_any_request(
    origin: Origin, host: str
) -> None:
    url = origin.serve("hero.png", PNG, "image/png").replace("127.0.0.1", host)

    with pytest.raises(AssetAddressBlocked) as refused:
        await fetcher().fetch(url)

    assert refused.value.code == "asset_address_blocked"
    assert refused.value.rule == "loopback"
    assert refused.value.address == "127.0.0.1"
    assert origin.requests == []


async def test_ipv6_loopback_is_refused() -> None:
    with running_origin("::1") as origin:
        url = origin.serve("hero.png", PNG, "image/png")
        with pytest.raises(AssetAddressBlocked) as refused:
            await fetcher().fetch(url)
        assert refused.value.rule == "loopback"
        assert origin.requests == []
        allowed = await fetcher((ipaddress.IPv6Network("::1/128"),)).fetch(url)
        assert allowed.data == PNG


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("10.20.30.40", "private"),
        ("192.168.1.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link_local"),
        ("100.64.0.1", "non_global"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "ipv4_mapped:private"),
        ("2002:a9fe:a9fe::1", "6to4:link_local"),
    ],
)
async def test_a_host_that_resolves_inside_is_refused(address: str, rule: str) -> None:
    resolver, _ = names({"cdn.shop.example": [address]})

    with pytest.raises(AssetAddressBlocked) as refused:
        await fetcher(resolver=resolver).fetch("https://cdn.shop.example/a.png")

    assert (refused.value.host, refused.value.address, refused.value.rule) == (
        "cdn.shop.example",
        str(ipaddress.ip_address(address)),
        rule,
    )
    assert rule in refused.value.message


async def test_a_host_with_one_inside_answer_among_public_ones_is_refused() -> None:
    resolver, _ = names({"cdn.shop.example": ["93.184.216.34", "10.0.0.8"]})

    with pytest.raises(AssetAddressBlocked) as refused:
        await fetcher(resolver=resolver).fetch("https://cdn.shop.example/a.png")

    assert refused.value.address == "10.0.0.8"


async def test_the_connection_goes_to_the_checked_address_with_the_hosts_name(
    origin: Origin,
) -> None:
    """The name exists only in the test's zone: the system resolver cannot answer for it, so the
    fetch can only succeed by connecting to the address the guard checked."""
    resolver, asked = names({"assets.shop.example": ["127.0.0.1"]})
    url = origin.url("/echo-host", host="assets.shop.example")

    fetched = await fetcher(LOCAL, resolver).fetch(url)

    assert fetched.data == f"assets.shop.example:{origin.port}".encode()
    assert asked == ["assets.shop.example"]


async def test_a_second_dns_answer_is_never_used(origin: Origin) -> None:
    """DNS rebinding: the name is checked once per hop and that answer is the one connected to."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    url = origin.serve("hero.png", PNG, "image/png").replace("127.0.0.1", "assets.shop.example")

    fetched = await fetcher(LOCAL, rebinding).fetch(url)

    assert fetched.data == PNG
    assert next(answers) == ["10.0.0.1"]  # never asked for


async def test_https_is_verified_for_the_host_while_connecting_to_its_address(
    tmp_path: Path,
) -> None:
    certificate = certificate_for("assets.shop.example", tmp_path)
    resolver, _ = names({"assets.shop.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    with running_origin(tls=certificate.server) as origin:
        origin.serve("hero.png", PNG, "image/png")
        secure = fetcher(LOCAL, resolver, tls=certificate.client)

        fetched = await secure.fetch(origin.url("/file/hero.png", host="assets.shop.example"))
        assert fetched.data == PNG

        with pytest.raises(AssetUnreachable) as mismatch:
            await secure.fetch(origin.url("/file/hero.png", host="other.example"))
        assert "certificate" in mismatch.value.message.lower()


def redirect(origin: Origin, to: str, status: int = 302) -> str:
    return origin.url(f"/redirect?status={status}&to={to}")


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("http://127.0.0.2:{port}/file/hero.png", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link_local"),
        ("http://[::ffff:10.0.0.1]/x.png", "ipv4_mapped:private"),
        ("http://[::1]:{port}/file/hero.png", "loopback"),
        ("http://0.0.0.0:{port}/file/hero.png", "unspecified"),
    ],
)
async def test_a_redirect_to_an_inside_address_is_refused(
    origin: Origin, target: str, rule: str
) -> None:
    origin.serve("hero.png", PNG, "image/png")
    url = redirect(origin, target.format(port=origin.port))

    with pytest.raises(AssetAddressBlocked) as refused:
        await fetcher(LOCAL).fetch(url)

    assert refused.value.rule == rule
    assert origin.paths() == [url.split(str(origin.port), 1)[1]]  # only the first hop


async def test_redirects_are_followed_hop_by_hop(origin: Origin) -> None:
    final = origin.serve("hero.png", PNG, "image/png")
    middle = redirect(origin, "/file/hero.png", status=301)  # relative Location
    url = redirect(origin, middle.replace("&", "%26"), status=307)

    fetched = await fetcher(LOCAL).fetch(url)

    assert fetched.data == PNG and fetched.url == final
    assert len(origin.requests) == 3


async def test_a_redirect_loop_stops_at_the_limit(origin: Origin) -> None:
    with pytest.raises(AssetTooManyRedirects) as refused:
        await fetcher(LOCAL).fetch(origin.url("/loop"))

    assert refused.value.limit == 3
    assert origin.paths() == ["/loop"] * 4


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://cdn.shop.example/a.png", "data:image/png;base64,AAAA", "http://"],
)
async def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    with pytest.raises(AssetUrlRefused):
        await fetcher().fetch(url)


async def test_a_redirect_to_another_scheme_is_refused(origin: Origin) -> None:
    with pytest.raises(AssetUrlRefused):
        await fetcher(LOCAL).fetch(redirect(origin, "file:///etc/passwd"))


async def test_an_announced_size_over_the_limit_is_refused_unread(origin: Origin) -> None:
    with pytest.raises(AssetTooLarge) as refused:
        await fetcher(LOCAL).fetch(origin.url("/announced-huge"))

    assert (refused.value.limit, refused.value.size) == (LIMITS.max_bytes, 10**12)
    assert str(LIMITS.max_bytes) in refused.value.message


async def test_a_body_over_the_limit_is_cut_off_while_streaming(origin: Origin) -> None:
    within = await fetcher(LOCAL).fetch(origin.url(f"/stream?bytes={LIMITS.max_bytes}"))
    assert len(within.data) == LIMITS.max_bytes

    with pytest.raises(AssetTooLarge) as refused:
        await fetcher(LOCAL).fetch(origin.url(f"/stream?bytes={LIMITS.max_bytes * 50}"))
    assert refused.value.limit == LIMITS.max_bytes


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (403, False), (503, True)])
async def test_an_error_status_from_the_origin_is_reported(
    origin: Origin, status: int, retryable: bool
) -> None:
    with pytest.raises(AssetHttpStatus) as failed:
        await fetcher(LOCAL).fetch(origin.url(f"/status/{status}"))

    assert failed.value.status == status
    assert failed.value.retryable is retryable


async def test_a_slow_origin_times_out(origin: Origin) -> None:
    limits = FetchLimits(
        LIMITS.max_bytes, timeout_seconds=0.3, deadline_seconds=20, max_redirects=0
    )

    with pytest.raises(AssetTimeout) as slow:
        await fetcher(LOCAL, limits=limits).fetch(origin.url("/slow?seconds=2"))

    assert slow.value.seconds == 0.3 and slow.value.retryable


async def test_a_dripping_origin_hits_the_deadline(origin: Origin) -> None:
    limits = FetchLimits(LIMITS.max_bytes, timeout_seconds=5, deadline_seconds=0.5, max_redirects=0)

    with pytest.raises(AssetTimeout) as slow:
        await fetcher(LOCAL, limits=limits).fetch(origin.url("/drip?bytes=100&every=0.1"))

    assert slow.value.seconds == 0.5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_host_refusing_connections_is_unreachable() -> None:
    with pytest.raises(AssetUnreachable) as unreachable:
        await fetcher(LOCAL).fetch(f"http://127.0.0.1:{closed_port()}/a.png")

    assert unreachable.value.code == "asset_unreachable" and unreachable.value.retryable


async def test_a_name_that_does_not_resolve_is_a_dns_failure() -> None:
    with pytest.raises(AssetDnsFailed) as failed:
        await fetcher().fetch("https://no-such-host.invalid/a.png")

    assert failed.value.host == "no-such-host.invalid"


async def test_fetches_run_side_by_side(origin: Origin) -> None:
    urls = [origin.serve(f"{n}.png", PNG + bytes([n]), "image/png") for n in range(8)]
    shared = fetcher(LOCAL)

    fetched = await asyncio.gather(*(shared.fetch(url) for url in urls))

    assert [f.data[-1] for f in fetched] == list(range(8))
