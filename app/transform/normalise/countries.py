"""Countries → ISO 3166-1 alpha-2 with pycountry: codes, names, a few common aliases, and a
fuzzy match on country names only as a last resort that must name exactly one country."""

import unicodedata

import pycountry

from app.transform.errors import NormalisationError
from app.transform.normalise.text import clean_text

# Names people write that ISO does not list (keys normalised as by _folded).
ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "holland": "NL",
    "deutschland": "DE",
    "turkey": "TR",
    "ivory coast": "CI",
    "swaziland": "SZ",
    "south korea": "KR",
    "north korea": "KP",
    "u.s.": "US",
    "u.s.a.": "US",
}
FUZZY_MIN_LENGTH = 4


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _names(country: object) -> list[str]:
    fields = ("name", "official_name", "common_name")
    return [_folded(name) for field in fields if (name := getattr(country, field, None))]


def _fuzzy(query: str) -> str | None:
    """The one country whose name contains the query; None when none or several do."""
    if len(query) < FUZZY_MIN_LENGTH:
        return None
    found = {c.alpha_2 for c in pycountry.countries if any(query in n for n in _names(c))}
    return found.pop() if len(found) == 1 else None


def normalise_country(value: object) -> str:
    text = clean_text(value)
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        pass
    query = _folded(text)
    code = ALIASES.get(query) or _fuzzy(query)
    if code is None:
        raise NormalisationError(
            "invalid_country",
            f"{text!r} is not a country we can identify for certain; send ISO 3166-1 alpha-2.",
        )
    return code
