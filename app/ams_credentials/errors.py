"""The error a live client's AMS sync fails with when nothing says which accounts to write with."""

from app.errors import GatewayError
from app.integrations.errors import AmsNotConfigured


class AmsCredentialsMissing(AmsNotConfigured):
    """A live client has no credentials of its own for a service and the gateway has no
    gateway-wide ones: its AMS sync fails with this (recorded in viewer.amsSync and the
    onboarding reason), and nothing is written anywhere, least of all to the sandbox."""

    def __init__(self, services: list[str], settings_names: list[str]) -> None:
        GatewayError.__init__(
            self,
            "ams_credentials_missing",
            f"ams_credentials_missing: this live client has no {' or '.join(services)} "
            "credentials. An operator sets them with setAmsCredentials (or the gateway sets "
            f"{' and '.join(settings_names)} for every live client without its own). "
            "Live data is never written to the sandbox.",
            kind="invalid_request",
        )
        self.services = services
