"""Generated inputs for every normaliser: the only error is NormalisationError, and normalising a
normalised value changes nothing (idempotence)."""

import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pycountry
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.transform import normalise as norm
from app.transform.errors import NormalisationError

BERLIN = ZoneInfo("Europe/Berlin")
MARKUP_LEFT = re.compile(r"<[A-Za-z!/?]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)
PIECES = ["\x00", "\r\n", "\u0301", "\u00ad", "\u200b", "\ufeff", "\ud800", "\xa0", "\t", "  "]
MARKUP = [",", "&amp;", "<p>", "<br>", "</li>", "<script>x</script>", "\n\n\n"]
AWKWARD_TEXT = st.lists(st.text(max_size=5) | st.sampled_from(PIECES + MARKUP), max_size=8).map(
    "".join
)
DATES = (
    st.datetimes(
        timezones=st.sampled_from([None, BERLIN, ZoneInfo("UTC"), ZoneInfo("America/New_York")])
    ).map(lambda moment: moment.isoformat())
    | st.integers(min_value=-(10**14), max_value=10**14)
    | st.from_regex(r"\A\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?( GMT|Z|\+0000)?\Z")
)
AMOUNTS = (
    st.decimals(allow_nan=True, allow_infinity=True).map(str)
    | st.from_regex(r"\A[+-]?\d{0,17}(\.\d{0,8})?\Z")
    | st.floats()
    | st.integers()
)
EMAILS = st.emails().map(lambda email: f" {email.upper()} ") | st.text(max_size=30)
PHONES = st.from_regex(r"\A\+?[0-9 ()-]{4,20}\Z") | st.integers() | st.text(max_size=20)
COUNTRIES = st.sampled_from(
    [c.name for c in pycountry.countries] + [c.alpha_3 for c in pycountry.countries]
) | st.text(max_size=20)
TAGS = st.text() | st.lists(
    st.text() | st.fixed_dictionaries({"name": st.text()}) | st.integers(), max_size=5
)


def _idempotent(normalise: Callable[[object], object], value: object) -> None:
    try:
        once = normalise(value)
    except NormalisationError:
        return
    assert normalise(once) == once


def _date(value: object) -> str:
    return norm.format_rfc3339(norm.parse_datetime(value, BERLIN))


@settings(max_examples=150)
@given(AWKWARD_TEXT | ANY_JSON)
@example("e\x00\u0301")  # a control character between a letter and its accent
def test_clean_text(value: object) -> None:
    _idempotent(norm.clean_text, value)


@settings(max_examples=150)
@given(AWKWARD_TEXT | ANY_JSON)
@example("e\ud800\u0301\r\n\r\n\r\n x")
def test_clean_multiline(value: object) -> None:
    _idempotent(norm.clean_multiline, value)


@settings(max_examples=150)
@given(AWKWARD_TEXT | ANY_JSON)
@example("a\ud800<p>b</p>")
def test_html_to_text(value: object) -> None:
    """Idempotent while the text it makes has no markup left: text that says '&lt;p&gt;'
    becomes '<p>', which a second pass reads as a tag."""
    try:
        once = norm.html_to_text(value)
    except NormalisationError:
        return
    if not MARKUP_LEFT.search(once):
        assert norm.html_to_text(once) == once


NAME_MARKUP = ["<b>", "</b>", "&lt;", "&gt;", "&amp;", "&amp;lt;", "<", "&", "5<6", "<p>", "<br>"]
NAMES = st.lists(st.text(max_size=4) | st.sampled_from(PIECES + NAME_MARKUP), max_size=10).map(
    "".join
)


@settings(max_examples=300)
@given(NAMES | AWKWARD_TEXT | ANY_JSON)
@example("&lt;b&gt;x")  # decoded, `<b` would read as a tag on the next pass
@example("<\x00b>y")  # a control between `<` and a letter
def test_html_line(value: object) -> None:
    """A name is one line, and normalising a normalised name changes nothing."""
    try:
        once = norm.html_line(value)
    except NormalisationError:
        return
    assert "\n" not in once
    assert norm.html_line(once) == once


@settings(max_examples=150)
@given(TAGS | ANY_JSON)
def test_tags(value: object) -> None:
    _idempotent(norm.normalise_tags, value)


@settings(max_examples=150)
@given(DATES | ANY_JSON)
def test_dates(value: object) -> None:
    _idempotent(_date, value)


@settings(max_examples=150)
@given(AMOUNTS | ANY_JSON, st.sampled_from([None, "EUR", "JPY", "KWD"]))
def test_amounts(value: object, currency: str | None) -> None:
    _idempotent(lambda amount: norm.normalise_amount(amount, currency), value)


@settings(max_examples=100)
@given(st.text(max_size=4) | ANY_JSON, st.sampled_from([None, "eur", "XTS"]))
def test_currencies(value: object, default: str | None) -> None:
    _idempotent(lambda code: norm.normalise_currency(code, default), value)


@settings(max_examples=100, deadline=None)
@given(EMAILS | ANY_JSON)
def test_emails(value: object) -> None:
    _idempotent(norm.normalise_email, value)


@settings(max_examples=100, deadline=None)
@given(PHONES | ANY_JSON, st.sampled_from([None, "GB", "DE", "us"]))
def test_phones(value: object, region: str | None) -> None:
    _idempotent(lambda phone: norm.normalise_phone(phone, region), value)


@settings(max_examples=100, deadline=None)
@given(COUNTRIES | ANY_JSON)
def test_countries(value: object) -> None:
    _idempotent(norm.normalise_country, value)
