"""Secrets at rest (connection secrets, subscriber signing secrets, platform tokens): encrypted
with Fernet (AES-128-CBC + HMAC-SHA256) under keys from settings, with rotation.

`GATEWAY_ENCRYPTION_KEYS` lists Fernet keys, newest first: the first encrypts, every one decrypts.
Without it, one key is derived from the secret key, so the embedded shape needs no set-up.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.errors import GatewayError
from app.settings import Settings

DERIVATION_CONTEXT = b"smart-gateway secrets at rest v1"


class EncryptionNotConfigured(GatewayError):
    def __init__(self) -> None:
        super().__init__(
            "encryption_not_configured",
            "Set GATEWAY_ENCRYPTION_KEYS or GATEWAY_SECRET_KEY before storing secrets.",
            kind="configuration",
        )


class UndecryptableSecret(GatewayError):
    def __init__(self) -> None:
        super().__init__(
            "undecryptable_secret",
            "A stored secret cannot be decrypted with the configured keys (was a key removed "
            "from GATEWAY_ENCRYPTION_KEYS too early?).",
            kind="configuration",
        )


def derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVATION_CONTEXT)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@lru_cache(maxsize=8)
def _cipher(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _keys(settings: Settings) -> tuple[bytes, ...]:
    if settings.encryption_keys is not None:
        listed = settings.encryption_keys.get_secret_value().split(",")
        return tuple(key.strip().encode() for key in listed if key.strip())
    if settings.secret_key:
        return (derived_key(settings.secret_key),)
    raise EncryptionNotConfigured()


def encrypt(settings: Settings, plaintext: str) -> str:
    return _cipher(_keys(settings)).encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return _cipher(_keys(settings)).decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret() from None


def is_current(settings: Settings, token: str) -> bool:
    """Whether the newest key already opens this token (nothing to re-encrypt). Raises
    UndecryptableSecret when no configured key does."""
    keys = _keys(settings)
    try:
        Fernet(keys[0]).decrypt(token.encode())
    except InvalidToken:
        decrypt(settings, token)  # an older key may still open it; if none does, this raises
        return False
    return True


def reencrypt(settings: Settings, token: str) -> str:
    """The same secret under the newest key (key rotation)."""
    try:
        return _cipher(_keys(settings)).rotate(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret() from None
