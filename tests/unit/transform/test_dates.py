"""Dates from every platform shape become aware UTC datetimes, rendered RFC 3339 with Z."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.transform.errors import NormalisationError
from app.transform.normalise import format_rfc3339, parse_datetime, parse_epoch_ms
from app.transform.normalise.dates import rfc3339_of_iso_with_offset

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("raw", "zone", "expected"),
    [
        ("2026-11-01T10:00:00Z", UTC, "2026-11-01T10:00:00Z"),
        ("2026-11-01T10:00:00+00:00", UTC, "2026-11-01T10:00:00Z"),
        ("2026-11-01T05:00:00-05:00", UTC, "2026-11-01T10:00:00Z"),  # Shopify shop offset
        ("2024-06-03T08:15:40.000+0000", UTC, "2024-06-03T08:15:40Z"),  # Salesforce
        ("2026-11-01T10:00:00.123Z", UTC, "2026-11-01T10:00:00.123Z"),  # HubSpot
        ("2026-11-01T15:45:00+05:45", UTC, "2026-11-01T10:00:00Z"),  # Nepal: no DST, :45
        ("2026-11-01T15:30:00+05:30", UTC, "2026-11-01T10:00:00Z"),  # India: no DST, :30
        ("2026-11-01T06:30:00-03:30", UTC, "2026-11-01T10:00:00Z"),  # Newfoundland
        ("2026-11-01T10:00:00", UTC, "2026-11-01T10:00:00Z"),  # WooCommerce *_gmt, no Z
        ("2026-07-01T10:00:00", BERLIN, "2026-07-01T08:00:00Z"),  # local, summer time
        ("2026-01-15T10:00:00", BERLIN, "2026-01-15T09:00:00Z"),  # local, winter time
        ("2026-11-01 10:00:00", NEW_YORK, "2026-11-01T15:00:00Z"),  # after the DST switch
        ("2024-01-15", UTC, "2024-01-15T00:00:00Z"),  # Salesforce date
        ("2024-01-15", BERLIN, "2024-01-14T23:00:00Z"),
        ("Sun, 01 Nov 2026 10:00:00 GMT", BERLIN, "2026-11-01T10:00:00Z"),  # RFC 2822
        ("Tue, 01 Nov 2026 10:00:00 GMT", UTC, "2026-11-01T10:00:00Z"),  # wrong weekday
        ("01 Nov 2026 12:00:00 +0200", UTC, "2026-11-01T10:00:00Z"),
        ("2026-11-01 10:00:00 GMT", BERLIN, "2026-11-01T10:00:00Z"),
        ("2026-11-01T10:00:00 UTC", BERLIN, "2026-11-01T10:00:00Z"),
        ("  2026-11-01T10:00:00Z  ", UTC, "2026-11-01T10:00:00Z"),
    ],
)
def test_date_strings_become_utc(raw: str, zone: ZoneInfo, expected: str) -> None:
    assert format_rfc3339(parse_datetime(raw, zone)) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1572480000, "2019-10-31T00:00:00Z"),  # epoch seconds
        (1572480000000, "2019-10-31T00:00:00Z"),  # epoch milliseconds
        ("1572480000", "2019-10-31T00:00:00Z"),
        ("1572480000000", "2019-10-31T00:00:00Z"),  # HubSpot date property
        ("1572480000123", "2019-10-31T00:00:00.123Z"),
        (1572480000.5, "2019-10-31T00:00:00.500Z"),
        (0, "1970-01-01T00:00:00Z"),
        (100_000_000_000, "1973-03-03T09:46:40Z"),  # the threshold: milliseconds from here
    ],
)
def test_epochs_are_told_apart_by_magnitude(raw: object, expected: str) -> None:
    assert format_rfc3339(parse_datetime(raw)) == expected


def test_epoch_seconds_just_below_the_threshold_are_seconds_and_out_of_range() -> None:
    with pytest.raises(NormalisationError, match="outside 1900 to 2199"):
        parse_datetime(99_999_999_999)  # seconds: the year 5138


def test_datetime_and_date_objects() -> None:
    aware = datetime(2026, 11, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert parse_datetime(aware) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert parse_datetime(datetime(2026, 7, 1, 10), BERLIN) == datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert parse_datetime(date(2026, 11, 1)) == datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "yesterday",
        "2026-13-01T10:00:00Z",
        "2026-02-30",
        "31/12/2026",
        "9999-12-31T23:59:59Z",  # absurd
        "1899-12-31T23:59:59Z",
        "Tue, 45 Nov 2026 10:00:00 GMT",
        True,
        None,
        {"date": "2026-11-01"},
        ["2026-11-01"],
        float("nan"),
        float("inf"),
        10**30,
    ],
)
def test_unusable_dates_are_invalid_date_errors(raw: object) -> None:
    with pytest.raises(NormalisationError) as caught:
        parse_datetime(raw)
    assert caught.value.code == "invalid_date"
    assert caught.value.field_error(("source_updated_at",)).path == ("source_updated_at",)


def test_epoch_ms_is_strict_milliseconds() -> None:
    assert format_rfc3339(parse_epoch_ms("1572480000000")) == "2019-10-31T00:00:00Z"
    assert format_rfc3339(parse_epoch_ms(86_400_000)) == "1970-01-02T00:00:00Z"  # small ms
    for raw in ("2026-11-01", 1.5, True, None):
        with pytest.raises(NormalisationError, match="epoch milliseconds"):
            parse_epoch_ms(raw)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 1, 10, tzinfo=UTC), "2026-11-01T10:00:00Z"),
        (datetime(2026, 11, 1, 10, 0, 0, 120000, tzinfo=UTC), "2026-11-01T10:00:00.120Z"),
        (datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC), "2026-11-01T10:00:00.123456Z"),
        (datetime(2026, 11, 1, 11, tzinfo=BERLIN), "2026-11-01T10:00:00Z"),
        # UTC under other names, and odd offsets, all end as Z
        (datetime(2026, 11, 1, 10, 0, 0, 5000, tzinfo=ZoneInfo("UTC")), "2026-11-01T10:00:00.005Z"),
        (datetime(2026, 11, 1, 10, tzinfo=timezone(timedelta(0))), "2026-11-01T10:00:00Z"),
        (
            datetime(2026, 11, 1, 10, 30, 15, tzinfo=timezone(timedelta(minutes=30, seconds=15))),
            "2026-11-01T10:00:00Z",
        ),
    ],
)
def test_rfc3339_output(moment: datetime, expected: str) -> None:
    assert format_rfc3339(moment) == expected


def test_rfc3339_pads_early_years_to_four_digits() -> None:
    assert format_rfc3339(datetime(987, 6, 5, 4, 3, 2, tzinfo=UTC)) == "0987-06-05T04:03:02Z"


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-01T05:00:00-05:00",
        "2026-11-01T10:00:00.123Z",
        "2024-06-03T08:15:40.000+0000",
        "2026-11-01 15:45:00+05:45",
        "2199-12-31T23:59:59.999999+00:00",
    ],
)
def test_the_usual_iso_shortcut_gives_the_general_result(raw: str) -> None:
    assert rfc3339_of_iso_with_offset(raw) == format_rfc3339(parse_datetime(raw, BERLIN))


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-01T10:00:00",  # no offset: the client's zone applies
        "2026-11-01",
        " 2026-11-01T10:00:00Z",
        "2026-11-01T10:00:00 GMT",
        "1572480000",
        "Sun, 01 Nov 2026 10:00:00 GMT",
        "1899-12-31T23:59:59Z",  # out of range: the general way says why
        "9999-12-31T23:59:59+00:00",
        "yesterday",
    ],
)
def test_other_values_leave_the_shortcut_to_the_general_way(raw: str) -> None:
    assert rfc3339_of_iso_with_offset(raw) is None


def test_normalising_twice_changes_nothing() -> None:
    for raw in ("2026-11-01T05:00:00-05:00", "1572480000000", "Sun, 01 Nov 2026 10:00:00 GMT"):
        once = format_rfc3339(parse_datetime(raw, BERLIN))
        assert format_rfc3339(parse_datetime(once, BERLIN)) == once


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "Fri, 31 Dec 9999 23:59:59 -0100",
    ],
)
def test_a_date_leaving_years_1_to_9999_once_in_utc_is_out_of_range(raw: str) -> None:
    assert rfc3339_of_iso_with_offset(raw) is None
    with pytest.raises(NormalisationError, match="outside 1900 to 2199") as error:
        parse_datetime(raw)
    assert error.value.code == "invalid_date"
