"""Phone numbers → E.164 with phonenumbers, national numbers read in the client's region."""

import phonenumbers

from app.transform.errors import NormalisationError
from app.transform.normalise.text import clean_text


def _invalid(why: str) -> NormalisationError:
    # The number itself stays out of the message: errors reach logs and job reports.
    return NormalisationError("invalid_phone", f"Not a phone number: {why}.")


def normalise_phone(value: object, default_region: str | None = None) -> str:
    """'+44 20 7946 0018', '020 7946 0018' (region GB) → '+442079460018'."""
    text = clean_text(
        str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    )
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise _invalid(str(error).split(") ", 1)[-1].rstrip(".")) from None
    if not phonenumbers.is_valid_number(number):
        raise _invalid("not a valid number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
