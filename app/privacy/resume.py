"""Finishing erasures whose caller died: every API process sweeps for runs nobody has touched
for GATEWAY_ERASURE_RESUME_INTERVAL_SECONDS and takes each over with a lease
(app.privacy.service.resume_unfinished), so two processes never carry on with the same run."""

from datetime import timedelta
from typing import TYPE_CHECKING

from app.periodic import Periodic

if TYPE_CHECKING:
    from app.services import Services


def erasure_resumer(services: "Services") -> Periodic:
    from app.privacy.service import resume_unfinished  # it builds on Services

    interval = services.settings.erasure_resume_interval_seconds
    idle_for = timedelta(seconds=interval)
    return Periodic(
        "privacy.resume_erasures", lambda: resume_unfinished(services, idle_for), interval
    )
