"""Flags: what is wrong with an appointment now, for the front desk (the appointment's
`flags` field, GET /appointments?flagged=true, the change feed and webhooks, /metrics).

Each code has ONE owner that computes it from the current state and calls reconcile()
with the appointments it looked at and the codes it owns: calendar imports own
`external_busy`, the texts' reconciler `instructions_undeliverable`, the schedule's
integrity checks their rule codes. A flag stays while its owner wants it, its message kept
current, and goes when the problem is gone; an owner never touches another's codes.

    reconcile(appointment_ids, codes, wanted, now) -> list[FlagChange]

wanted maps an appointment id to {code: message}; every id must be in appointment_ids and
every code in codes (anything else is a programming error: ValueError). For those
appointments and only those codes it adds the missing flags (since = now), updates the
messages that changed (since kept), removes the flags no longer wanted, and records each
change on the change feed: `appointment.flagged` (added, or a new message; data: code,
message) or `appointment.unflagged` (data: code). It runs in the caller's transaction: one
read, then a few statements for whatever changed (none when nothing did).

No appointment row is written, so no lock is taken on one (callers lock patients and
locations in their own order): the appointment's ETag carries a digest of its flags
instead (Appointment.etag_extra).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...extensions import db
from ...models import Appointment, AppointmentFlag
from ..calendars import changes

CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
FLAGGED, UNFLAGGED = "appointment.flagged", "appointment.unflagged"
MESSAGE_CHARS = 300


@dataclass(frozen=True)
class FlagChange:
    appointment_id: int
    code: str
    action: str             # "added" | "updated" | "removed"
    message: str | None     # None when removed


def reconcile(appointment_ids: Iterable[int], codes: Iterable[str],
              wanted: Mapping[int, Mapping[str, str]], now: dt.datetime) -> list[FlagChange]:
    ids, codes = set(appointment_ids), set(codes)
    want = _checked(ids, codes, wanted)
    if not ids or not codes:
        return []
    have = {(a, c): m for a, c, m in db.session.execute(
        select(AppointmentFlag.appointment_id, AppointmentFlag.code, AppointmentFlag.message)
        .where(AppointmentFlag.appointment_id.in_(ids), AppointmentFlag.code.in_(codes)))}
    out = [FlagChange(a, c, "added", m) for (a, c), m in want.items() if (a, c) not in have]
    out += [FlagChange(a, c, "updated", m) for (a, c), m in want.items()
            if (a, c) in have and have[a, c] != m]
    out += [FlagChange(a, c, "removed", None) for (a, c) in have if (a, c) not in want]
    out.sort(key=lambda f: (f.appointment_id, f.code))
    if out:
        _write(out, now)
        _record(out, now)
    return out


def _checked(ids: set, codes: set, wanted) -> dict[tuple[int, str], str]:
    bad = sorted(c for c in codes if not isinstance(c, str) or not CODE.match(c))
    if bad:
        raise ValueError(f"not flag codes: {bad}")
    out = {}
    for appointment_id, flags in wanted.items():
        if appointment_id not in ids:
            raise ValueError(f"appointment {appointment_id} is wanted but not in appointment_ids")
        for code, message in flags.items():
            if code not in codes:
                raise ValueError(f"code {code!r} is wanted but not among the owner's codes")
            out[appointment_id, code] = (message or code)[:MESSAGE_CHARS]
    return out


def _write(out: list[FlagChange], now: dt.datetime) -> None:
    added = [{"appointment_id": f.appointment_id, "code": f.code, "message": f.message,
              "since": now} for f in out if f.action == "added"]
    if added:
        # A concurrent owner run may have added the same flag since we read: keep one row.
        insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(AppointmentFlag).values(added)
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=["appointment_id", "code"], set_={"message": stmt.excluded.message}))
    for f in out:
        if f.action == "updated":
            db.session.execute(update(AppointmentFlag).where(
                AppointmentFlag.appointment_id == f.appointment_id, AppointmentFlag.code == f.code)
                .values(message=f.message).execution_options(synchronize_session=False))
    gone: dict[str, list[int]] = {}
    for f in out:
        if f.action == "removed":
            gone.setdefault(f.code, []).append(f.appointment_id)
    for code, ids in gone.items():
        db.session.execute(delete(AppointmentFlag).where(
            AppointmentFlag.code == code, AppointmentFlag.appointment_id.in_(ids))
            .execution_options(synchronize_session=False))
    # Appointments already in the session show their flags afresh when next read.
    for f in out:
        appt = db.session.identity_map.get(db.session.identity_key(Appointment, f.appointment_id))
        if appt is not None:
            db.session.expire(appt, ["flags"])


def _record(out: list[FlagChange], now: dt.datetime) -> None:
    appts = {a.id: a for a in db.session.scalars(
        select(Appointment).where(Appointment.id.in_({f.appointment_id for f in out})))}
    for f in out:
        if f.action == "removed":
            changes.record_appointment(UNFLAGGED, appts[f.appointment_id], now, code=f.code)
        else:
            changes.record_appointment(FLAGGED, appts[f.appointment_id], now, code=f.code,
                                       message=f.message)


def flagged_filter(flagged: bool | None = None, code: str | None = None):
    """A WHERE clause on Appointment: has at least one flag (flagged=True), none
    (flagged=False), and/or a flag with this code; None when neither is asked."""
    clauses = []
    if flagged is not None:
        has = select(AppointmentFlag.id).where(AppointmentFlag.appointment_id == Appointment.id).exists()
        clauses.append(has if flagged else ~has)
    if code is not None:
        clauses.append(select(AppointmentFlag.id).where(
            AppointmentFlag.appointment_id == Appointment.id, AppointmentFlag.code == code).exists())
    return and_(*clauses) if clauses else None


def flagged_ids(codes: Iterable[str], *where) -> list[int]:
    """Ids of appointments with a flag of one of these codes (and matching `where`)."""
    return list(db.session.scalars(select(AppointmentFlag.appointment_id)
                                   .join(Appointment, Appointment.id == AppointmentFlag.appointment_id)
                                   .where(AppointmentFlag.code.in_(list(codes)), *where).distinct()))


def counts_by_code() -> dict[str, int]:
    """How many appointments carry each code (for /metrics)."""
    return dict(db.session.execute(select(AppointmentFlag.code, func.count(AppointmentFlag.appointment_id.distinct()))
                                   .group_by(AppointmentFlag.code)).all())


