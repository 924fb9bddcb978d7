"""The Prometheus view of the audits this process ran: the mismatches of each client's latest
run, summed per entity and kind (so a clean run of one client never hides another's), and the
runs by result."""

import threading

from app.observability.metrics import RECONCILIATION_MISMATCHES, RECONCILIATION_RUNS
from app.reconciliation.models import MismatchKind, ReconciliationRun, RunStatus

_latest: dict[tuple[str, bool, str], dict[MismatchKind, int]] = {}
_lock = threading.Lock()


def observe(run: ReconciliationRun) -> None:
    if run.status == RunStatus.FAILED.value:
        RECONCILIATION_RUNS.labels(entity=run.entity, result="failed").inc()
        return
    counts = {kind: int(getattr(run, kind.value)) for kind in MismatchKind}
    result = "mismatched" if any(counts.values()) else "clean"
    RECONCILIATION_RUNS.labels(entity=run.entity, result=result).inc()
    with _lock:
        _latest[(run.client_id, run.livemode, run.entity)] = counts
        for kind in MismatchKind:
            total = sum(c[kind] for (_, _, e), c in _latest.items() if e == run.entity)
            RECONCILIATION_MISMATCHES.labels(entity=run.entity, kind=kind.value).set(total)
