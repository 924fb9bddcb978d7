"""Which subscriber URLs a tenant may register. Live endpoints must be https and reach the public
internet only: no private, loopback, link-local or otherwise reserved address (checked when the
endpoint is saved and again before every delivery, since DNS answers change). Test-mode
endpoints may use http and local addresses, so a partner can point them at its own machine."""

from urllib.parse import urlsplit

from app.assets.errors import AssetAddressBlocked, AssetDnsFailed
from app.assets.guard import AddressPolicy, checked_addresses, system_resolver
from app.errors import FieldError, GatewayError

MAX_URL_LENGTH = 2048


class EndpointUrlRefused(GatewayError):
    def __init__(self, message: str, path: str = "url") -> None:
        super().__init__(
            "invalid_endpoint_url",
            message,
            errors=[FieldError("invalid_endpoint_url", message, (path,))],
        )


def check_shape(url: str, livemode: bool) -> str:
    """The URL's host, when its shape is acceptable for the mode."""
    if len(url) > MAX_URL_LENGTH:
        raise EndpointUrlRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    parts = urlsplit(url)
    allowed = {"https"} if livemode else {"https", "http"}
    if parts.scheme not in allowed:
        need = "https" if livemode else "http or https"
        raise EndpointUrlRefused(f"The URL must use {need}.")
    if not parts.hostname:
        raise EndpointUrlRefused("The URL has no host.")
    try:
        parts.port  # noqa: B018 (an out-of-range or non-numeric port raises here)
    except ValueError:
        raise EndpointUrlRefused("The URL's port is not valid.") from None
    if parts.username or parts.password:
        raise EndpointUrlRefused("The URL must not carry credentials; sign with the secret.")
    return parts.hostname


async def check_reachable_publicly(url: str, livemode: bool) -> None:
    """Refuse live URLs whose host is, or resolves to, a non-public address (the asset
    fetcher's address policy, with no exemptions)."""
    host = check_shape(url, livemode)
    if not livemode:
        return
    parts = urlsplit(url)
    port = parts.port or 443
    try:
        await checked_addresses(host, port, AddressPolicy(), system_resolver)
    except AssetDnsFailed:
        raise EndpointUrlRefused(f"The host {host} does not resolve.") from None
    except AssetAddressBlocked as blocked:
        raise EndpointUrlRefused(
            f"The host {host} resolves to {blocked.address}, a {blocked.rule} address; live "
            "endpoints must be on the public internet."
        ) from None
