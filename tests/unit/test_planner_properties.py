"""Invariants of the planner over random situations (hypothesis): random visits of every
category (telehealth too), policies (standard caps, the exemption), patient zones, quiet
hours, histories and one-off texts; and a simulation that sends what each plan says while
visits move, get cancelled and patients opt out, checking what was actually sent.

Oracles are computed here from the plan's output and the inputs, not with the planner's
own helpers: counts per local day and ISO week, quiet hours, lengths, words."""
from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings, strategies as st

from scheduler.domain.planner import (
    OneOff, Policy, SentText, Situation, Visit, plan_patient, text_key,
)
from scheduler.domain.quiet_hours import is_quiet
from scheduler.domain.text_rules import CATCH_UP
from scheduler.domain.segments import count_segments
from scheduler.domain.templates import OPT_OUT, find_forbidden, is_gsm7
from tests.support.planning import CLINICS, SESSION_TYPES, ZONES

UTC = timezone.utc
QUIET = [(time(21), time(8)), (time(22), time(7)), (time(20), time(9)), (time(9), time(9)),
         (time(23), time(6))]
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

quiet = st.sampled_from(QUIET)
policies = st.one_of(
    quiet.map(lambda q: Policy.exemption(quiet_start=q[0], quiet_end=q[1])),
    st.builds(lambda d, w, q: Policy("exemption", d, w, 400, q[0], q[1]),
              st.integers(1, 5), st.integers(3, 12), quiet),
    st.builds(lambda d, w, c, q: Policy("standard", d, w, c, q[0], q[1]),
              st.integers(1, 4), st.integers(1, 10), st.sampled_from([None, None, 320]), quiet),
)
nows = st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2027, 12, 20)) \
    .map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC))
visit_specs = st.lists(st.tuples(
    st.integers(0, len(SESSION_TYPES) - 1),
    st.integers(-12, 21 * 24 * 4),            # start: quarter hours from now
    st.booleans(),                            # online, when the type allows it
    st.integers(0, len(CLINICS) - 1),
    st.sampled_from(["booked"] * 6 + ["cancelled", "checked-in", "fulfilled"]),
    st.sampled_from([None, True, False]),     # notify_on_cancel
    st.integers(0, 96),                       # booked this many hours ago
), max_size=6)
history_specs = st.lists(st.tuples(
    st.integers(0, 5), st.sampled_from(["confirmation", "instructions", "reminder", "moved",
                                        "cancelled"]),
    st.integers(1, 10 * 24 * 60),             # minutes ago
    st.sampled_from(["sent"] * 4 + ["sending", "failed"]),
    st.integers(-2, 2),                       # announced: days off the current start
), max_size=8)
one_off_specs = st.lists(st.integers(-7 * 24 * 60, 7 * 24 * 60), max_size=4)


def _quarter(t: datetime) -> datetime:
    return t.replace(minute=t.minute // 15 * 15)


def build_visits(specs, now) -> list[Visit]:
    visits = []
    for n, (kind, quarters, online, clinic, status, notify, ago) in enumerate(specs):
        code, category, rules, may_be_online = SESSION_TYPES[kind]
        start = _quarter(now) + timedelta(minutes=15 * quarters)
        visits.append(Visit(n, start, category, CLINICS[clinic], status, code, rules,
                            online and may_be_online, notify_on_cancel=notify,
                            booked_at=min(now - timedelta(hours=ago), start),
                            changed_at=now - timedelta(minutes=ago)))
    return visits


def build_history(specs, visits, now) -> list[SentText]:
    history, seen = [], set()
    for n, kind, ago, state, shift in specs:
        if n >= len(visits):
            continue
        v = visits[n]
        said = v.start + timedelta(days=shift)
        key = text_key(n, kind, said, said - timedelta(days=1))
        if key in seen:
            continue
        seen.add(key)
        at = now - timedelta(minutes=ago if state != "sending" else ago % 10 + 1)
        history.append(SentText(key, kind, n, at, said, state))
    return history


def _slots(t: datetime, zone):
    day = t.astimezone(zone).date()
    return day, tuple(day.isocalendar())[:2]


def check_plan(s: Situation, plan, now: datetime) -> None:
    zone = ZoneInfo(s.tz)
    max_day, max_week, max_chars = s.policy.limits
    keys = [t.key for t in plan.texts]
    assert len(keys) == len(set(keys))
    fixed = [e.at for e in s.history if e.state in ("sent", "sending")] + \
        [o.at for o in s.one_offs]
    new = [t for t in plan.texts if t.status == "planned" and not t.in_flight]
    for t in new:
        assert now <= t.send_at < t.deadline, t
        assert not is_quiet(t.send_at, zone, s.policy.quiet_start, s.policy.quiet_end), t
    for index, cap in ((0, max_day), (1, max_week)):
        fixed_count = Counter(_slots(at, zone)[index] for at in fixed)
        new_count = Counter(_slots(t.send_at, zone)[index] for t in new)
        for slot, count in new_count.items():
            assert fixed_count[slot] + count <= cap, (slot, fixed_count[slot], count, cap)
    clinics = {v.appointment_id: v.clinic for v in s.visits}
    for t in plan.texts:
        assert find_forbidden(t.body) == []
        assert (t.status == "planned") == (t.reason is None) == (t.body != "")
        if t.status != "planned":
            continue
        if max_chars is not None:
            assert len(t.body) <= max_chars
        if s.policy.profile == "exemption":
            assert is_gsm7(t.body) and count_segments(t.body) == 1 and len(t.body) <= 160
            clinic = clinics[t.appointment_id]
            assert clinic.display_name in t.body and clinic.phone in t.body
            assert OPT_OUT in t.body
    sent = {e.key for e in s.history if e.state == "sent"}
    flagged = {task.appointment_id for task in plan.tasks}
    owed = {v.appointment_id for v in s.visits
            if v.category == "dosing" and v.status == "booked" and now < v.start}
    assert flagged <= owed
    for v in s.visits:
        if v.appointment_id in owed:
            key = text_key(v.appointment_id, "instructions", v.start)
            assert key in sent or key in plan.wanted or v.appointment_id in flagged, key


@FAST
@given(zone=st.sampled_from(ZONES), policy=policies, now=nows, visit_spec=visit_specs,
       history_spec=history_specs, one_off_spec=one_off_specs,
       consent=st.sampled_from([True, True, True, False]),
       opted_out=st.sampled_from([False, False, False, True]), seed=st.integers(0, 99),
       later=st.integers(0, 30 * 24 * 60))
def test_every_plan_keeps_the_invariants(zone, policy, now, visit_spec, history_spec,
                                         one_off_spec, consent, opted_out, seed, later):
    visits = build_visits(visit_spec, now)
    history = build_history(history_spec, visits, now)
    one_offs = [OneOff(now + timedelta(minutes=m)) for m in one_off_spec]
    s = Situation(1, "+15035550113", consent, opted_out, zone, policy, tuple(visits),
                  tuple(history), tuple(one_offs))
    plan = plan_patient(s, now)
    check_plan(s, plan, now)
    # Deterministic, whatever the order of the inputs; keys do not depend on the clock.
    rng = random.Random(seed)
    shuffled = dataclasses.replace(s, visits=tuple(rng.sample(visits, len(visits))),
                                   history=tuple(rng.sample(history, len(history))))
    assert plan_patient(shuffled, now) == plan
    assert {t.key for t in plan_patient(s, now + timedelta(minutes=later)).texts} == \
        {t.key for t in plan.texts}
    # Nothing changes while nothing is due: the same texts, with the same words, until
    # the first one goes; except that a late text (confirmation, notice, instructions)
    # capped out may find room on a later day (the reconciler runs daily for that).
    # Send times may shift for a text merged with one caught up at "now". (A claim in
    # flight lasts minutes: not over such a stretch.)
    upcoming = [t.send_at for t in plan.wanted.values() if not t.in_flight]
    if upcoming and min(upcoming) > now and all(e.state != "sending" for e in history):
        same = plan_patient(s, now + (min(upcoming) - now) * (seed / 99))
        revivable = {t.key for t in plan.texts if t.reason in ("cap_day", "cap_week")
                     and t.kind in CATCH_UP}
        if revivable:
            assert set(same.wanted) - set(plan.wanted) <= revivable
        else:
            assert {k: t.body for k, t in same.wanted.items()} == \
                {k: t.body for k, t in plan.wanted.items()}


# -- A simulation: send what the plan says, while the schedule changes -------------------

events = st.lists(st.tuples(
    st.integers(0, 20 * 24 * 60),             # minutes after the start of the simulation
    st.sampled_from(["move", "move", "cancel", "consent", "opt_out", "opt_in", "phone"]),
    st.integers(0, 5), st.integers(-4 * 24 * 4, 4 * 24 * 4), st.sampled_from([None, True, False]),
), max_size=6)


def _apply(state: dict, event, at: datetime) -> None:
    _, action, n, quarters, notify = event
    visits = state["visits"]
    if action in ("move", "cancel") and n < len(visits) and visits[n].status == "booked" \
            and visits[n].start > at:
        v = visits[n]
        if action == "move":
            start = max(v.start + timedelta(minutes=15 * quarters), _quarter(at) + timedelta(hours=1))
            visits[n] = dataclasses.replace(v, start=start, changed_at=at)
        else:
            visits[n] = dataclasses.replace(v, status="cancelled", changed_at=at,
                                            notify_on_cancel=notify)
    elif action == "consent":
        state["consent"] = not state["consent"]
    elif action in ("opt_out", "opt_in"):
        state["opted_out"] = action == "opt_out"
    elif action == "phone":
        state["phone"] = None if state["phone"] else "+15035550113"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zone=st.sampled_from(ZONES), policy=policies, now=nows,
       visit_spec=visit_specs.map(lambda specs: [(k, abs(q) + 8, o, c, "booked", n, 0)
                                                 for k, q, o, c, _, n, _ in specs]),
       one_off_spec=one_off_specs.map(lambda ms: [abs(m) for m in ms]), timeline=events,
       crashes=st.lists(st.booleans(), max_size=20))
def test_what_is_sent_is_true_when_sent_and_keeps_every_cap(zone, policy, now, visit_spec,
                                                            one_off_spec, timeline, crashes):
    """Send what each plan says when it is due; a claim may stall (a worker died) while
    the next change happens, and is finished only if the sender's re-check passes."""
    state = {"visits": build_visits(visit_spec, now), "consent": True, "opted_out": False,
             "phone": "+15035550113"}
    one_offs = tuple(OneOff(now + timedelta(minutes=m)) for m in one_off_spec)
    pending = sorted(timeline, key=lambda e: e[0])
    crashes = list(crashes)
    sent: list[SentText] = []
    claimed: dict[str, tuple[SentText, str]] = {}
    flags: dict = {}
    t = now
    for _ in range(400):
        s = Situation(1, state["phone"], state["consent"], state["opted_out"], zone, policy,
                      tuple(state["visits"]), tuple(sent) + tuple(e for e, _ in
                                                                claimed.values()), one_offs)
        plan = plan_patient(s, t)
        check_plan(s, plan, t)
        if claimed:  # another worker takes the stalled claims over and re-checks them
            for key, (entry, body) in sorted(claimed.items()):
                again = plan.wanted.get(key)
                if again is not None and again.in_flight and again.body == body:
                    _check_true_when_sent(again, state["visits"][entry.appointment_id], sent)
                    sent.append(dataclasses.replace(entry, state="sent"))
                    event("a stalled claim went out")
                else:
                    event("a stalled claim was voided")
            claimed = {}
            continue
        flagged = {task.appointment_id for task in plan.tasks}
        for v in state["visits"]:
            if v.category == "dosing" and v.status == "booked" and t < v.start:
                flags[v.appointment_id] = (v.start, v.appointment_id in flagged)
        due = [p for p in plan.wanted.values() if not p.in_flight]
        next_send = min((p.send_at for p in due), default=None)
        next_event = now + timedelta(minutes=pending[0][0]) if pending else None
        if next_send is None and next_event is None:
            break
        if next_event is None or (next_send is not None and next_send <= next_event):
            t = next_send
            for p in sorted(due, key=lambda p: p.key):
                if p.send_at != t:
                    continue
                _check_true_when_sent(p, state["visits"][p.appointment_id], sent)
                entry = SentText(p.key, p.kind, p.appointment_id, t, p.announced_start)
                if crashes and crashes.pop(0):
                    claimed[p.key] = (dataclasses.replace(entry, state="sending"), p.body)
                else:
                    sent.append(entry)
            if claimed and pending:  # the schedule changes while the claim is stalled
                _apply(state, pending.pop(0), t)
        else:
            t = max(t, next_event)
            _apply(state, pending.pop(0), t)
    else:
        raise AssertionError("the simulation did not settle")
    _check_sent_history(sent, one_offs, policy, ZoneInfo(zone))
    sent_keys = {e.key for e in sent}
    for v in state["visits"]:
        if v.category == "dosing" and v.status == "booked" and v.start > now:
            if text_key(v.appointment_id, "instructions", v.start) not in sent_keys:
                assert flags.get(v.appointment_id) == (v.start, True), v


def _check_true_when_sent(p, v: Visit, sent: list[SentText]) -> None:
    assert p.key not in {e.key for e in sent}, p.key
    if p.kind == "cancelled":
        assert v.status == "cancelled"
    else:
        assert v.status == "booked" and p.announced_start == v.start
    told = [e.announced_start for e in sent if e.appointment_id == v.appointment_id]
    if p.kind == "moved":
        assert p.key == text_key(v.appointment_id, "moved", v.start, told[-1])
    if p.kind == "confirmation":
        assert told == []
    if p.kind == "cancelled" and v.notify_on_cancel is None:
        assert told


def _check_sent_history(sent, one_offs, policy: Policy, zone) -> None:
    max_day, max_week, _ = policy.limits
    for index, cap in ((0, max_day), (1, max_week)):
        ours = Counter(_slots(e.at, zone)[index] for e in sent)
        others = Counter(_slots(o.at, zone)[index] for o in one_offs)
        for slot, count in ours.items():
            assert count + others[slot] <= cap, (slot, count, others[slot], cap)
    for e in sent:
        assert not is_quiet(e.at, zone, policy.quiet_start, policy.quiet_end)
