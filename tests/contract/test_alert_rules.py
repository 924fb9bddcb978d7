"""The Prometheus alert rules in deploy/prometheus are valid, each is unit tested with
`promtool test rules`, and they only name metrics the gateway exposes. promtool comes from
Debian's `prometheus` package; CI installs it and fails without it."""

import re
import shutil
import subprocess

import pytest

from app.observability.database import DATABASE_GAUGES
from app.observability.metrics import REGISTRY
from app.settings import ROOT_DIR
from tests.conftest import REQUIRE_SERVICES

RULES_DIR = ROOT_DIR / "deploy" / "prometheus"
RULES, RULE_TESTS = RULES_DIR / "alerts.yml", RULES_DIR / "alerts_test.yml"
REQUIRED_ALERTS = {
    "GatewayHighErrorRate",  # error rate > 5% over 15 min
    "GatewaySyncLatencyHigh",  # p95 sync latency > 30 s
    "GatewayDeadLetters",  # dead-letter depth > 0
    "GatewayDeadLettersPiling",  # dead-letter depth > 10
    "GatewayAmsCredentialsRejected",  # token / credential failures (AMS)
    "GatewayAuthenticationFailures",  # failed authentications
    "GatewayPartnerConnectionUnhealthy",  # stale / revoked / failing connections
}
_SUFFIXES = re.compile(r"_(total|bucket|count|sum|created)$")


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if REQUIRE_SERVICES:
        pytest.fail("promtool is required (apt-get install prometheus) but not installed")
    pytest.skip("promtool not installed (Debian: apt-get install prometheus)")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120
    )


def test_the_alert_rules_and_the_example_scrape_config_are_valid():
    result = _run("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_rule_passes_its_unit_tests():
    result = _run("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def _alerts() -> set[str]:
    return set(re.findall(r"^\s*- alert: (\w+)", RULES.read_text(), re.MULTILINE))


def test_the_seeds_thresholds_each_have_a_rule_and_every_rule_a_test():
    alerts = _alerts()
    assert alerts >= REQUIRED_ALERTS
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts <= tested, f"alerts without a unit test: {sorted(alerts - tested)}"
    firing = re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n", RULE_TESTS.read_text())
    assert alerts <= set(firing), "every alert needs a test where it fires"


def _exposed() -> set[str]:
    families = [*REGISTRY.collect(), *DATABASE_GAUGES.describe()]
    return {_SUFFIXES.sub("", family.name) for family in families}


def test_the_rules_name_only_metrics_the_gateway_exposes():
    named = {_SUFFIXES.sub("", name) for name in re.findall(r"\bgateway_\w+", RULES.read_text())}
    assert named, "the rules name no gateway metric"
    assert named <= _exposed(), f"unknown metrics in alerts.yml: {sorted(named - _exposed())}"
