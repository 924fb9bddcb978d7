"""Prefixed, time-ordered identifiers (`job_01m8…`): sortable, so cursors can page by id."""

import base64
import os
import time

# Standard base32 letters mapped onto Crockford's alphabet, which sorts in ASCII order.
_TO_SORTABLE = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghjkmnpqrstvwxyz")


def new_id(prefix: str) -> str:
    """48-bit millisecond timestamp then 80 random bits, as 26 base32 characters."""
    millis = time.time_ns() // 1_000_000
    raw = millis.to_bytes(6, "big") + os.urandom(10)
    return f"{prefix}_{base64.b32encode(raw)[:26].decode().translate(_TO_SORTABLE)}"
