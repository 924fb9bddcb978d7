"""What an erasure or export refuses, as domain errors with the offending field."""

from app.errors import FieldError, GatewayError


def invalid_subject(code: str, message: str, field: str | None = None) -> GatewayError:
    errors = [FieldError(code, message, ("input", field) if field else ("input",))]
    return GatewayError(code, message, errors=errors)


class PrivacyNotConfigured(GatewayError):
    def __init__(self) -> None:
        super().__init__(
            "privacy_not_configured",
            "Identifiers are hashed with a key derived from GATEWAY_SECRET_KEY, which is not set "
            "on this gateway.",
        )
