"""Gateway-issued sandbox credentials. The gateway stores only hashes of API keys, so its workers
cannot present a client's test key to the sandbox; instead they present a per-client token that
only the holder of `secret_key` can mint:

    gw_sbx_<client_id>_<hex HMAC-SHA256(secret_key, "sandbox:<client_id>")>

The sandbox emulators accept it (see app.api.auth.sandbox_tenant) as that client's test tenant."""

import hashlib
import hmac
import re

PREFIX = "gw_sbx_"
_TOKEN = re.compile(r"^gw_sbx_([A-Za-z0-9_]{1,40})_([0-9a-f]{64})$")


def _signature(secret_key: str, client_id: str) -> str:
    message = f"sandbox:{client_id}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def sandbox_token(secret_key: str, client_id: str) -> str:
    if not secret_key:
        raise ValueError("A sandbox token needs a non-empty secret key (GATEWAY_SECRET_KEY).")
    return f"{PREFIX}{client_id}_{_signature(secret_key, client_id)}"


def is_sandbox_token(token: str) -> bool:
    return token.startswith(PREFIX)


def verify_sandbox_token(secret_key: str, token: str) -> str | None:
    """The client id the token was minted for, or None when it is malformed or forged."""
    match = _TOKEN.fullmatch(token)
    if match is None or not secret_key:
        return None
    client_id, presented = match.groups()
    if not hmac.compare_digest(_signature(secret_key, client_id), presented):
        return None
    return client_id
