"""Comparing a base's rows with the gateway's records: only real differences count (Airtable's
reading of a cell is not one), duplicates keep the row the sync tracks, and the sample is as
large as the 1%-at-95% question needs."""

from typing import Any

import pytest

from app.ams.fieldmap import table_maps
from app.contracts.entities import Entity
from app.integrations.airtable import AirtableRecord
from app.reconciliation.compare import Columns, Expected, compare
from app.reconciliation.models import MismatchKind
from app.reconciliation.sampling import sample_size
from app.settings import ROOT_DIR
from tests.helpers import shopify_product

CONTRACTS = ROOT_DIR / "contracts"
TABLE_MAP = table_maps(CONTRACTS)[Entity.PRODUCT]
COLUMNS = Columns.of(TABLE_MAP, CONTRACTS)


def expected(number: int, row_id: str | None = None) -> Expected:
    data = shopify_product(number)
    data["price"] = {"amount": "49.90", "currency": "EUR"}
    cells = COLUMNS.expected(TABLE_MAP, data)
    return Expected(("shopify", data["external_id"]), row_id or f"rec{number:014d}", cells)


def as_airtable_reads(record: Expected, row_id: str, created: str = "2026-01-01T00:00:00.000Z"):
    """The row as Airtable returns it: empty cells absent, dateTimes in UTC with milliseconds."""
    fields: dict[str, Any] = {k: v for k, v in record.cells.items() if v not in (None, "", [])}
    fields["Source Created At"] = "2025-03-14T07:30:00.000Z"  # written as 08:30:00+01:00
    fields["Source Updated At"] = "2026-11-01T10:00:00.000Z"
    fields["Price"] = 49.9
    fields["Tags"] = ["summer", "linen", "bestseller"]
    fields |= {"External ID": record.key[1], "Source": "shopify"}
    return AirtableRecord(row_id, created, fields)


def test_airtables_reading_of_the_same_values_is_no_mismatch():
    record = expected(1)
    assert compare(COLUMNS, [record], [as_airtable_reads(record, "rec1")], {}).findings == []


def test_a_changed_and_an_emptied_column_are_found_by_name():
    record = expected(1)
    row = as_airtable_reads(record, "rec1")
    row.fields["Name"] = "Edited"
    del row.fields["Vendor"]
    [finding] = compare(COLUMNS, [record], [row], {}).findings
    assert (finding.kind, finding.columns) == (MismatchKind.FIELD, ("Name", "Vendor"))


def test_duplicates_keep_the_tracked_row_and_unknown_rows_are_extra_unless_archived():
    record = expected(1, row_id="recTracked0000001")
    tracked = as_airtable_reads(record, "recTracked0000001", "2026-02-01T00:00:00.000Z")
    older = as_airtable_reads(record, "recOlderCopy00001", "2026-01-01T00:00:00.000Z")
    stranger = AirtableRecord("recStranger000001", "x", {"External ID": "x", "Source": "custom"})
    archived = AirtableRecord("recArchived000001", "x", {"External ID": "y", "Source": "custom"})
    archived.fields[COLUMNS.archive or "Archived"] = True
    found = compare(COLUMNS, [record], [tracked, older, stranger, archived], {}).findings
    kinds = {(f.kind, f.airtable_record_id) for f in found}
    expected_kinds = {
        (MismatchKind.DUPLICATE, "recOlderCopy00001"),
        (MismatchKind.EXTRA, "recStranger000001"),
    }
    if COLUMNS.archive is None:  # the field map has no archive column (yet)
        expected_kinds.add((MismatchKind.EXTRA, "recArchived000001"))
    assert kinds == expected_kinds


def test_a_sample_reports_no_extra_rows_and_a_missing_row_is_missing():
    record = expected(1)
    stranger = AirtableRecord("recStranger000001", "x", {"External ID": "x", "Source": "custom"})
    [finding] = compare(COLUMNS, [record], [stranger], None).findings
    assert finding.kind is MismatchKind.MISSING


@pytest.mark.parametrize(
    ("population", "size"),
    [(0, 0), (1, 1), (30, 29), (100, 95), (1_000, 258), (10_000, 294), (1_000_000, 299)],
)
def test_the_sample_catches_a_1_percent_mismatch_rate_with_95_percent_confidence(population, size):
    assert sample_size(population, 0.01, 0.95) == size
