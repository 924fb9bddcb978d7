"""Usage counters per client, mode, day and metric: raw daily numbers for billing."""

from sqlalchemy import BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base


class UsageDaily(Base):
    __tablename__ = "usage_daily"

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True, doc="UTC date, YYYY-MM-DD")
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
