"""Text is NFC, trimmed and free of control characters; HTML becomes plain text with its
paragraphs, and scripts and styles vanish with their content."""

import pytest

from app.transform.errors import NormalisationError
from app.transform.normalise import clean_multiline, clean_text, html_to_text


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


def test_plain_text_in_an_html_field_keeps_its_line_breaks() -> None:
    assert html_to_text("Breathable linen.\n\nRelaxed fit,\nmachine wash.") == (
        "Breathable linen.\n\nRelaxed fit,\nmachine wash."
    )


def test_a_large_description_is_handled() -> None:
    html = "<p>" + "linen " * 200_000 + "</p><script>" + "x" * 1000 + "</script>"
    text = html_to_text(html)
    assert text.startswith("linen linen") and "x" not in text
