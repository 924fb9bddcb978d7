"""Settings: safe defaults, and a secret key the embedded shape needs no set-up for."""

import stat

from app.settings import Settings


def test_the_embedded_secret_key_is_random_private_and_shared_by_processes(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    first, second = Settings(database_url=url), Settings(database_url=url)
    assert len(first.secret_key) == 64
    assert first.secret_key == second.secret_key  # every process on this database agrees
    secret_file = tmp_path / "gateway.db.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    other = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    assert other.secret_key != first.secret_key


def test_an_explicit_secret_key_wins_and_writes_no_file(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    assert Settings(database_url=url, secret_key="set-by-operator").secret_key == "set-by-operator"
    assert not (tmp_path / "gateway.db.secret").exists()


def test_scale_out_without_a_secret_key_gets_none_rather_than_a_guessable_one():
    settings = Settings(database_url="postgresql+asyncpg://gateway@db/gateway", secret_key="")
    assert settings.secret_key == ""
