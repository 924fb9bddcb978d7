"""The address guard on its own: every class of address the gateway never fetches from, in its
IPv4 and IPv6 spellings, and the sandbox exemption that only an explicit allow-list grants."""

import ipaddress

import pytest

from app.assets.guard import AddressPolicy, blocked_rule
from app.assets.service import fetcher_for
from app.settings import Settings
from app.tenancy.models import Tenant

BLOCKED = [
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("169.254.169.254", "link_local"),
    ("fe80::1", "link_local"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("10.0.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("fd12:3456::1", "private"),
    ("192.0.2.10", "private"),  # documentation range
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::127.0.0.1", "reserved"),  # IPv4-compatible, long deprecated
    ("fec0::1", "site_local"),
    ("100.64.0.1", "non_global"),  # carrier-grade NAT
    ("::ffff:127.0.0.1", "ipv4_mapped:loopback"),
    ("::ffff:169.254.169.254", "ipv4_mapped:link_local"),
    ("::ffff:10.1.2.3", "ipv4_mapped:private"),
    ("64:ff9b::a9fe:a9fe", "nat64:link_local"),
    ("64:ff9b::7f00:1", "nat64:loopback"),
    ("2002:7f00:1::1", "6to4:loopback"),
    ("2002:c0a8:101::1", "6to4:private"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo
]

PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:93.184.216.34",
    "64:ff9b::808:808",
    "2002:5db8:d822::1",
]


@pytest.mark.parametrize(("address", "rule"), BLOCKED)
def test_each_inside_address_is_blocked_by_its_rule(address: str, rule: str) -> None:
    assert blocked_rule(ipaddress.ip_address(address)) == rule


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_in_every_spelling(address: str) -> None:
    assert blocked_rule(ipaddress.ip_address(address)) is None


def test_an_allow_list_exempts_exactly_its_networks() -> None:
    policy = AddressPolicy((ipaddress.IPv4Network("127.0.0.0/8"),))

    assert policy.rule_against(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.rule_against(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert policy.rule_against(ipaddress.ip_address("::1")) == "loopback"
    assert policy.rule_against(ipaddress.ip_address("10.0.0.1")) == "private"
    assert policy.rule_against(ipaddress.ip_address("169.254.169.254")) == "link_local"


def test_only_test_clients_get_the_sandbox_exemption() -> None:
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        asset_fetch_sandbox_allowed_networks=["127.0.0.0/8"],  # type: ignore[list-item]
    )

    test_client = fetcher_for(Tenant("cli_a", livemode=False), settings)
    live_client = fetcher_for(Tenant("cli_a", livemode=True), settings)

    loopback = ipaddress.ip_address("127.0.0.1")
    assert test_client.policy.rule_against(loopback) is None
    assert live_client.policy.rule_against(loopback) == "loopback"


def test_by_default_no_client_is_exempt() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:")

    assert settings.asset_fetch_sandbox_allowed_networks == []
    for livemode in (False, True):
        fetcher = fetcher_for(Tenant("cli_a", livemode=livemode), settings)
        assert fetcher.policy.rule_against(ipaddress.ip_address("127.0.0.1")) == "loopback"
