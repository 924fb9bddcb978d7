"""HubSpot CRM v3 contacts map to standard Audience records that validate against the contract."""

from typing import Any

import pytest

from app.contracts.entities import Audience, Entity
from app.contracts.fields import SourcePlatform
from app.transform.context import ClientDefaults
from app.transform.loader import load_mappings
from app.transform.mapping import RecordMapper
from tests.unit.transform.conftest import fixture

UK_CLIENT = ClientDefaults(region="GB")


@pytest.fixture(scope="module")
def mapper() -> RecordMapper:
    return RecordMapper(load_mappings()[(SourcePlatform.HUBSPOT, Entity.AUDIENCE)], UK_CLIENT)


def _contacts() -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = fixture("hubspot_contacts.json")["results"]
    return results


GOLDEN = [
    {
        "source_platform": "hubspot",
        "external_id": "51",
        "source_updated_at": "2026-11-01T10:00:00.123Z",
        "email": "ana.silva@example.com",
        "phone": "+442079460018",  # national format, read in the client's region
        "first_name": "Ana",
        "last_name": "Silva",
        "country": "GB",
        "city": "London",
        "lifecycle_stage": "customer",
        "attributes": {"company": "Atelier Nord", "hubspot_created_at": "2026-03-04T10:11:12.345Z"},
    },
    {
        "source_platform": "hubspot",
        "external_id": "1051",
        "source_updated_at": "2026-10-30T17:45:00Z",
        "phone": "+4915123456789",  # phone is empty: the mobile number is used
        "first_name": "Jonas",
        "last_name": "Müller",
        "country": "DE",  # from alpha-3
        "city": "Berlin",
        "lifecycle_stage": "lead",
        "attributes": {"hubspot_created_at": "2019-10-31T00:00:00Z"},
    },
    {
        "source_platform": "hubspot",
        "external_id": "2203",
        "source_updated_at": "2026-10-02T09:30:00Z",
        "email": "info@nordlicht.de",
        "country": "DE",  # 'deutschland'
        "lifecycle_stage": "marketingqualifiedlead",
        "attributes": {"company": "Nordlicht GmbH", "hubspot_created_at": "2026-05-20T08:00:00Z"},
    },
]


@pytest.mark.parametrize(("position", "expected"), list(enumerate(GOLDEN)))
def test_contacts_map_to_golden_audience_records(
    mapper: RecordMapper, position: int, expected: dict[str, Any]
) -> None:
    data, errors = mapper.map(_contacts()[position])
    assert errors == []
    assert data == expected
    Audience.model_validate(data)


def test_without_the_envelope_ids_and_dates_the_properties_are_used(mapper: RecordMapper) -> None:
    contact = _contacts()[0]
    del contact["id"], contact["updatedAt"], contact["createdAt"]
    contact["properties"]["createdate"] = "1572480000000"  # a date property as epoch ms
    data, errors = mapper.map(contact)
    assert errors == []
    assert data["external_id"] == "51"
    assert data["source_updated_at"] == "2026-11-01T10:00:00.123Z"
    assert data["attributes"]["hubspot_created_at"] == "2019-10-31T00:00:00Z"


def test_bad_contact_fields_name_the_property(mapper: RecordMapper) -> None:
    contact = _contacts()[0]
    contact["properties"] |= {"email": "ana.silva@", "country": "Korea", "phone": "12"}
    data, errors = mapper.map(contact)
    found = {(e.code, e.dotted_path, getattr(e, "source", None)) for e in errors}
    assert found == {
        ("invalid_email", "email", "properties.email"),
        ("invalid_country", "country", "properties.country"),
        ("invalid_phone", "phone", "properties.phone"),
    }
    assert "email" not in data and "country" not in data


def test_a_contact_without_id_or_update_time_is_reported(mapper: RecordMapper) -> None:
    _, errors = mapper.map({"properties": {"email": "a@example.com"}})
    assert {(e.code, e.dotted_path) for e in errors} == {
        ("missing_source", "external_id"),
        ("missing_source", "source_updated_at"),
    }
    message = next(e.message for e in errors if e.dotted_path == "external_id")
    assert message.startswith("id | properties.hs_object_id → external_id")


def test_properties_that_are_not_an_object(mapper: RecordMapper) -> None:
    contact = _contacts()[0] | {"properties": ["email"]}
    _, errors = mapper.map(contact)
    assert {e.code for e in errors} == {"invalid_type"}
    assert any("properties should be an object, not list" in e.message for e in errors)
