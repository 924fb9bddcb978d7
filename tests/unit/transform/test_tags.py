"""Tags from comma strings, lists or {name}/{label} objects: trimmed, first spelling wins."""

import pytest

from app.transform.errors import NormalisationError
from app.transform.normalise import normalise_tags


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("summer, linen, new-arrival", ["summer", "linen", "new-arrival"]),  # Shopify REST
        ("Summer, linen ,SUMMER,, LINEN ,Summer ", ["Summer", "linen"]),  # mixed-case duplicates
        (["summer", "Linen", "LINEN"], ["summer", "Linen"]),  # Shopify GraphQL
        (
            [{"id": 12, "name": "Shirts", "slug": "shirts"}, {"id": 9, "name": "shirts"}],
            ["Shirts"],
        ),  # WooCommerce
        ([{"label": "VIP"}, {"label": " vip "}, {"name": None, "label": "Gold"}], ["VIP", "Gold"]),
        (["a, b"], ["a, b"]),  # list items are never split
        ("", []),
        (" , ,", []),
        (None, []),
        ([], []),
        (["Straße", "STRASSE"], ["Straße"]),  # casefold
        (["Caf\u0065\u0301", "Café"], ["Café"]),  # NFC before comparing
        ("Caf\u0065\u0301, Café,\tcafé\x00", ["Café"]),  # not ASCII: cleaned the general way
        ("a\tb,  a b, c\n,c", ["a b", "c"]),  # ASCII with controls: the general way too
    ],
)
def test_tags(raw: object, expected: list[str]) -> None:
    assert normalise_tags(raw) == expected


def test_unsplit_single_value() -> None:
    assert normalise_tags("Shirts, Tops", split=False) == ["Shirts, Tops"]


@pytest.mark.parametrize("raw", [5, {"name": "x"}, [5], [["nested"]], True])
def test_tags_of_the_wrong_type(raw: object) -> None:
    with pytest.raises(NormalisationError) as caught:
        normalise_tags(raw)
    assert caught.value.code == "invalid_type"
