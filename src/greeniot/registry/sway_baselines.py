"""Seasonal sway baselines kept in the registry, so a restarted analytics process judges each
tree against the baselines it had learned (a leaf-off baseline takes a winter to learn; the
sway bursts behind it are not replayed at a warm start).

One row per tree sensor and foliage state (:mod:`greeniot.analytics.sway.seasons`); created by
migration ``0013_sway_seasons``. :func:`save` overwrites a site's rows with the engine's
current baselines; :func:`load` gives them back for ``SwayStage.restore_baselines``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Float, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from greeniot.estate import SeasonBaseline
from greeniot.registry.models import ID, Base


class SwayBaselineRow(Base):
    """One tree sensor's sway baseline in one foliage state (0 evergreen, 1 leaf-on, 2 leaf
    fall, 3 leaf-off, 4 leaf-out)."""

    __tablename__ = "sway_baselines"

    site: Mapped[str] = mapped_column(String(ID), primary_key=True)
    device: Mapped[str] = mapped_column(String(ID), primary_key=True)
    state: Mapped[int] = mapped_column(Integer, primary_key=True)
    freq_hz: Mapped[float] = mapped_column(Float)
    damping: Mapped[float | None] = mapped_column(Float)
    n_bursts: Mapped[int] = mapped_column(Integer)
    newest_ms: Mapped[int] = mapped_column(BigInteger)
    scatter: Mapped[float] = mapped_column(Float)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


def save(session: Session, site: str, baselines: Sequence[SeasonBaseline], now_ms: int
         ) -> int:
    """Replace the site's stored baselines with ``baselines`` (of that site); returns rows."""
    rows = [b for b in baselines if b.site == site]
    session.execute(delete(SwayBaselineRow).where(SwayBaselineRow.site == site))
    session.add_all(SwayBaselineRow(
        site=b.site, device=b.device, state=b.state, freq_hz=b.freq_hz,
        damping=None if b.damping != b.damping else b.damping, n_bursts=b.n_bursts,
        newest_ms=b.newest_ms, scatter=b.scatter if b.scatter == b.scatter else 0.0,
        updated_ms=now_ms) for b in rows)
    session.commit()
    return len(rows)


def load(session: Session, site: str) -> list[SeasonBaseline]:
    """The site's stored baselines."""
    q = select(SwayBaselineRow).where(SwayBaselineRow.site == site).order_by(
        SwayBaselineRow.device, SwayBaselineRow.state)
    return [SeasonBaseline(r.site, r.device, r.state, r.freq_hz,
                           float("nan") if r.damping is None else r.damping, r.n_bursts,
                           r.newest_ms, r.scatter)
            for r in session.scalars(q)]
