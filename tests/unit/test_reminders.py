from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from scheduler.domain.quiet_hours import is_quiet
from scheduler.domain.reminders import (
    PRIORITY, Clinic, Existing, PlanningError, Policy, Visit, plan, plan_cancellation,
    plan_move,
)
from scheduler.domain.segments import count_segments, is_gsm7
from scheduler.domain.templates import OPT_OUT, find_forbidden

LA = ZoneInfo("America/Los_Angeles")
UTC = timezone.utc
CLINIC = Clinic("Pasadena Clinic", "(626) 555-0100", "1234 E Colorado Blvd, Pasadena, CA",
                "America/Los_Angeles")
PORTLAND = Clinic("Portland Clinic", "(503) 555-0100", "800 SW Main St, Portland, OR",
                  "America/Los_Angeles")
IV = {"no_solid_food_hours": 6, "clear_liquids_until_hours": 2}
NASAL = {"no_food_hours": 2, "no_liquids_minutes": 30}
SESSION_TYPES = [  # (code, category, rules, telehealth)
    ("ketamine_iv", "dosing", IV, False), ("ketamine_im", "dosing", IV, False),
    ("ketamine_sublingual", "dosing", {"no_solid_food_hours": 4, "clear_liquids_until_hours": 1},
     False), ("esketamine_nasal", "dosing", NASAL, False),
    ("integration", "integration", {}, False), ("integration", "integration", {}, True),
    ("consultation", "consultation", {}, False), ("consultation", "consultation", {}, True),
]
STANDARD = Policy("standard", max_per_day=3, max_per_week=10)


def at(*args):
    return datetime(*args, tzinfo=LA)


def dosing(start, rules=IV, appointment_id="A1"):
    return Visit(appointment_id, start, "dosing", "ketamine_iv", rules)


def by_kind(texts):
    return {t.kind: t for t in texts}


def local(t):
    return t.send_at.astimezone(LA)


def test_dosing_plan_has_confirmation_instructions_and_two_hour_reminder():
    now = at(2027, 6, 1, 10, 0)
    texts = by_kind(plan(dosing(at(2027, 6, 8, 11, 0)), CLINIC, STANDARD, now=now))
    assert set(texts) == {"confirmation", "instructions", "reminder"}
    assert all(t.status == "planned" and t.reason is None for t in texts.values())
    assert texts["confirmation"].send_at == now
    assert local(texts["instructions"]) == at(2027, 6, 7, 17, 0)
    assert local(texts["reminder"]) == at(2027, 6, 8, 9, 0)
    body = texts["instructions"].body
    assert "No solid food for 6 hours before" in body and "ride home" in body
    assert "Tue Jun 8 at 11:00 AM" in body and CLINIC.address in body
    assert texts["instructions"].priority == PRIORITY["instructions"]


def test_nasal_instructions_use_their_own_rules():
    texts = by_kind(plan(dosing(at(2027, 6, 8, 11), NASAL), CLINIC, STANDARD,
                         now=at(2027, 6, 1, 10)))
    assert "No food for 2 hours before, no liquids for 30 minutes before" in \
        texts["instructions"].body


def test_other_sessions_get_a_day_before_reminder_and_telehealth_says_online():
    visit = Visit("C1", at(2027, 6, 8, 14, 0), "consultation", "consultation", telehealth=True)
    texts = by_kind(plan(visit, CLINIC, STANDARD, now=at(2027, 6, 1, 10)))
    assert set(texts) == {"confirmation", "reminder"}
    assert local(texts["reminder"]) == at(2027, 6, 7, 10, 0)
    for t in texts.values():
        assert "online" in t.body and CLINIC.address not in t.body


@pytest.mark.parametrize("start,expected_utc", [
    (at(2027, 3, 15, 9, 0), "2027-03-15T00:00:00+00:00"),   # 17:00 PDT, after spring-forward
    (at(2027, 11, 8, 9, 0), "2027-11-08T01:00:00+00:00"),   # 17:00 PST, after fall-back
])
def test_instructions_at_17_local_the_day_before_across_dst(start, expected_utc):
    texts = by_kind(plan(dosing(start), CLINIC, STANDARD, now=at(2027, 3, 1, 12)))
    instructions = texts["instructions"]
    assert instructions.send_at.isoformat() == expected_utc
    assert local(instructions).hour == 17
    assert instructions.dedupe_key == f"A1:instructions:{expected_utc}"


def test_day_before_reminder_on_the_spring_forward_day():
    visit = Visit("I1", at(2027, 3, 15, 10, 0), "integration", "integration")
    reminder = by_kind(plan(visit, CLINIC, STANDARD, now=at(2027, 3, 1, 12)))["reminder"]
    assert reminder.send_at.isoformat() == "2027-03-14T17:00:00+00:00"  # 10:00 PDT


def test_early_reminder_moves_to_quiet_end():
    texts = by_kind(plan(dosing(at(2027, 6, 8, 9, 0)), CLINIC, STANDARD, now=at(2027, 6, 1)))
    assert local(texts["reminder"]) == at(2027, 6, 8, 8, 0)


def test_reminder_that_cannot_go_later_moves_to_the_evening_before():
    texts = by_kind(plan(dosing(at(2027, 6, 8, 8, 15)), CLINIC, STANDARD,
                         now=at(2027, 6, 1, 12)))
    assert local(texts["reminder"]) == at(2027, 6, 7, 20, 45)


def test_booking_during_quiet_hours_confirms_next_morning():
    now = at(2027, 6, 1, 23, 30)
    texts = by_kind(plan(dosing(at(2027, 6, 4, 11)), CLINIC, STANDARD, now=now))
    assert local(texts["confirmation"]) == at(2027, 6, 2, 8, 0)
    assert texts["confirmation"].dedupe_key.endswith(now.astimezone(UTC).isoformat())


def test_booking_at_night_for_first_thing_next_morning_skips_with_reasons():
    visit = Visit("C2", at(2027, 6, 2, 8, 0), "consultation", "consultation")
    texts = by_kind(plan(visit, CLINIC, STANDARD, now=at(2027, 6, 1, 23, 0)))
    assert (texts["confirmation"].status, texts["confirmation"].reason) == \
        ("skipped", "quiet_hours")
    assert texts["reminder"].reason == "too_late" and texts["reminder"].body == ""


def test_booking_one_hour_before_gets_only_the_confirmation():
    now = at(2027, 6, 8, 14, 0)
    texts = by_kind(plan(dosing(at(2027, 6, 8, 15, 0), NASAL), CLINIC, STANDARD, now=now))
    assert texts["confirmation"].status == "planned" and texts["confirmation"].send_at == now
    assert texts["instructions"].reason == "too_late"
    assert texts["reminder"].reason == "too_late"


def test_late_booking_sends_instructions_now_while_they_can_be_followed():
    now = at(2027, 6, 7, 18, 0)
    texts = by_kind(plan(dosing(at(2027, 6, 8, 11, 0)), CLINIC, STANDARD, now=now))
    assert texts["instructions"].status == "planned" and texts["instructions"].send_at == now
    # The dedupe key keeps the rule's time, so re-planning later gives the same key.
    again = by_kind(plan(dosing(at(2027, 6, 8, 11, 0)), CLINIC, STANDARD,
                         now=now + timedelta(minutes=5)))
    assert again["instructions"].dedupe_key == texts["instructions"].dedupe_key


def test_session_already_started_is_stale():
    texts = plan(dosing(at(2027, 6, 8, 11, 0)), CLINIC, STANDARD, now=at(2027, 6, 8, 11, 5))
    assert {t.reason for t in texts} == {"stale"}
    assert all(t.status == "skipped" for t in texts)


def test_exemption_one_a_day_merges_confirmation_into_instructions():
    now = at(2027, 6, 7, 18, 0)
    texts = by_kind(plan(dosing(at(2027, 6, 8, 11)), CLINIC, Policy.exemption(), now=now))
    assert texts["confirmation"].reason == "merged_into:instructions"
    assert texts["instructions"].status == "planned" and texts["reminder"].status == "planned"


def test_day_cap_merges_lower_texts_and_host_goes_at_the_earlier_time():
    policy = Policy("standard", max_per_day=1, max_per_week=10)
    now = at(2027, 6, 8, 9, 0)
    texts = by_kind(plan(dosing(at(2027, 6, 8, 16, 0), NASAL), CLINIC, policy, now=now))
    assert texts["instructions"].status == "planned" and texts["instructions"].send_at == now
    assert texts["reminder"].reason == "merged_into:instructions"
    assert texts["confirmation"].reason == "merged_into:instructions"


def test_caps_count_existing_texts_and_drop_with_reasons():
    start = at(2027, 6, 10, 11, 0)  # Thursday; booked Monday
    existing = [Existing(at(2027, 6, 10, 9, 0), "reminder", "OTHER")]
    texts = by_kind(plan(dosing(start), CLINIC, Policy.exemption(), now=at(2027, 6, 7, 10),
                         existing=existing))
    assert texts["reminder"].reason == "cap_day"
    assert texts["instructions"].status == "planned"
    assert texts["confirmation"].status == "planned"
    full_week = existing + [Existing(at(2027, 6, 8, 9), "reminder", "O2"),
                            Existing(at(2027, 6, 11, 9), "reminder", "O3")]
    texts = by_kind(plan(dosing(start), CLINIC, Policy.exemption(), now=at(2027, 6, 7, 10),
                         existing=full_week))
    assert texts["instructions"].reason == "cap_week"
    assert texts["confirmation"].reason == "cap_week"


def test_week_is_the_iso_week_in_local_time():
    # Three texts in the week of Mon Jun 7; a session on Mon Jun 14 starts a new week.
    existing = [Existing(at(2027, 6, d, 12), "reminder", "O") for d in (7, 8, 9)]
    texts = by_kind(plan(dosing(at(2027, 6, 14, 11)), CLINIC, Policy.exemption(),
                         now=at(2027, 6, 10, 10), existing=existing))
    assert texts["confirmation"].reason == "cap_week"
    assert texts["instructions"].reason == "cap_week"  # Sunday Jun 13: same ISO week
    assert texts["reminder"].status == "planned"


def test_exemption_bodies_fit_and_carry_name_phone_and_stop():
    texts = plan(dosing(at(2027, 6, 10, 11)), CLINIC, Policy.exemption(), now=at(2027, 6, 7))
    assert [t.status for t in texts] == ["planned"] * 3
    for t in texts:
        assert len(t.body) <= 160 and is_gsm7(t.body) and count_segments(t.body) == 1
        assert CLINIC.display_name in t.body and CLINIC.phone in t.body and OPT_OUT in t.body


def test_exemption_clamps_configured_caps():
    assert Policy("exemption", 5, 9, 400).limits == (1, 3, 160)
    assert STANDARD.limits == (3, 10, None)


def test_body_that_cannot_fit_is_skipped_with_its_code():
    long_name = Clinic("The Very Long Named Wellness Collective of Greater Pasadena",
                       "(626) 555-0100", "1 A St", "America/Los_Angeles")
    texts = by_kind(plan(dosing(at(2027, 6, 10, 11)), long_name, Policy.exemption(),
                         now=at(2027, 6, 7)))
    assert texts["instructions"].reason == "text_too_long"


def test_override_naming_the_treatment_is_skipped_never_sent():
    texts = by_kind(plan(dosing(at(2027, 6, 10, 11)), CLINIC, STANDARD, now=at(2027, 6, 7),
                         overrides={"reminder": "{clinic}: Spravato {date} {time}"}))
    assert texts["reminder"].reason == "template_names_treatment"


def test_move_plans_one_notice_and_the_new_times():
    old, new = dosing(at(2027, 6, 8, 11)), dosing(at(2027, 6, 15, 13, 30))
    texts = by_kind(plan_move(old, new, PORTLAND, STANDARD, now=at(2027, 6, 2, 10),
                              old_clinic=CLINIC))
    assert set(texts) == {"moved", "instructions", "reminder"}
    assert "Tue Jun 8 at 11:00 AM has moved to Tue Jun 15 at 1:30 PM" in texts["moved"].body
    assert PORTLAND.address in texts["moved"].body
    assert local(texts["instructions"]) == at(2027, 6, 14, 17)


def test_moved_notice_merges_into_instructions_at_the_earlier_time():
    now = at(2027, 6, 7, 10, 0)
    texts = by_kind(plan_move(dosing(at(2027, 6, 7, 14)), dosing(at(2027, 6, 8, 11)), CLINIC,
                              Policy.exemption(), now=now))
    assert texts["moved"].reason == "merged_into:instructions"
    assert texts["instructions"].send_at == now  # the patient learns the new time at once


def test_cancellation_is_one_notice_and_respects_caps():
    visit = dosing(at(2027, 6, 8, 11))
    (only,) = plan_cancellation(visit, CLINIC, STANDARD, now=at(2027, 6, 7, 10))
    assert only.kind == "cancelled" and only.status == "planned"
    assert "Tue Jun 8 at 11:00 AM is cancelled" in only.body
    (capped,) = plan_cancellation(visit, CLINIC, Policy.exemption(), now=at(2027, 6, 7, 10),
                                  existing=[Existing(at(2027, 6, 7, 9), "confirmation", "X")])
    assert capped.reason == "cap_day"


@pytest.mark.parametrize("build,code", [
    (lambda: plan(dosing(at(2027, 6, 8, 11)), CLINIC, STANDARD, now=datetime(2027, 6, 1)),
     "naive_datetime"),
    (lambda: Visit("A", at(2027, 6, 8), "massage"), "unknown_category"),
    (lambda: Clinic("C", "1", "a", "Mars/Base"), "unknown_time_zone"),
    (lambda: Policy("lenient"), "invalid_policy"),
])
def test_bad_inputs_raise_with_codes(build, code):
    with pytest.raises(PlanningError) as err:
        build()
    assert err.value.code == code


@settings(max_examples=150, deadline=None)
@given(
    session=st.sampled_from(SESSION_TYPES),
    start=st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2027, 12, 31))
    .map(lambda d: d.replace(minute=d.minute // 15 * 15, second=0, microsecond=0,
                             tzinfo=LA)),
    lead_minutes=st.integers(min_value=-120, max_value=60 * 24 * 9),
    exemption=st.booleans(),
)
def test_every_plan_keeps_the_rules(session, start, lead_minutes, exemption):
    code, category, rules, telehealth = session
    start = start.astimezone(UTC).astimezone(LA)  # normalise gap times
    visit = Visit("P1", start, category, code, rules, telehealth)
    now = start - timedelta(minutes=lead_minutes)
    policy = Policy.exemption() if exemption else STANDARD
    texts = plan(visit, CLINIC, policy, now=now) + plan_cancellation(visit, CLINIC, policy,
                                                                     now=now)
    assert len({t.dedupe_key for t in texts}) == len(texts)
    planned = [t for t in texts if t.status == "planned"]
    for t in texts:
        assert not find_forbidden(t.body)
        assert t.status == "planned" or t.reason
    for t in planned:
        assert now <= t.send_at < start
        assert not is_quiet(t.send_at, LA, CLINIC.quiet_start, CLINIC.quiet_end)
        if exemption:
            assert len(t.body) <= 160 and is_gsm7(t.body)
            assert CLINIC.display_name in t.body and CLINIC.phone in t.body
            assert OPT_OUT in t.body
    booking = [t for t in planned if t.kind != "cancelled"]
    per_day = Counter(t.send_at.astimezone(LA).date() for t in booking)
    assert max(per_day.values(), default=0) <= policy.limits[0]
    if category == "dosing" and lead_minutes >= 60 * 24 * 2:
        assert any(t.kind == "instructions" and t.status == "planned" for t in texts)
