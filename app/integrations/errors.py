"""Errors the AMS adapters raise: domain errors with a code a person can act on."""

from app.errors import GatewayError


class AmsNotConfigured(GatewayError):
    """A client's AMS writes have nowhere to go: never silently redirected to the sandbox."""

    def __init__(self, message: str) -> None:
        super().__init__("ams_not_configured", message, kind="invalid_request")


class AmsRequestError(GatewayError):
    """Airtable or Drive refused a request; `status` and `error_type` are theirs, verbatim."""

    def __init__(self, service: str, status: int, error_type: str, message: str) -> None:
        super().__init__("ams_request_failed", f"{service} {status} {error_type}: {message}")
        self.service = service
        self.status = status
        self.error_type = error_type
