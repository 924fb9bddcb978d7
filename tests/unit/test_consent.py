"""Email consent precedence: an unsubscribe from any platform wins over consent that is not newer;
a newer re-subscription wins like any newer value."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from app.contracts.entities import Entity
from app.records.consent import (
    ConsentFact,
    StoredConsent,
    consent_of,
    settle_consent,
    unsubscribe_wins,
)
from app.records.resolutions import ResolutionKind
from app.records.validation import ValidRecord, validate_record

EMAIL = "ana.silva@example.com"


def audience(
    platform: str,
    external_id: str,
    updated: str,
    consent: str | None,
    consent_at: str | None = None,
    email: str = EMAIL,
) -> ValidRecord:
    record: dict[str, Any] = {
        "external_id": external_id,
        "source_platform": platform,
        "source_updated_at": updated,
        "email": email,
        "first_name": "Ana",
    }
    if consent is not None:
        record["email_consent"] = consent
    if consent_at is not None:
        record["consent_updated_at"] = consent_at
    valid = validate_record(Entity.AUDIENCE, orjson.dumps(record))
    assert isinstance(valid, ValidRecord), valid
    return valid


def stored(record: ValidRecord, row_id: str = "rec_1") -> StoredConsent:
    key = (record.source_platform, record.external_id)
    return StoredConsent(row_id, key, str(record.data["email"]), consent_of(key, record.data))


def fact(state: str | None, at: str) -> ConsentFact:
    return ConsentFact(("hubspot", "1"), state, datetime.fromisoformat(at).astimezone(UTC), at)


def key(record: ValidRecord) -> tuple[str, str]:
    return (record.source_platform, record.external_id)


@pytest.mark.parametrize(
    ("other", "wins"),
    [
        (fact("subscribed", "2026-11-01T09:00:00Z"), True),  # older subscribe
        (fact("subscribed", "2026-11-01T10:00:00Z"), True),  # same time: the unsubscribe
        (fact("subscribed", "2026-11-01T11:00:00Z"), False),  # a newer re-subscription
        (fact("pending", "2026-11-01T09:00:00Z"), True),
        (fact(None, "2026-11-02T00:00:00Z"), True),  # a record that says nothing about consent
        (fact("unsubscribed", "2026-11-01T09:00:00Z"), False),  # nothing to change
    ],
)
def test_an_unsubscribe_wins_over_consent_that_is_not_newer(other, wins):
    unsubscribe = fact("unsubscribed", "2026-11-01T10:00:00Z")
    assert unsubscribe_wins(unsubscribe, other) is wins


def test_a_newer_record_with_an_older_subscribe_keeps_the_stored_unsubscribe():
    """HubSpot sends a name change (newer record) still carrying its older 'subscribed'."""
    unsubscribed = audience(
        "hubspot", "51", "2026-11-01T10:00:00Z", "unsubscribed", "2026-11-01T10:00:00Z"
    )
    incoming = audience(
        "hubspot", "51", "2026-11-03T10:00:00Z", "subscribed", "2026-10-01T00:00:00Z"
    )
    settled = settle_consent({key(incoming): incoming}, [stored(unsubscribed)], {key(incoming)})
    record = settled.records[key(incoming)]
    assert record.data["email_consent"] == "unsubscribed"
    assert record.data["consent_updated_at"] == "2026-11-01T10:00:00Z"
    assert record.data["first_name"] == "Ana"  # the rest of the newer record is kept
    assert record.content_hash != incoming.content_hash
    [resolution] = settled.resolutions
    assert resolution.kind is ResolutionKind.CONSENT_KEPT
    assert resolution.detail["winner"] == {"source_platform": "hubspot", "external_id": "51"}
    assert resolution.detail["replaced"] == "subscribed"
    assert EMAIL not in orjson.dumps(resolution.detail).decode()  # no personal data in history
    assert settled.propagate == {}


def test_an_unsubscribe_from_another_platform_wins_regardless_of_ownership():
    """Shopify says unsubscribed; a later HubSpot push of the same person says subscribed
    (given earlier): the person stays unsubscribed."""
    shopify = audience(
        "shopify", "7001", "2026-11-02T08:00:00Z", "unsubscribed", "2026-11-02T08:00:00Z"
    )
    hubspot = audience(
        "hubspot", "51", "2026-11-03T10:00:00Z", "subscribed", "2026-06-01T00:00:00Z"
    )
    settled = settle_consent({key(hubspot): hubspot}, [stored(shopify, "rec_s")], {key(hubspot)})
    assert settled.records[key(hubspot)].data["email_consent"] == "unsubscribed"
    assert settled.resolutions[0].detail["winner"]["source_platform"] == "shopify"


def test_a_newer_resubscription_wins():
    unsubscribed = audience(
        "shopify", "7001", "2026-11-01T08:00:00Z", "unsubscribed", "2026-11-01T08:00:00Z"
    )
    again = audience("hubspot", "51", "2026-11-05T10:00:00Z", "subscribed", "2026-11-05T10:00:00Z")
    settled = settle_consent({key(again): again}, [stored(unsubscribed)], {key(again)})
    assert settled.records[key(again)] is again
    assert settled.resolutions == []


def test_an_incoming_unsubscribe_is_applied_to_the_other_platforms_copies():
    subscribed = audience(
        "hubspot", "51", "2026-11-01T10:00:00Z", "subscribed", "2026-10-01T00:00:00Z"
    )
    other_person = audience(
        "hubspot", "52", "2026-11-01T10:00:00Z", "subscribed", email="bo@example.com"
    )
    unsubscribe = audience(
        "shopify", "7001", "2026-11-02T08:00:00Z", "unsubscribed", "2026-11-02T08:00:00Z"
    )
    settled = settle_consent(
        {key(unsubscribe): unsubscribe},
        [stored(subscribed, "rec_h"), stored(other_person, "rec_o")],
        {key(unsubscribe)},
    )
    assert set(settled.propagate) == {"rec_h"}
    row, winner = settled.propagate["rec_h"]
    assert row.key == ("hubspot", "51") and winner.key == ("shopify", "7001")


def test_a_stale_unsubscribe_still_reaches_its_own_record():
    """An out-of-order delivery: the unsubscribe's record is older than the stored one, but its
    consent is newer than the stored consent."""
    current = audience(
        "shopify", "7001", "2026-11-03T10:00:00Z", "subscribed", "2026-10-01T00:00:00Z"
    )
    late = audience(
        "shopify", "7001", "2026-11-02T10:00:00Z", "unsubscribed", "2026-11-02T10:00:00Z"
    )
    settled = settle_consent({key(late): late}, [stored(current, "rec_c")], written=set())
    assert set(settled.propagate) == {"rec_c"}


def test_within_one_chunk_the_unsubscribe_wins_over_another_platforms_older_subscribe():
    subscribe = audience(
        "hubspot", "51", "2026-11-01T10:00:00Z", "subscribed", "2026-11-01T09:00:00Z"
    )
    unsubscribe = audience(
        "shopify", "7001", "2026-11-01T09:30:00Z", "unsubscribed", "2026-11-01T09:30:00Z"
    )
    chunk = {key(subscribe): subscribe, key(unsubscribe): unsubscribe}
    settled = settle_consent(chunk, [], set(chunk))
    assert settled.records[key(subscribe)].data["email_consent"] == "unsubscribed"
    assert settled.records[key(unsubscribe)] is unsubscribe
