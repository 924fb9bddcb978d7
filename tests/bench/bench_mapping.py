"""Mapping benchmark, run on demand: native records → standard records, in one process.

    .venv/bin/python tests/bench/bench_mapping.py [--seconds 3] [--rounds 5] [--only shopify]

Per platform page (tests/fixtures/platforms, plus the Shopify REST products with 3 variants and
3 images, the headline), runs what the worker runs for each staged raw record: the mapping
(`standard_payload`: JSON parse, rules, normalisers) and the standard-schema validation
(`validate_record`), and reports records per second of CPU time (and CPU µs per record) for the
whole step, records per second for the mapping alone, and CPU µs per record with the built-in
validation rules checked too (as the worker does). Each figure is the median of --rounds timed
rounds (process CPU time, `time.process_time`): on a shared machine the median is steadier than
the best. A calibration loop (pure Python) is reported too: on a shared or slower machine
compare results by their ratio to it. Target for the headline: ≥ 10,000 records/s.

Instruction counts, steadier than time on a shared machine: `--count N` maps and validates N
records of each workload inside functools.reduce, untimed, so that

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \
        .venv/bin/python tests/bench/bench_mapping.py --count 300 --only "products-rest"

counts only those records (total instructions / N = per record); with --rules, the step that
checks the built-in validation rules too (as the worker does).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
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
from app.rules.service import default_rule_set  # noqa: E402
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


def _rate(step: Callable[[str], object], payloads: list[str], seconds: float, rounds: int) -> float:
    """Records per CPU second, the median of `rounds` rounds of about `seconds` / rounds each."""
    for payload in payloads * 50:  # warm-up: caches, compiled rules
        step(payload)
    rates = []
    for _ in range(rounds):
        done, started = 0, time.process_time()
        for payload in itertools.cycle(payloads):
            step(payload)
            done += 1
            if done % 200 == 0 and time.process_time() - started >= seconds / rounds:
                break
        rates.append(done / (time.process_time() - started))
    return statistics.median(rates)


Step = Callable[[str], object]


def _steps(lease: Lease, entity: Entity) -> tuple[Step, Step, Step]:
    """The mapping alone; mapping and contract validation; both and the built-in rules."""
    rules = default_rule_set(entity)

    def mapped(payload: str) -> object:
        return standard_payload(lease, payload)

    def whole(payload: str) -> object:
        standard, errors = standard_payload(lease, payload)
        assert not errors, errors
        return validate_record(entity, standard)

    def ruled(payload: str) -> object:
        standard, errors = standard_payload(lease, payload)
        assert not errors, errors
        result = validate_record(entity, standard, rules)
        assert not isinstance(result, list), result
        return result

    return mapped, whole, ruled


def _calibration() -> float:
    """Microseconds for sum(range(1000)): a yardstick for the machine's speed right now."""
    started = time.process_time()
    for _ in range(2000):
        sum(range(1000))
    return (time.process_time() - started) / 2000 * 1e6


def _count(step: Step, payloads: list[str], records: int) -> None:
    """`records` records through the step, inside functools.reduce (see the docstring)."""
    for payload in payloads * 20:  # warm-up, not counted
        step(payload)
    chosen = itertools.islice(itertools.cycle(payloads), records)
    functools.reduce(lambda _, payload: step(payload), chosen, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--only", default="", help="only workloads whose name contains this")
    parser.add_argument("--count", type=int, default=0, help="N records untimed, for callgrind")
    parser.add_argument("--rules", action="store_true", help="--count: with the built-in rules")
    options = parser.parse_args()
    if options.count:
        for name, (platform, entity, payloads) in _workloads().items():
            if options.only in name:
                step = _steps(_lease(platform, entity), entity)[2 if options.rules else 1]
                _count(step, payloads, options.count)
        return
    print(f"calibration: sum(range(1000)) = {_calibration():.1f} µs")
    print(
        f"{'workload':48} {'map+validate/s':>15} {'µs/record':>10} {'map only/s':>12} "
        f"{'+rules µs':>10}"
    )
    for name, (platform, entity, payloads) in _workloads().items():
        if options.only not in name:
            continue
        lease = _lease(platform, entity)

        mapped, whole, ruled = _steps(lease, entity)
        full, only, checked = (
            _rate(step, payloads, options.seconds, options.rounds)
            for step in (whole, mapped, ruled)
        )
        mark = "  (target ≥ 10,000)" if name == HEADLINE else ""
        print(
            f"{name:48} {full:15,.0f} {1e6 / full:10.1f} {only:12,.0f} {1e6 / checked:10.1f}{mark}"
        )
    print(f"calibration: sum(range(1000)) = {_calibration():.1f} µs")


if __name__ == "__main__":
    main()
