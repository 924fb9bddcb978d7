"""Recently verified keys, remembered for about a second per process, so a busy client's
requests do not each pay a database round trip to authenticate. Entries are keyed by the
secret's SHA-256 (never the secret); failures are never cached. A revocation or expiry is seen
by every process within `GATEWAY_KEY_CACHE_SECONDS`, and at once by the process that revoked."""

import time

from app.tenancy.keys import hash_secret
from app.tenancy.models import Principal

MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, secret: str) -> Principal | None:
        if self._seconds <= 0:
            return None
        found = self._entries.get(hash_secret(secret))
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, secret: str, principal: Principal) -> None:
        if self._seconds <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[hash_secret(secret)] = (principal, time.monotonic() + self._seconds)

    def forget_key(self, key_id: str) -> None:
        """After this process revoked or rotated the key."""
        self._entries = {
            digest: entry for digest, entry in self._entries.items() if entry[0].key_id != key_id
        }
