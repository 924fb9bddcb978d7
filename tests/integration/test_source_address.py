"""The source address behind a proxy: X-Forwarded-For is read only when the peer is a configured
trusted proxy (GATEWAY_TRUSTED_PROXIES), walking back from the right through trusted hops; it
decides the audit log's source address and which address failed authentications count against.
From anyone else the header is ignored, so a client cannot pick its own address."""

import ipaddress
from typing import Any

import pytest
from sqlalchemy import select

from app.api.source_address import resolve
from app.audit.models import AuditEvent
from app.settings import Settings
from tests.conftest import make_settings

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
BAD_KEY = {"Authorization": "Bearer gw_test_000000000000_" + "0" * 48}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy: the header is ignored
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["6.6.6.6", "198.51.100.1", "10.1.1.1"], "198.51.100.1"),  # spoofed left
        ("10.0.0.5", ["10.2.2.2", "10.1.1.1"], "10.2.2.2"),  # only proxies: the leftmost
        ("10.0.0.5", ["198.51.100.1", "not-an-ip"], "10.0.0.5"),  # garbage ends the walk
        ("10.0.0.5", [], "10.0.0.5"),
        ("fd00::1", ["2001:db8::7"], "2001:db8::7"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_the_client_address_is_the_first_hop_not_added_by_a_trusted_proxy(
    peer, forwarded, expected
):
    assert resolve(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_never_read():
    assert resolve("10.0.0.5", ["198.51.100.1"], []) == "10.0.0.5"


@pytest.fixture
def settings(database_url: str, tmp_path: Any, request: pytest.FixtureRequest) -> Settings:
    """The test client's peer address is 127.0.0.1: trusted here unless the test says not."""
    trusted = [] if "untrusted" in request.node.name else ["127.0.0.0/8"]
    return make_settings(
        database_url,
        sandbox_blob_dir=tmp_path / "blobs",
        auth_failure_burst=2,
        auth_failure_per_second=0.01,
        trusted_proxies=trusted,
    )


async def _fail(api, address: str) -> int:
    response = await api.get("/jobs", headers={**BAD_KEY, "X-Forwarded-For": address})
    return int(response.status_code)


async def test_failed_authentications_count_against_the_forwarded_address(api):
    assert [await _fail(api, "198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert await _fail(api, "198.51.100.2") == 401  # another client behind the same proxy


async def test_untrusted_peers_cannot_escape_throttling_by_forging_the_header(api):
    answers = [await _fail(api, f"198.51.100.{n}") for n in range(1, 4)]
    assert answers == [401, 401, 429]


async def _audited_sources(services) -> list[str | None]:
    await services.audit.flush()
    async with services.sessions() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.operation == "auth.failed")
        )
        return [row.source_ip for row in rows]


async def test_the_audit_log_records_the_forwarded_address(api, services):
    await _fail(api, "198.51.100.7, 127.0.0.9")
    assert await _audited_sources(services) == ["198.51.100.7"]


async def test_the_audit_log_records_the_peer_when_it_is_untrusted(api, services):
    await _fail(api, "198.51.100.7")
    assert await _audited_sources(services) == ["127.0.0.1"]
