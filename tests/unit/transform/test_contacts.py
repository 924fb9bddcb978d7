"""Emails lower-cased and syntax-checked, phones in E.164, countries as ISO alpha-2."""

import pytest

from app.transform.errors import NormalisationError
from app.transform.normalise import normalise_country, normalise_email, normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana.Silva@Example.COM ", "ana.silva@example.com"),
        ("ANA+news@EXAMPLE.co.uk", "ana+news@example.co.uk"),
        ("josé@exämple.de", "josé@exämple.de"),
    ],
)
def test_emails(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["ana", "ana@", "@example.com", "ana@@example.com", "ana@example", "a b@example.com", 5]
)
def test_bad_emails(raw: object) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_email(raw)
    assert caught.value.code in {"invalid_email", "invalid_type"}


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44 20 7946 0018", None, "+442079460018"),
        ("+44 20 7946 0018", "US", "+442079460018"),  # an international number ignores region
        ("020 7946 0018", "GB", "+442079460018"),  # national format, client's region
        ("(020) 7946-0018", "gb", "+442079460018"),
        ("0044 20 7946 0018", "DE", "+442079460018"),  # international prefix from Germany
        ("07911 123456", "GB", "+447911123456"),  # UK mobile
        ("(415) 555-0132", "US", "+14155550132"),
        ("+1 415-555-0132", None, "+14155550132"),
        ("030 901820", "DE", "+4930901820"),
        (4930901820, "DE", "+4930901820"),  # a number, read as national digits
    ],
)
def test_phones(raw: object, region: str | None, expected: str) -> None:
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("020 7946 0018", None),  # national number and no region to read it in
        ("12345", "GB"),
        ("+44 20", None),
        ("call me", "GB"),
        ("+999 1234 5678", None),
        (True, "GB"),
    ],
)
def test_bad_phones(raw: object, region: str | None) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_phone(raw, region)
    assert caught.value.code in {"invalid_phone", "invalid_type"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("deu", "DE"),
        ("GBR", "GB"),
        ("Germany", "DE"),
        ("germany", "DE"),
        ("  United Kingdom ", "GB"),
        ("United States", "US"),
        ("United States of America", "US"),  # official name
        ("USA", "US"),
        ("UK", "GB"),  # alias
        ("Deutschland", "DE"),  # alias
        ("Holland", "NL"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Côte d'Ivoire", "CI"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("Russia", "RU"),  # fuzzy, one country only: Russian Federation
        ("Macedonia", "MK"),  # fuzzy: North Macedonia
        ("276", "DE"),  # ISO numeric
    ],
)
def test_countries(raw: str, expected: str) -> None:
    assert normalise_country(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "Korea",  # North or South: never guessed
        "Congo Republic",
        "Guinea-ish",
        "Paris",  # a city, not a country
        "Bavaria",
        "XX",
        "ZZZ",
        "",
        "Atlantis",
    ],
)
def test_unidentifiable_countries_are_errors(raw: str) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_country(raw)
    assert caught.value.code == "invalid_country"
