"""Caps over a patient's whole plan: which candidate texts get a place in a capped day and
week (local dates and ISO weeks, Monday to Sunday, in the patient's zone).

Texts already sent or in flight and one-off texts (replies, waitlist offers) are fixed:
they count first. The planner's candidates then take places in priority order (highest
first; then the earliest; then by key, so the result never depends on input order). Each
candidate has one or more send times to try, in order; at each it either fits under both
caps, or, when its content is only "when and where" (ABSORBABLE), merges into a text of
the same visit already placed that local day (the host then goes at the earlier of the two
times, so no news reaches the patient later), or tries its next time. A candidate that
finds no place is dropped with the reason of its first time ("cap_day" or "cap_week").

Greedy by priority: a lower text never takes a place a higher one could use; a text
already sent is never displaced.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Iterable

ABSORBABLE = frozenset({"confirmation", "reminder", "moved"})


@dataclass
class Draft:
    """One text the planner wants: its fixed facts, then what planning decides."""
    key: str
    kind: str
    appointment_id: object
    priority: int
    nominal: datetime
    deadline: datetime
    announced: datetime               # the start this text tells the patient
    old: datetime | None = None       # moved: the start the patient was last told
    fixed_at: datetime | None = None  # in flight: claimed at this time, already counted
    candidates: list[datetime] = field(default_factory=list)
    send_at: datetime | None = None
    reason: str | None = None
    body: str = ""


@dataclass(frozen=True)
class Host:
    """A text of a visit already sent or in flight today, able to carry a merged one."""
    appointment_id: object
    kind: str
    at: datetime


def _slot(t: datetime, zone: tzinfo) -> tuple[date, tuple[int, int]]:
    local_day = t.astimezone(zone).date()
    return local_day, tuple(local_day.isocalendar())[:2]


def allocate(drafts: list[Draft], fixed: Iterable[datetime], hosts: Iterable[Host],
             zone: tzinfo, max_per_day: int, max_per_week: int) -> None:
    """Set send_at or reason on every draft that has candidates and no reason yet.
    fixed: the send times of texts already counted (sent, in flight, one-off)."""
    per_day, per_week = Counter(), Counter()
    for t in fixed:
        day, week = _slot(t, zone)
        per_day[day] += 1
        per_week[week] += 1
    placed: list[Draft] = []
    for d in drafts:  # in flight: already counted, and a host like any placed text
        if d.reason is None and d.fixed_at is not None:
            d.send_at = d.fixed_at
            placed.append(d)
    held = [(h.appointment_id, _slot(h.at, zone)[0], h.kind) for h in hosts]
    live = [d for d in drafts if d.reason is None and d.fixed_at is None]
    for d in sorted(live, key=lambda d: (-d.priority, d.candidates[0], d.key)):
        first_block = None
        for t in d.candidates:
            day, week = _slot(t, zone)
            if per_day[day] < max_per_day and per_week[week] < max_per_week:
                d.send_at = t
                per_day[day] += 1
                per_week[week] += 1
                placed.append(d)
                break
            if d.kind in ABSORBABLE:
                host = next((p for p in placed if p.appointment_id == d.appointment_id
                             and _slot(p.send_at, zone)[0] == day), None)
                if host is not None:
                    if host.fixed_at is None:
                        host.send_at = min(host.send_at, t)
                    d.reason = f"merged_into:{host.kind}"
                    break
                sent = next((kind for appt, sent_day, kind in held
                             if appt == d.appointment_id and sent_day == day), None)
                if sent is not None:
                    d.reason = f"merged_into:{sent}"
                    break
            first_block = first_block or ("cap_day" if per_day[day] >= max_per_day
                                          else "cap_week")
        else:
            d.reason = first_block
