"""Mapping benchmark, run on demand: native records → standard records, in one process.

    .venv/bin/python tests/bench/bench_mapping.py [--seconds 3] [--only shopify]

Per platform page (tests/fixtures/platforms, plus the Shopify REST products with 3 variants and
3 images, the headline), runs what the worker runs for each staged raw record: the mapping
(`standard_payload`: JSON parse, rules, normalisers) and the standard-schema validation
(`validate_record`), and reports records per second of CPU time (and CPU µs per record) for the
whole step, and records per second for the mapping alone. A calibration loop (pure Python) is
reported too: on a shared or slower machine compare results by their ratio to it. Target for
the headline: ≥ 10,000 records/s.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from app.contracts.entities import Entity  # noqa: E402
from app.contracts.fields import SourcePlatform  # noqa: E402
from app.jobs.processing import Lease, standard_payload  # noqa: E402
from app.records.validation import validate_record  # noqa: E402
from app.tenancy.models import Tenant  # noqa: E402
from tests.fixtures.platforms import DEFAULTS, PAGES  # noqa: E402
from tests.unit.transform.conftest import fixture  # noqa: E402

TARGET = 10_000.0
HEADLINE = "shopify/products-rest (3 variants, 3 images)"


def _workloads() -> dict[str, tuple[SourcePlatform, Entity, list[str]]]:
    shirt = orjson.dumps(fixture("shopify_product_linen_shirt.json")).decode()
    loads = {HEADLINE: (SourcePlatform.SHOPIFY, Entity.PRODUCT, [shirt])}
    for page in PAGES:
        payloads = [orjson.dumps(record).decode() for record in page.records()]
        loads[page.name] = (page.platform, page.entity, payloads)
    return loads


def _lease(platform: SourcePlatform, entity: Entity) -> Lease:
    tenant = Tenant("cli_bench", False)
    return Lease("job_bench", "token", tenant, entity, None, 1, 0, platform, DEFAULTS)


def _rate(step: Callable[[str], object], payloads: list[str], seconds: float) -> float:
    """Records per CPU second, best of three rounds of about `seconds` / 3 each."""
    for payload in payloads * 50:  # warm-up: caches, compiled rules
        step(payload)
    best = 0.0
    for _ in range(3):
        done, started = 0, time.process_time()
        for payload in itertools.cycle(payloads):
            step(payload)
            done += 1
            if done % 200 == 0 and time.process_time() - started >= seconds / 3:
                break
        best = max(best, done / (time.process_time() - started))
    return best


def _calibration() -> float:
    """Microseconds for sum(range(1000)): a yardstick for the machine's speed right now."""
    started = time.process_time()
    for _ in range(2000):
        sum(range(1000))
    return (time.process_time() - started) / 2000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--only", default="", help="only workloads whose name contains this")
    options = parser.parse_args()
    print(f"calibration: sum(range(1000)) = {_calibration():.1f} µs")
    print(f"{'workload':48} {'map+validate/s':>15} {'µs/record':>10} {'map only/s':>12}")
    for name, (platform, entity, payloads) in _workloads().items():
        if options.only not in name:
            continue
        lease = _lease(platform, entity)

        def mapped(payload: str, lease: Lease = lease) -> object:
            return standard_payload(lease, payload)

        def whole(payload: str, lease: Lease = lease, entity: Entity = entity) -> object:
            standard, errors = standard_payload(lease, payload)
            assert not errors, errors
            return validate_record(entity, standard)

        full, only = (
            _rate(whole, payloads, options.seconds),
            _rate(mapped, payloads, options.seconds),
        )
        mark = "  (target ≥ 10,000)" if name == HEADLINE else ""
        print(f"{name:48} {full:15,.0f} {1e6 / full:10.1f} {only:12,.0f}{mark}")
    print(f"calibration: sum(range(1000)) = {_calibration():.1f} µs")


if __name__ == "__main__":
    main()
