"""A patient's texts as a function of their situation (PRODUCT.md, "Texts are a function of
the schedule"): plan_patient(situation, now) -> Plan, pure and deterministic.

Kinds, per visit (an appointment), keyed so that re-planning gives the same key for the
same intent (`{appt}` is the appointment id, `{t}` a UTC start like 2027-06-08T16:00Z):
- "{appt}:confirmation" until the patient has been told the visit's time (at booking);
- "{appt}:moved:{told}>{start}" when the visit is no longer at the time the patient was
  last told (the start announced by their latest sent or in-flight text of that visit);
  no notice when nothing was told yet (the pending confirmation names the new time) or
  when the visit is back at the told time;
- dosing: "{appt}:instructions:{t}" (the day before, the type's fast, the ride home and
  the RIDE reply) and "{appt}:reminder:{t}" 2 h before; other visits: "{appt}:reminder:{t}"
  the day before (text_rules.py);
- "{appt}:cancelled" for a cancelled visit when notify_on_cancel says so, by default only
  if the patient was told about it; it names the time the patient was told.
A key found in the history is not planned again ("sent" or "failed"); one in flight
("sending") comes back as a planned text with in_flight=True while it is still true
(same start, not stale, patient reachable): the sender may finish it; any other in-flight
key is left out, so the reconciler voids it.

Times and caps use the PATIENT's zone; caps (plan_caps.py) count every text around the
time it is sent. Priorities (higher wins a capped day or week, across all visits):
PRIORITY below. Skip reasons: stale, too_late, quiet_hours, opted_out, no_consent,
no_phone, template/text error codes (text_too_long, ...), cap_day, cap_week,
merged_into:<kind>. A dosing visit whose instructions are not planned, in flight or sent
gets a Task("instructions_undeliverable", reason) (reason "delivery_failed" when sending
failed) so the front desk calls the patient.
"""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from .plan_caps import Draft, Host, allocate
from .plan_types import (
    PLANNED_STATUSES, ClinicInfo, OneOff, Plan, PlannedText, SentText, Situation, Task, Visit,
    stamp, text_key,
)
from .templates import TemplateError, format_date, format_time, render
from .text_rules import UTC, PlanningError, Policy, aware, fit_send_time, local_wall, session_windows

__all__ = ["ClinicInfo", "OneOff", "Plan", "PlannedText", "Policy", "PlanningError",
           "PRIORITY", "SentText", "Situation", "Task", "Visit", "plan_patient", "stamp",
           "text_key"]

# Pre-session instructions carry the safety rules no other text does; the dosing 2-hour
# reminder is next; then what stops a wasted trip or a wrong one (cancelled, moved), then
# news of a booking, then the day-before reminder of other visits.
PRIORITY = {"instructions": 60, "dosing_reminder": 50, "cancelled": 40, "moved": 35,
            "confirmation": 30, "reminder": 20}
# A capped confirmation or notice tries the mornings of the next days (still useful);
# capped instructions try the day before their usual day.
DEFERRABLE = frozenset({"confirmation", "moved", "cancelled"})
DEFER_DAYS = 7
DEFAULT_MORNING = time(9, 0)  # when there are no quiet hours to end


def _told(entries: list[SentText], exclude_start: datetime | None = None) -> datetime | None:
    """The start announced by the latest sent or in-flight text (in-flight ones count: they
    may have reached the phone), leaving out in-flight texts announcing exclude_start."""
    told = [e for e in entries if e.state in ("sent", "sending") and e.announced_start
            and not (e.state == "sending" and exclude_start is not None
                     and aware(e.announced_start, "announced_start") == exclude_start)]
    return aware(told[-1].announced_start, "announced_start") if told else None


def _visit_drafts(v: Visit, entries: list[SentText], now: datetime, zone) -> list[Draft]:
    a, start = v.appointment_id, v.start.astimezone(UTC)
    if v.status == "cancelled":
        told = _told(entries)
        if not (v.notify_on_cancel if v.notify_on_cancel is not None else told is not None):
            return []
        said = told or start
        return [Draft(text_key(a, "cancelled"), "cancelled", a, PRIORITY["cancelled"],
                      aware(v.changed_at or now, "changed_at"), said, said)]
    if v.status not in PLANNED_STATUSES:
        return []
    drafts = []
    told = _told(entries, exclude_start=start)
    if told is None:
        drafts.append(Draft(text_key(a, "confirmation"), "confirmation", a,
                            PRIORITY["confirmation"], aware(v.booked_at or now, "booked_at"),
                            start, start))
    elif told != start:
        drafts.append(Draft(text_key(a, "moved", start, told), "moved", a, PRIORITY["moved"],
                            aware(v.changed_at or now, "changed_at"), start, start, old=told))
    for kind, nominal, deadline in session_windows(start, v.category, v.instructions, zone):
        rank = "dosing_reminder" if (kind, v.category) == ("reminder", "dosing") else kind
        drafts.append(Draft(text_key(a, kind, start), kind, a, PRIORITY[rank], nominal,
                            deadline, start))
    return drafts


def _candidates(d: Draft, now: datetime, zone, policy: Policy) -> None:
    qs, qe = policy.quiet_start, policy.quiet_end

    def fit(nominal):
        return fit_send_time(d.kind, nominal, d.deadline, d.announced, now, zone, qs, qe)

    if d.fixed_at is not None:
        d.candidates, d.reason = ([d.fixed_at], None) if now < d.deadline else ([], "stale")
        return
    first, reason = fit(d.nominal)
    if reason in ("stale", "too_late"):
        d.reason = reason
        return
    times = [first] if first is not None else []
    if d.kind == "instructions":
        local = d.nominal.astimezone(zone)
        times.append(fit(local_wall(d.nominal, local.time(), zone, -1))[0])
    elif d.kind in DEFERRABLE:
        # The window runs from the rule's own time (booking, move, cancellation), not
        # from now: a text capped today does not become plannable later without a write.
        morning = qe if qs != qe else DEFAULT_MORNING
        for days in range(1, DEFER_DAYS + 1):
            t = local_wall(d.nominal, morning, zone, days)
            if t >= d.deadline:
                break
            if t >= now:
                times.append(fit(t)[0])
    d.candidates = list(dict.fromkeys(t for t in times if t is not None))
    if not d.candidates:
        d.reason = reason or "quiet_hours"


def _gate(s: Situation) -> str | None:
    if s.opted_out:
        return "opted_out"
    if not s.sms_consent:
        return "no_consent"
    return None if s.phone else "no_phone"


def _render(d: Draft, v: Visit, zone, policy: Policy) -> None:
    values = {"clinic": v.clinic.display_name, "phone": v.clinic.phone,
              "address": "online" if v.telehealth else v.clinic.address,
              "date": format_date(d.announced, zone), "time": format_time(d.announced, zone)}
    if d.old is not None:
        values.update(old_date=format_date(d.old, zone), old_time=format_time(d.old, zone))
    try:
        d.body = render(d.kind, values, prep_rules=v.instructions, overrides=v.overrides,
                        max_chars=policy.limits[2], exemption=policy.profile == "exemption")
    except TemplateError as exc:
        d.reason = exc.code


def plan_patient(situation: Situation, now: datetime) -> Plan:
    now = aware(now, "now")
    zone = ZoneInfo(situation.tz)
    policy = situation.policy
    history = sorted(situation.history, key=lambda e: (aware(e.at, "at"), e.key))
    by_key = {e.key: e for e in history}
    visits = sorted(situation.visits, key=lambda v: str(v.appointment_id))
    gate = _gate(situation)
    drafts: list[Draft] = []
    outcome: dict[str, str] = {}  # key -> state of a history entry that settles it
    for v in visits:
        entries = [e for e in history if e.appointment_id == v.appointment_id]
        for d in _visit_drafts(v, entries, now, zone):
            entry = by_key.get(d.key)
            if entry is not None and entry.state != "sending":
                outcome[d.key] = entry.state
                continue
            if entry is not None:
                d.fixed_at = aware(entry.at, "at")
            _candidates(d, now, zone, policy)
            d.reason = d.reason or gate
            if d.reason is None:
                _render(d, v, zone, policy)
            drafts.append(d)
    counted = [e for e in history if e.state in ("sent", "sending")]
    # A text already out carries a merged one only if it is the patient's latest word on
    # that visit and names its current start.
    latest = {e.appointment_id: e for e in counted if e.announced_start is not None}
    drafted = {d.key for d in drafts}
    hosts = [Host(v.appointment_id, e.kind, aware(e.at, "at")) for v in visits
             if v.status in PLANNED_STATUSES and (e := latest.get(v.appointment_id))
             and aware(e.announced_start, "announced_start") == v.start.astimezone(UTC)
             and e.key not in drafted]
    max_day, max_week, _ = policy.limits
    allocate(drafts, [aware(e.at, "at") for e in counted] + [aware(o.at, "at") for o in
             situation.one_offs], hosts, zone, max_day, max_week)
    texts = tuple(sorted((_text(d) for d in drafts),
                         key=lambda t: (t.send_at, -t.priority, t.key)))
    return Plan(texts, _tasks(visits, {d.key: d for d in drafts}, outcome, now))


def _text(d: Draft) -> PlannedText:
    planned = d.reason is None
    return PlannedText(
        key=d.key, kind=d.kind, appointment_id=d.appointment_id,
        send_at=d.send_at if planned else (d.fixed_at or d.nominal),
        deadline=d.deadline, priority=d.priority, body=d.body if planned else "",
        status="planned" if planned else "skipped", reason=d.reason,
        announced_start=d.announced, in_flight=d.fixed_at is not None)


def _tasks(visits, drafts: dict[str, Draft], outcome: dict[str, str], now: datetime):
    tasks = []
    for v in visits:
        if v.category != "dosing" or v.status not in PLANNED_STATUSES or now >= v.start:
            continue
        key = text_key(v.appointment_id, "instructions", v.start)
        if outcome.get(key) == "failed":
            tasks.append(Task(v.appointment_id, "delivery_failed"))
        elif key not in outcome and drafts[key].reason is not None:
            tasks.append(Task(v.appointment_id, drafts[key].reason))
    return tuple(tasks)

