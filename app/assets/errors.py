"""Why an asset could not be stored: one error per cause, each with a code the caller records as
the quarantine reason and a message a person can act on. `retryable` says whether the same asset
may succeed later without any change on the client's side (a timeout, an origin 5xx)."""

from app.errors import GatewayError


class AssetError(GatewayError):
    retryable: bool = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, kind="invalid_request")


class AssetInvalid(AssetError):
    def __init__(self, message: str) -> None:
        super().__init__("asset_invalid", message)


class AssetUrlRefused(AssetError):
    """Not an absolute http(s) URL with a host."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__("asset_url_refused", f"The asset URL {url!r} is refused: {reason}.")


class AssetDnsFailed(AssetError):
    retryable = True

    def __init__(self, host: str, detail: str) -> None:
        super().__init__("asset_dns_failed", f"The asset host {host} does not resolve: {detail}.")
        self.host = host


class AssetAddressBlocked(AssetError):
    """The host resolves to an address the gateway never fetches from; `rule` names the class
    (e.g. `loopback`, `private`, `ipv4_mapped:link_local`)."""

    def __init__(self, host: str, address: str, rule: str) -> None:
        super().__init__(
            "asset_address_blocked",
            f"The asset host {host} resolves to {address}, a {rule} address; assets are fetched "
            "only from public addresses.",
        )
        self.host = host
        self.address = address
        self.rule = rule


class AssetUnreachable(AssetError):
    retryable = True

    def __init__(self, host: str, detail: str) -> None:
        super().__init__("asset_unreachable", f"The asset host {host} is unreachable: {detail}.")
        self.host = host


class AssetTimeout(AssetError):
    retryable = True

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(
            "asset_timeout", f"Fetching the asset from {url} took longer than {seconds:g} s."
        )
        self.seconds = seconds


class AssetHttpStatus(AssetError):
    def __init__(self, url: str, status: int) -> None:
        super().__init__("asset_http_status", f"The asset origin answered {status} for {url}.")
        self.status = status
        self.retryable = status == 429 or status >= 500


class AssetTooManyRedirects(AssetError):
    def __init__(self, url: str, limit: int) -> None:
        super().__init__(
            "asset_too_many_redirects",
            f"Fetching {url} was redirected more than {limit} times.",
        )
        self.limit = limit


class AssetTooLarge(AssetError):
    def __init__(self, limit: int, size: int | None = None) -> None:
        size_text = f" ({size} bytes)" if size is not None else ""
        super().__init__(
            "asset_too_large",
            f"The asset is larger than the limit of {limit} bytes{size_text}.",
        )
        self.limit = limit
        self.size = size


class AssetWrongContentType(AssetError):
    def __init__(self, message: str) -> None:
        super().__init__("asset_wrong_content_type", message)


class AssetChecksumMismatch(AssetError):
    def __init__(self, declared: str, actual: str) -> None:
        super().__init__(
            "asset_checksum_mismatch",
            f"The asset's bytes have SHA-256 {actual}, not the declared {declared}.",
        )


class AssetFolderMissing(AssetError):
    def __init__(self, kind: str) -> None:
        super().__init__(
            "asset_folder_missing",
            f"The client's AMS has no Drive folder for {kind} assets; provision the client first.",
        )
