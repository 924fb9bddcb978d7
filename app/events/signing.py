"""Standard Webhooks signing: `whsec_` secrets, and the three headers every delivery carries."""

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(
    message_id: str, sent_at: datetime, body: str, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """One `v1,<base64>` signature per secret, space-separated: during a rotation overlap a
    receiver holding either the old or the new secret verifies the delivery."""
    signatures = [Webhook(secret).sign(message_id, sent_at, body) for secret in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
