"""Text is NFC, trimmed and free of control characters; HTML becomes plain text with its
paragraphs, and scripts and styles vanish with their content."""

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.transform.errors import NormalisationError
from app.transform.normalise import clean_multiline, clean_text, html_line, html_to_text
from app.transform.normalise.html import _markup_to_text, _plain_ascii_markup_to_text
from app.transform.normalise.text import flow_spaces, is_plain_ascii, without_controls


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Linen Shirt  ", "Linen Shirt"),
        ("Cafe\u0301", "Café"),  # NFD → NFC
        ("Linen\x00 Shirt\x07", "Linen Shirt"),  # control characters removed
        ("Linen\u200bShirt\ufeff", "LinenShirt"),  # zero-width space and BOM removed
        ("Linen\n\tShirt", "Linen Shirt"),  # one line: whitespace runs become one space
        ("Linen\rShirt\x0bBlue", "Linen Shirt Blue"),  # a lone CR or VT still separates words
        ("Linen\u00a0 Shirt", "Linen Shirt"),
        ("bad \ud800 surrogate", "bad surrogate"),  # a lone surrogate from a broken escape
        ("\U0001f469\u200d\U0001f4bb coder", "\U0001f469\u200d\U0001f4bb coder"),  # ZWJ kept
        ("", ""),
    ],
)
def test_single_line_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_multiline_text_keeps_lines_and_tabs() -> None:
    raw = "  First line  \r\nSecond\tline\x0b\r\n\r\n\r\n\r\nThird\u2028Fourth  "
    assert clean_multiline(raw) == "First line\nSecond\tline\n\nThird\nFourth"


@pytest.mark.parametrize("raw", [None, 42, ["a"], {"text": "a"}, b"bytes"])
def test_text_must_be_a_string(raw: object) -> None:
    with pytest.raises(NormalisationError) as caught:
        clean_text(raw)
    assert caught.value.code == "invalid_type"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Breathable linen.</p><p>Relaxed fit.</p>", "Breathable linen.\n\nRelaxed fit."),
        ("Line one<br>Line two<br/>Line three", "Line one\nLine two\nLine three"),
        ("<p>Hi</p><script>alert('x')</script><p>there</p>", "Hi\n\nthere"),
        ("<style>p { color: red }</style><p>Styled</p>", "Styled"),
        ('<p onclick="steal()">Click</p><img src=x onerror=alert(1)>', "Click"),
        (
            "<p>Fish &amp; chips &lt;3 &eacute;t&eacute; &#8364;5&nbsp;only</p>",
            "Fish & chips <3 été €5 only",
        ),
        ("<ul><li>Linen</li><li>Cotton</li></ul>", "- Linen\n- Cotton"),
        (  # nh3 keeps title and lang on any tag unless told not to
            '<p title="Intro">One</p><p lang="en">Two</p><ul><li title="x">Three</li></ul>',
            "One\n\nTwo\n\n- Three",
        ),
        ("<h2>Care</h2>\n\n   <p>Machine   wash\n cold.</p>", "Care\n\nMachine wash cold."),
        ("<p><strong>Bold</strong> and <em>italic</em></p>", "Bold and italic"),
        ("<div><p>Nested</p></div><!-- a comment -->", "Nested"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("<p>Unclosed <b>tags", "Unclosed tags"),
        ("<SCRIPT>document.cookie</SCRIPT>Safe", "Safe"),
        ("<iframe src='https://evil.example'></iframe>Safe", "Safe"),
        ("Plain text", "Plain text"),
        ("", ""),
    ],
)
def test_html_becomes_plain_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_escaped_markup_stays_visible_text() -> None:
    assert html_to_text("&lt;script&gt;x&lt;/script&gt;") == "<script>x</script>"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Linen <b>Shirt</b>", "Linen Shirt"),
        ("Salt &amp; Pepper", "Salt & Pepper"),
        ("<p>Linen Shirt</p>\n<p>Relaxed fit</p>", "Linen Shirt Relaxed fit"),
        ("Linen<br>Shirt", "Linen Shirt"),
        ("Linen Shirt<script>alert(1)</script>", "Linen Shirt"),
        ("  Linen \t Shirt ", "Linen Shirt"),
        ("&lt;b&gt;bold&lt;/b&gt; claims", "&lt;b>bold&lt;/b> claims"),  # still not a tag
    ],
)
def test_a_name_with_html_becomes_one_line_of_text(name: str, expected: str) -> None:
    assert html_line(name) == expected


@pytest.mark.parametrize("name", ["A < B", "Salt & Pepper", "5<6", "R&D", "Q&A;", "x <3 y"])
def test_a_name_that_only_mentions_markup_characters_stays_as_written(name: str) -> None:
    assert html_line(name) == name


def test_plain_text_in_an_html_field_keeps_its_line_breaks() -> None:
    assert html_to_text("Breathable linen.\n\nRelaxed fit,\nmachine wash.") == (
        "Breathable linen.\n\nRelaxed fit,\nmachine wash."
    )


def test_a_large_description_is_handled() -> None:
    html = "<p>" + "linen " * 200_000 + "</p><script>" + "x" * 1000 + "</script>"
    text = html_to_text(html)
    assert text.startswith("linen linen") and "x" not in text


# The normalisers take faster ways than these plain definitions; they must give the same text.
_RUN_OF_SPACES = re.compile(r"\s+")
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_LINE_SPACES = re.compile(r"[^\S\n\t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
WHITESPACE_HEAVY = st.lists(
    st.text(max_size=4)
    | st.sampled_from([" ", "  ", "\t", "\t" * 7, "\n", "\n" * 9, " \n", "\t\n", "\r\n", "\xa0"])
    | st.sampled_from(["\u3000", "\u2028", "\x0b", "\x1c", "\x85", "<br>", "<li>a</li>", "<p>"]),
    max_size=12,
).map("".join)


def _plain_nfc_without_controls(text: str) -> str:
    return unicodedata.normalize("NFC", without_controls(_LINE_BREAKS.sub("\n", text)))


def _plain_multiline(text: str) -> str:
    text = _LINE_SPACES.sub(" ", _plain_nfc_without_controls(text))
    lines = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", lines).strip()


@settings(max_examples=400)
@given(WHITESPACE_HEAVY)
def test_fast_text_paths_match_their_definitions(text: str) -> None:
    assert flow_spaces(text) == _RUN_OF_SPACES.sub(" ", text)
    assert clean_text(text) == _RUN_OF_SPACES.sub(" ", _plain_nfc_without_controls(text)).strip()
    assert clean_multiline(text) == _plain_multiline(text)
    assert is_plain_ascii(text) == (
        text.isascii() and text.replace("\n", "").replace("\t", "").isprintable()
    )


# Sanitised markup as nh3 writes it, and some it does not write (attributes, other tags and
# entities, a bare < or &): the fast way for plain ASCII must give what the general way gives.
SANITISED_MARKUP = st.lists(
    st.sampled_from(["<p>", "</p>", "<ul>", "</ul>", "<li>", "</li>", "<br>", "<h2>", "</h2>"])
    | st.sampled_from(['<p title="t">', "<br/>", "<b>", "<pre>", "</li >", "<", "&", "&x;"])
    | st.sampled_from(["&amp;", "&lt;", "&gt;", "&nbsp;", "&amp;lt;", "&eacute;", "&#60;"])
    | st.sampled_from([" ", "  ", "\n", "\n\n", " \n", "\t"])
    | st.text(alphabet="ab-;/", max_size=3),
    max_size=16,
).map("".join)


@settings(max_examples=400)
@given(SANITISED_MARKUP)
def test_the_fast_way_for_sanitised_ascii_matches_the_general_way(safe: str) -> None:
    assert _plain_ascii_markup_to_text(safe) == _markup_to_text(safe)


def test_long_runs_of_tabs_and_newlines_are_trimmed() -> None:
    text = "a" + "\t" * 50_000 + "\n" + "\n" * 50_000 + "b \t \n"
    assert clean_multiline(text) == "a\n\nb"
