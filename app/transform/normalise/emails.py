"""Email addresses: syntax-checked with email-validator (no DNS), lower-cased."""

import re

from email_validator import EmailNotValidError, validate_email

from app.transform.errors import NormalisationError
from app.transform.normalise.text import clean_text

_QUOTED = re.compile(r"'[^']{2,}'")  # a quoted single character ('@', '_') names no one


def normalise_email(value: object) -> str:
    text = clean_text(value)
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        # The address itself stays out of the message: errors reach logs and job reports.
        # email-validator quotes parts of the address in some messages (IDNA errors): drop them.
        message = f"Not an email address: {_QUOTED.sub('…', str(error))}"
        raise NormalisationError("invalid_email", message) from None
    return checked.normalized.lower()
