"""merge the branches built side by side from 0007_client_defaults: AMS sync, quarantine,
inbound webhooks, rate limits, outbound events, asset uploads, and key lifecycle → audit → usage
→ partner reports

Revision ID: 0019_merge
Revises: 0008_ams_sync, 0009_quarantine, 0010_webhooks_in, 0011_rate_limits, 0012_events_out,
    0013_assets, 0018_partner_reports
"""

from collections.abc import Sequence

revision: str = "0019_merge"
down_revision: str | Sequence[str] | None = (
    "0008_ams_sync",
    "0009_quarantine",
    "0010_webhooks_in",
    "0011_rate_limits",
    "0012_events_out",
    "0013_assets",
    "0018_partner_reports",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
