"""What an asset's bytes are stored as: the origin's type checked against the client's
declaration and the asset's kind, and inline base64 content decoded within the size limit."""

import base64

import pytest

from app.assets.errors import AssetInvalid, AssetTooLarge, AssetWrongContentType
from app.assets.media import decode_inline, media_type


@pytest.mark.parametrize(
    ("kind", "declared", "received", "name", "stored"),
    [
        ("image", None, "image/png", None, "image/png"),
        ("image", "image/jpeg", "Image/JPEG; charset=binary", None, "image/jpeg"),
        ("image", "image/webp", "application/octet-stream", None, "image/webp"),
        ("image", None, None, "front.jpg", "image/jpeg"),
        ("video", None, "binary/octet-stream", "teaser.mp4", "video/mp4"),
        ("audio", None, "audio/mpeg", None, "audio/mpeg"),
        ("document", None, "application/pdf", None, "application/pdf"),
        ("document", "text/csv", "text/csv", None, "text/csv"),
    ],
)
def test_the_stored_type_comes_from_the_origin_then_the_declaration(
    kind: str, declared: str | None, received: str | None, name: str | None, stored: str
) -> None:
    assert media_type(kind, declared, received, name) == stored


@pytest.mark.parametrize(
    ("kind", "declared", "received", "name", "says"),
    [
        ("image", None, "text/html", None, "image asset cannot be text/html"),
        ("image", "image/png", "image/jpeg", None, "declared image/png"),
        ("video", None, "image/gif", None, "video asset cannot be image/gif"),
        ("audio", None, "video/mp4", None, "audio asset cannot be video/mp4"),
        ("document", None, "image/png", None, "document asset cannot be image/png"),
        ("image", None, "application/octet-stream", None, "unknown"),
        ("image", None, None, "README", "unknown"),
    ],
)
def test_a_type_that_does_not_fit_is_refused_with_both_sides(
    kind: str, declared: str | None, received: str | None, name: str | None, says: str
) -> None:
    with pytest.raises(AssetWrongContentType) as wrong:
        media_type(kind, declared, received, name)

    assert wrong.value.code == "asset_wrong_content_type"
    assert says in wrong.value.message


def test_inline_content_is_decoded() -> None:
    data = bytes(range(256)) * 3

    assert decode_inline(base64.b64encode(data).decode(), 1024) == data


def test_inline_content_that_is_not_base64_is_invalid() -> None:
    with pytest.raises(AssetInvalid) as invalid:
        decode_inline("not base64!", 1024)

    assert "content_base64" in invalid.value.message


def test_inline_content_over_the_limit_is_too_large() -> None:
    encoded = base64.b64encode(b"x" * 1025).decode()

    with pytest.raises(AssetTooLarge) as large:
        decode_inline(encoded, 1024)

    assert large.value.limit == 1024 and large.value.size == 1025
    with pytest.raises(AssetTooLarge) as much_larger:
        decode_inline(base64.b64encode(b"x" * 4096).decode(), 1024)
    assert much_larger.value.size is None  # refused before decoding
