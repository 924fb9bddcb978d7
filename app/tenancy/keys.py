"""API key format, generation and hashing. A key is shown once; only its hash is stored.

Format: gw_<mode>_<lookup>_<secret> — the mode says where it writes, the lookup finds the row,
the secret (192 random bits) is only ever compared as a SHA-256 digest in constant time.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from app.tenancy.models import KeyMode

KEY_PATTERN = re.compile(r"^gw_(test|live)_([0-9a-f]{12})_([0-9a-f]{48})$")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class ParsedKey:
    mode: KeyMode
    lookup_id: str
    secret_hash: str


def generate_key(mode: KeyMode) -> tuple[str, ParsedKey]:
    lookup_id = secrets.token_hex(6)
    secret = f"gw_{mode.value}_{lookup_id}_{secrets.token_hex(24)}"
    return secret, ParsedKey(mode, lookup_id, hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(secret: str) -> ParsedKey | None:
    match = KEY_PATTERN.fullmatch(secret)
    if match is None:
        return None
    return ParsedKey(KeyMode(match.group(1)), match.group(2), hash_secret(secret))


def display_prefix(parsed: ParsedKey) -> str:
    return f"gw_{parsed.mode.value}_{parsed.lookup_id}"


def hashes_match(stored_hash: str | None, presented_hash: str) -> bool:
    """Constant-time; compares against a dummy when no row exists so timing says nothing."""
    return (
        hmac.compare_digest(stored_hash or _DUMMY_HASH, presented_hash) and stored_hash is not None
    )
