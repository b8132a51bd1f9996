"""A provider's busy time: imported blocks for the scheduling rules, and every source merged
for GET /providers/{id}/busy (JSON or VFREEBUSY)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ...adapters.ical_feed import render_freebusy
from ...domain import intervals as iv
from ...domain.errors import Invalid
from ...domain.intervals import Interval
from ...domain.vocabulary import OCCUPYING_STATUSES
from ...extensions import db
from ...models import Appointment, BusyBlock, Provider, TimeOff
from ..platform import records

MAX_WINDOW = dt.timedelta(days=366)


def busy_blocks(provider_ids, lo: dt.datetime, hi: dt.datetime) -> dict[int, list[Interval]]:
    """Busy time imported from the providers' own calendars, overlapping [lo, hi)."""
    out: dict[int, list[Interval]] = {}
    if not provider_ids:
        return out
    for pid, a, b in db.session.execute(select(BusyBlock.provider_id, BusyBlock.start_at, BusyBlock.end_at)
                                        .where(BusyBlock.provider_id.in_(list(provider_ids)),
                                               BusyBlock.start_at < hi, BusyBlock.end_at > lo)):
        out.setdefault(pid, []).append(Interval(a, b))
    return out


def busy(provider_id: int, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """The provider's busy time in [start, end): each source merged, sources side by side."""
    records.get(Provider, provider_id)
    if end <= start:
        raise Invalid("end must be after start.", errors={"end": ["Must be after start."]})
    if end - start > MAX_WINDOW:
        raise Invalid("At most a year at a time.", errors={"end": ["At most 366 days after start."]})
    window = Interval(start, end)
    appts = db.session.execute(select(Appointment.start_at, Appointment.provider_busy_end).where(
        Appointment.provider_id == provider_id, Appointment.status.in_(OCCUPYING_STATUSES),
        Appointment.start_at < end, Appointment.provider_busy_end > start)).all()
    offs = db.session.execute(select(TimeOff.start_at, TimeOff.end_at).where(
        TimeOff.provider_id == provider_id, TimeOff.start_at < end, TimeOff.end_at > start)).all()
    blocks = db.session.execute(select(BusyBlock.start_at, BusyBlock.end_at).where(
        BusyBlock.provider_id == provider_id, BusyBlock.start_at < end, BusyBlock.end_at > start)).all()
    out = []
    for source, rows in (("appointment", appts), ("time_off", offs), ("external", blocks)):
        for piece in iv.clip(iv.merge(Interval(a, b) for a, b in rows if b > a), window):
            out.append({"start": piece.start, "end": piece.end, "source": source})
    return sorted(out, key=lambda b: (b["start"], b["source"]))


def freebusy_ics(provider_id: int, start: dt.datetime, end: dt.datetime) -> bytes:
    provider = records.get(Provider, provider_id)
    merged = iv.merge(Interval(b["start"], b["end"]) for b in busy(provider_id, start, end))
    return render_freebusy(provider.name, start, end, [(p.start, p.end) for p in merged], dtstamp=start)
