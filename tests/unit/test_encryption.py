import pytest
from cryptography.fernet import Fernet

from app.encryption import (
    EncryptionNotConfigured,
    UndecryptableSecret,
    decrypt,
    derived_key,
    encrypt,
    reencrypt,
)
from app.settings import Settings


def _settings(**values: object) -> Settings:
    return Settings(database_url="postgresql+asyncpg://unused/db", **values)


def test_round_trip_with_the_key_derived_from_the_secret_key():
    settings = _settings(secret_key="k" * 64)
    token = encrypt(settings, "shpss_secret")
    assert "shpss_secret" not in token
    assert decrypt(settings, token) == "shpss_secret"


def test_rotation_old_tokens_decrypt_until_reencrypted_under_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = _settings(encryption_keys=old)
    token = encrypt(before, "whsec_abc")
    during = _settings(encryption_keys=f"{new},{old}")
    assert decrypt(during, token) == "whsec_abc"
    rotated = reencrypt(during, token)
    after = _settings(encryption_keys=new)
    assert decrypt(after, rotated) == "whsec_abc"
    with pytest.raises(UndecryptableSecret):
        decrypt(after, token)


def test_a_different_secret_key_cannot_decrypt():
    token = encrypt(_settings(secret_key="a" * 64), "x")
    with pytest.raises(UndecryptableSecret):
        decrypt(_settings(secret_key="b" * 64), token)
    assert derived_key("a" * 64) != derived_key("b" * 64)


def test_without_any_key_nothing_is_stored():
    with pytest.raises(EncryptionNotConfigured):
        encrypt(_settings(secret_key=""), "x")
