"""docs/data-handling.md promises retention periods: they must be the defaults the settings hold."""

import re

from app.observability.metrics import RETENTION_PURGED, RETENTION_RUNS
from app.retention.service import MIN_AUDIT_DAYS
from app.settings import ROOT_DIR, Settings

DOC = ROOT_DIR / "docs" / "data-handling.md"
# Each retention default a client relies on, by the environment variable that sets it.
RETENTION_SETTINGS = {
    "GATEWAY_RETENTION_RAW_PAYLOAD_DAYS": "retention_raw_payload_days",
    "GATEWAY_RETENTION_QUARANTINE_DAYS": "retention_quarantine_days",
    "GATEWAY_RETENTION_JOB_DETAIL_DAYS": "retention_job_detail_days",
    "GATEWAY_AUDIT_RETENTION_DAYS": "audit_retention_days",
}
TABLE_ROW = re.compile(r"^\|[^|]+\|\s*(\d+) days\s*\|\s*`(GATEWAY_[A-Z_]+)`\s*\|", re.MULTILINE)


def documented_days() -> dict[str, int]:
    """The retention table's rows: `| kind | N days | `GATEWAY_…` | what is removed |`."""
    return {name: int(days) for days, name in TABLE_ROW.findall(DOC.read_text(encoding="utf-8"))}


def test_the_document_states_every_retention_default_as_the_settings_hold_it():
    defaults = {
        variable: Settings.model_fields[field].default
        for variable, field in RETENTION_SETTINGS.items()
    }
    assert documented_days() == defaults


def test_every_retention_setting_is_in_the_table():
    retention_fields = {
        name
        for name in Settings.model_fields
        if name.startswith("retention_") and name.endswith("_days")
    }
    assert retention_fields <= set(RETENTION_SETTINGS.values()), "document the new period"


def test_the_purge_knobs_and_the_metric_are_named_as_the_code_names_them():
    text = DOC.read_text(encoding="utf-8")
    for field in ("retention_purge_interval_seconds", "retention_purge_batch_size"):
        assert f"GATEWAY_{field.upper()}" in text
    for metric in (RETENTION_PURGED, RETENTION_RUNS):
        [family] = metric.describe()
        assert f"{family.name}_total" in text  # counters are exposed with _total
    assert f"{MIN_AUDIT_DAYS} days at least" in text
