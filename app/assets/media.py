"""What an asset's bytes are: the media type they are stored under, checked against the kind the
client declared, and inline content decoded."""

import base64
import binascii
import mimetypes

from app.assets.errors import AssetInvalid, AssetTooLarge, AssetWrongContentType

# Types an origin sends when it does not know; the client's declaration then decides.
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/binary"}
MEDIA_MAJOR = {"image": "image", "video": "video", "audio": "audio"}


def essence(content_type: str | None) -> str:
    """`Image/JPEG; charset=x` → `image/jpeg`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def guessed_type(name: str | None) -> str | None:
    if not name:
        return None
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed


def media_type(kind: str, declared: str | None, received: str | None, name: str | None) -> str:
    """The type to store the asset under. A specific type from the origin must agree with the
    declared one; a generic or missing one falls back to the declaration, then to the file name.
    Whatever results must fit the asset's kind."""
    declared, received = essence(declared), essence(received)
    if received not in GENERIC_TYPES:
        if declared and declared != received:
            raise AssetWrongContentType(
                f"The asset was declared {declared} but its origin sent {received}."
            )
        chosen = received
    else:
        chosen = declared or essence(guessed_type(name))
    if not chosen:
        raise AssetWrongContentType(
            "The asset's type is unknown: its origin sent none, and it declares no mime_type "
            "or file name to tell."
        )
    if not fits_kind(kind, chosen):
        raise AssetWrongContentType(f"A {kind} asset cannot be {chosen}.")
    return chosen


def fits_kind(kind: str, content_type: str) -> bool:
    major = content_type.split("/", 1)[0]
    if kind in MEDIA_MAJOR:
        return major == MEDIA_MAJOR[kind]
    return major not in MEDIA_MAJOR.values() and major != "multipart"


def decode_inline(content_base64: str, max_bytes: int) -> bytes:
    """Inline content, refused when it is not base64 or decodes to more than `max_bytes`."""
    if len(content_base64) // 4 * 3 > max_bytes + 3:
        raise AssetTooLarge(max_bytes)
    try:
        data = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError) as error:
        raise AssetInvalid(f"content_base64 is not valid base64: {error}.") from error
    if len(data) > max_bytes:
        raise AssetTooLarge(max_bytes, len(data))
    return data
