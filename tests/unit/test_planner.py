"""The planner, rule by rule (issue 11): kinds and keys, what the patient was told, caps
across visits, the patient's zone, consent and opt-out, texts in flight."""
import random
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.planner import (
    PRIORITY, OneOff, PlanningError, Policy, SentText, Situation, Task, Visit, plan_patient,
    text_key,
)
from scheduler.domain.segments import count_segments
from scheduler.domain.templates import OPT_OUT, is_gsm7
from tests.support.planning import (
    IV, LA, NASAL, PASADENA, PORTLAND, SANTA_BARBARA, SESSION_TYPES, by_key, la, replan, send,
    situation, visit,
)

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
HONOLULU = ZoneInfo("Pacific/Honolulu")
EXEMPTION = Policy.exemption()


def local(t, zone=LA):
    return t.astimezone(zone).replace(tzinfo=None)


def test_a_dosing_visit_gets_confirmation_instructions_and_reminder_with_stable_keys():
    now = la(2027, 6, 1, 10)
    plan = plan_patient(situation(visit(7, la(2027, 6, 8, 9), booked_at=now)), now)
    texts = by_key(plan)
    assert set(texts) == {"7:confirmation", "7:instructions:2027-06-08T16:00Z",
                          "7:reminder:2027-06-08T16:00Z"}
    assert all(t.status == "planned" for t in plan.texts) and plan.tasks == ()
    instructions = texts["7:instructions:2027-06-08T16:00Z"]
    assert local(instructions.send_at) == datetime(2027, 6, 7, 17)
    assert instructions.deadline == la(2027, 6, 8, 3)  # the 6-hour fast begins
    assert instructions.priority == PRIORITY["instructions"] > PRIORITY["dosing_reminder"]
    assert "reply RIDE" in instructions.body and "No solid food for 6 hours" in instructions.body
    reminder = texts["7:reminder:2027-06-08T16:00Z"]
    assert local(reminder.send_at) == datetime(2027, 6, 8, 8)  # 07:00 is quiet: 08:00
    assert reminder.priority == PRIORITY["dosing_reminder"]
    assert texts["7:confirmation"].send_at == now
    assert plan_patient(situation(visit(7, la(2027, 6, 8, 9), booked_at=now)),
                        now + timedelta(hours=5)).texts[1:] == plan.texts[1:]


def test_other_visits_get_a_day_before_reminder_at_the_lowest_priority():
    now = la(2027, 6, 1, 10)
    plan = plan_patient(situation(visit(3, la(2027, 6, 9, 11), "integration", booked_at=now,
                                        telehealth=True)), now)
    reminder = by_key(plan)["3:reminder:2027-06-09T18:00Z"]
    assert local(reminder.send_at) == datetime(2027, 6, 8, 10)
    assert reminder.priority == PRIORITY["reminder"] == min(PRIORITY.values())
    assert "online" in reminder.body and PASADENA.address not in reminder.body


# -- EXAMPLES.md 16: caps across appointments --------------------------------------------

def _example_16(policy):
    iv = visit(1, la(2027, 6, 8, 9), booked_at=la(2027, 6, 1, 10))
    integration = visit(2, la(2027, 6, 9, 11), "integration", booked_at=la(2027, 6, 2, 10))
    history = [SentText("1:confirmation", "confirmation", 1, la(2027, 6, 1, 10), iv.start),
               SentText("2:confirmation", "confirmation", 2, la(2027, 6, 2, 10),
                        integration.start)]
    return situation(iv, integration, policy=policy, history=history)


def test_example_16_the_dosing_visit_keeps_tuesday_and_the_integration_reminder_drops():
    s = _example_16(Policy.exemption(quiet_end=time(7)))  # so 07:00 is allowed as written
    texts = by_key(plan_patient(s, la(2027, 6, 3, 12)))
    assert local(texts["1:instructions:2027-06-08T16:00Z"].send_at) == datetime(2027, 6, 7, 17)
    assert local(texts["1:reminder:2027-06-08T16:00Z"].send_at) == datetime(2027, 6, 8, 7)
    dropped = texts["2:reminder:2027-06-09T18:00Z"]
    assert (dropped.status, dropped.reason) == ("skipped", "cap_day")
    assert local(dropped.send_at) == datetime(2027, 6, 8, 10)


def test_example_16_cancelling_the_iv_gives_monday_to_the_notice_and_brings_the_reminder_back():
    s = _example_16(Policy.exemption(quiet_end=time(7)))
    now = la(2027, 6, 7, 12)
    iv = visit(1, la(2027, 6, 8, 9), status="cancelled", changed_at=now)
    plan = replan(s, now, visits=(iv, s.visits[1]))
    assert {t.key: (t.status, local(t.send_at)) for t in plan.texts} == {
        "1:cancelled": ("planned", datetime(2027, 6, 7, 12)),
        "2:reminder:2027-06-09T18:00Z": ("planned", datetime(2027, 6, 8, 10)),
    }
    assert "Tue Jun 8 at 9:00 AM is cancelled" in plan.get("1:cancelled").body


def test_example_16_with_the_default_quiet_hours_the_reminder_goes_at_eight():
    texts = by_key(plan_patient(_example_16(EXEMPTION), la(2027, 6, 3, 12)))
    assert local(texts["1:reminder:2027-06-08T16:00Z"].send_at) == datetime(2027, 6, 8, 8)
    assert texts["2:reminder:2027-06-09T18:00Z"].reason == "cap_day"


# -- EXAMPLES.md 17 and the Honolulu report: the patient's zone --------------------------

def test_example_17_a_new_york_patient_reads_new_york_time_within_new_york_hours():
    booked = la(2027, 6, 1, 19)  # 22:00 in New York: quiet there, not in Pasadena
    s = situation(visit(5, la(2027, 6, 9, 10), "integration", telehealth=True,
                        booked_at=booked), tz="America/New_York")
    plan = plan_patient(s, booked)
    assert [t.status for t in plan.texts] == ["planned", "planned"]
    for t in plan.texts:
        assert "1:00 PM" in t.body and "10:00 AM" not in t.body
        assert time(8) <= t.send_at.astimezone(NY).time() < time(21)
    texts = by_key(plan)
    assert local(texts["5:confirmation"].send_at, NY) == datetime(2027, 6, 2, 8)
    assert local(texts["5:reminder:2027-06-09T17:00Z"].send_at, NY) == datetime(2027, 6, 8, 10)


def test_a_honolulu_patient_is_not_texted_at_six_and_reads_their_own_time():
    booked = la(2027, 1, 5, 8, 5)  # 06:05 in Honolulu
    s = situation(visit(6, la(2027, 1, 12, 9), "consultation", telehealth=True,
                        booked_at=booked), tz="Pacific/Honolulu")
    texts = by_key(plan_patient(s, booked))
    confirmation = texts["6:confirmation"]
    assert local(confirmation.send_at, HONOLULU) == datetime(2027, 1, 5, 8)
    assert "Tue Jan 12 at 7:00 AM" in confirmation.body and "9:00 AM" not in confirmation.body
    assert local(texts["6:reminder:2027-01-12T17:00Z"].send_at, HONOLULU) == \
        datetime(2027, 1, 11, 10)


def test_caps_count_days_in_the_patients_zone():
    # 23:30 in Madrid on Monday is 14:30 in Los Angeles: one cap day, Madrid's Monday.
    s = situation(visit(1, la(2027, 6, 9, 11), "integration"), tz="Europe/Madrid",
                  policy=EXEMPTION,
                  one_offs=[OneOff(datetime(2027, 6, 7, 22, 30, tzinfo=ZoneInfo("Europe/Madrid")))])
    plan = plan_patient(s, la(2027, 6, 7, 14, 0))  # Monday 23:00 in Madrid
    assert by_key(plan)["1:confirmation"].send_at.astimezone(ZoneInfo("Europe/Madrid")) == \
        datetime(2027, 6, 8, 8, tzinfo=ZoneInfo("Europe/Madrid"))


# -- What the patient was told: moves and cancellations ----------------------------------

def _told_once():
    start = la(2027, 6, 8, 10)
    history = [SentText("4:confirmation", "confirmation", 4, la(2027, 6, 1, 10), start)]
    return situation(visit(4, start, "integration"), history=history)


def test_a_move_notice_names_the_time_the_patient_was_told_not_an_intermediate_one():
    s, now = _told_once(), la(2027, 6, 2, 9)
    first = replan(s, now, visits=(visit(4, la(2027, 6, 9, 10), "integration"),))
    notice = first.get("4:moved:2027-06-08T17:00Z>2027-06-09T17:00Z")
    assert notice.status == "planned" and notice.send_at == now
    assert "Tue Jun 8 at 10:00 AM has moved to Wed Jun 9 at 10:00 AM" in notice.body
    second = replan(s, now, visits=(visit(4, la(2027, 6, 10, 15), "integration"),))
    moved = [t for t in second.texts if t.kind == "moved"]
    assert [t.key for t in moved] == ["4:moved:2027-06-08T17:00Z>2027-06-10T22:00Z"]
    assert "Tue Jun 8 at 10:00 AM has moved to Thu Jun 10 at 3:00 PM" in moved[0].body
    assert "Jun 9" not in moved[0].body


def test_once_a_move_notice_went_out_the_next_one_names_its_time():
    s, now = _told_once(), la(2027, 6, 2, 9)
    moved_once = replan(s, now, visits=(visit(4, la(2027, 6, 9, 10), "integration"),))
    history = s.history + tuple(send(moved_once, now))
    again = replan(s, now + timedelta(hours=1), history=history,
                   visits=(visit(4, la(2027, 6, 10, 15), "integration"),))
    assert [t.key for t in again.texts if t.kind == "moved"] == \
        ["4:moved:2027-06-09T17:00Z>2027-06-10T22:00Z"]


def test_back_at_the_told_time_no_notice_and_untold_moves_just_update_the_confirmation():
    s, now = _told_once(), la(2027, 6, 2, 9)
    assert [t.kind for t in replan(s, now).texts] == ["reminder"]
    untold = situation(visit(4, la(2027, 6, 8, 10), "integration", booked_at=now))
    moved = replan(untold, now, visits=(visit(4, la(2027, 6, 9, 10), "integration",
                                              booked_at=now),))
    assert [t.kind for t in moved.texts] == ["confirmation", "reminder"]
    assert "Wed Jun 9 at 10:00 AM" in moved.get("4:confirmation").body


@pytest.mark.parametrize("notify,told,expected", [
    (None, False, []), (True, False, ["9:cancelled"]), (False, False, []),
    (None, True, ["9:cancelled"]), (True, True, ["9:cancelled"]), (False, True, []),
])
def test_cancelling_notifies_by_default_only_a_patient_who_was_told(notify, told, expected):
    start, now = la(2027, 6, 8, 10), la(2027, 6, 1, 10, 5)
    history = [SentText("9:confirmation", "confirmation", 9, la(2027, 6, 1, 10), start)] \
        if told else []
    s = situation(visit(9, start, "integration", status="cancelled", changed_at=now,
                        notify_on_cancel=notify), history=history)
    plan = plan_patient(s, now)
    assert [t.key for t in plan.texts] == expected
    assert all(t.status == "planned" and t.send_at == now for t in plan.texts)


def test_a_cancellation_names_the_time_the_patient_was_told():
    start = la(2027, 6, 8, 10)
    history = [SentText("9:confirmation", "confirmation", 9, la(2027, 6, 1, 10), start)]
    now = la(2027, 6, 2, 9)
    s = situation(visit(9, la(2027, 6, 9, 15), "integration", status="cancelled",
                        changed_at=now), history=history)
    notice = plan_patient(s, now).get("9:cancelled")
    assert "Tue Jun 8 at 10:00 AM is cancelled" in notice.body
    assert notice.deadline == start


# -- Consent, opt-out, phone: skipped with a reason the reconciler can lift --------------

@pytest.mark.parametrize("changes,reason", [
    (dict(consent=False), "no_consent"), (dict(opted_out=True), "opted_out"),
    (dict(phone=None), "no_phone"),
])
def test_unreachable_patients_get_skips_with_reasons_and_a_front_desk_task(changes, reason):
    now = la(2027, 6, 1, 10)
    plan = plan_patient(situation(visit(2, la(2027, 6, 8, 9), booked_at=now), **changes), now)
    assert {(t.status, t.reason) for t in plan.texts} == {("skipped", reason)}
    assert plan.tasks == (Task(2, reason),)


def test_consent_given_later_revives_the_same_keys():
    booked = la(2027, 6, 1, 10)
    v = visit(2, la(2027, 6, 8, 9), booked_at=booked)
    before = plan_patient(situation(v, consent=False), booked)
    later = la(2027, 6, 3, 15)
    after = plan_patient(situation(v), later)
    assert [t.key for t in before.texts] == [t.key for t in after.texts]
    assert all(t.status == "planned" for t in after.texts) and after.tasks == ()
    assert after.get("2:confirmation").send_at == later  # caught up, still useful


# -- Caps across visits --------------------------------------------------------------------

def test_four_bookings_under_three_a_day_defer_the_fourth_confirmation_to_the_morning():
    now = la(2027, 6, 1, 10)
    visits = [visit(n, la(2027, 6, 1, 11) + timedelta(weeks=2 * n), "integration",
                    booked_at=now) for n in (1, 2, 3, 4)]
    plan = plan_patient(situation(*visits, policy=Policy(max_per_day=3, max_per_week=8)), now)
    sends = {t.key: local(t.send_at) for t in plan.texts if t.kind == "confirmation"}
    assert sends == {"1:confirmation": datetime(2027, 6, 1, 10),
                     "2:confirmation": datetime(2027, 6, 1, 10),
                     "3:confirmation": datetime(2027, 6, 1, 10),
                     "4:confirmation": datetime(2027, 6, 2, 8)}


def test_an_iv_series_booked_at_once_under_the_exemption_gets_every_instruction():
    now = la(2026, 12, 31, 10)
    days = [4, 6, 8, 11, 13, 15]
    visits = [visit(n, la(2027, 1, d, 9), booked_at=now) for n, d in enumerate(days, 1)]
    plan = plan_patient(situation(*visits, policy=EXEMPTION), now)
    instructions = [t for t in plan.texts if t.kind == "instructions"]
    assert [t.status for t in instructions] == ["planned"] * 6 and plan.tasks == ()
    assert [local(t.send_at).day for t in instructions] == [3, 5, 7, 10, 12, 14]
    per_day = {}
    for t in plan.wanted.values():
        per_day.setdefault(local(t.send_at).date(), []).append(t.key)
    assert all(len(keys) == 1 for keys in per_day.values()), per_day


def test_a_one_off_text_pushes_instructions_to_the_day_before():
    now = la(2027, 6, 3, 10)
    s = situation(visit(1, la(2027, 6, 8, 9)), policy=EXEMPTION, one_offs=[
        OneOff(la(2027, 6, 7, 9), "reply")],
        history=[SentText("1:confirmation", "confirmation", 1, la(2027, 6, 1, 10),
                          la(2027, 6, 8, 9))])
    texts = by_key(plan_patient(s, now))
    assert local(texts["1:instructions:2027-06-08T16:00Z"].send_at) == datetime(2027, 6, 6, 17)


def test_instructions_that_find_no_day_are_a_task_never_a_silent_loss():
    now = la(2027, 6, 7, 10)
    s = situation(visit(1, la(2027, 6, 8, 9)), policy=EXEMPTION,
                  one_offs=[OneOff(la(2027, 6, 7, 9))])
    plan = plan_patient(s, now)
    assert plan.get("1:instructions:2027-06-08T16:00Z").reason == "cap_day"
    assert plan.tasks == (Task(1, "cap_day"),)


def test_a_confirmation_merges_into_same_day_instructions_which_go_at_once():
    now = la(2027, 6, 7, 18)
    s = situation(visit(1, la(2027, 6, 8, 11), booked_at=now), policy=EXEMPTION)
    texts = by_key(plan_patient(s, now))
    assert texts["1:confirmation"].reason == "merged_into:instructions"
    assert texts["1:instructions:2027-06-08T18:00Z"].send_at == now
    assert texts["1:reminder:2027-06-08T18:00Z"].status == "planned"


def test_a_reminder_stays_merged_once_its_host_was_sent_and_no_confirmation_is_owed():
    now = la(2027, 6, 8, 9)
    s = situation(visit(1, la(2027, 6, 8, 16), "esketamine_nasal", booked_at=now),
                  policy=Policy(max_per_day=1))
    plan = plan_patient(s, now)
    assert {t.kind: t.reason for t in plan.texts} == {
        "instructions": None, "confirmation": "merged_into:instructions",
        "reminder": "merged_into:instructions"}
    after = replan(s, now + timedelta(minutes=1), history=send(plan, now))
    assert {t.kind: t.reason for t in after.texts} == {"reminder": "merged_into:instructions"}


def test_a_moved_notice_merges_into_the_instructions_sent_earlier_that_day():
    now = la(2027, 6, 7, 10)
    s = situation(visit(1, la(2027, 6, 8, 14)), policy=EXEMPTION, history=[
        SentText("1:confirmation", "confirmation", 1, la(2027, 6, 1, 10), la(2027, 6, 8, 9))])
    texts = by_key(plan_patient(s, now))
    assert texts["1:moved:2027-06-08T16:00Z>2027-06-08T21:00Z"].reason == \
        "merged_into:instructions"
    instructions = texts["1:instructions:2027-06-08T21:00Z"]
    assert instructions.send_at == now and "2:00 PM" in instructions.body


# -- Timing edge cases -----------------------------------------------------------------------

def test_a_visit_that_started_has_only_stale_texts_and_no_task():
    start = la(2027, 6, 8, 9)
    plan = plan_patient(situation(visit(1, start, booked_at=la(2027, 6, 1))), start)
    assert {t.reason for t in plan.texts} == {"stale"} and plan.tasks == ()


def test_booked_an_hour_before_instructions_are_too_late_and_flagged():
    now = la(2027, 6, 8, 13)
    plan = plan_patient(situation(visit(1, la(2027, 6, 8, 14), "esketamine_nasal",
                                        booked_at=now)), now)
    assert plan.get("1:instructions:2027-06-08T21:00Z").reason == "too_late"
    assert plan.tasks == (Task(1, "too_late"),)
    assert plan.get("1:confirmation").status == "planned"


def test_replanning_inside_the_quiet_hours_keeps_a_reminder_moved_to_their_end():
    v = visit(1, la(2027, 6, 8, 9), booked_at=la(2027, 6, 1))
    plan = plan_patient(situation(v), la(2027, 6, 8, 7, 30))
    assert local(plan.get("1:reminder:2027-06-08T16:00Z").send_at) == datetime(2027, 6, 8, 8)


# -- Texts in flight and history -----------------------------------------------------------

def test_a_text_in_flight_for_the_current_time_stays_wanted_and_counts_once():
    now, start = la(2027, 6, 7, 17, 1), la(2027, 6, 8, 11)
    key = text_key(1, "instructions", start)
    s = situation(visit(1, start, booked_at=la(2027, 6, 1)), policy=EXEMPTION, history=[
        SentText("1:confirmation", "confirmation", 1, la(2027, 6, 1, 10), start),
        SentText(key, "instructions", 1, la(2027, 6, 7, 17), start, "sending")])
    text = plan_patient(s, now).get(key)
    assert (text.status, text.in_flight, text.send_at) == ("planned", True, la(2027, 6, 7, 17))


def test_after_a_move_a_text_in_flight_for_the_old_time_is_no_longer_wanted():
    old, new, now = la(2027, 6, 8, 11), la(2027, 6, 9, 11), la(2027, 6, 7, 17, 1)
    s = situation(visit(1, new, changed_at=now), history=[
        SentText("1:confirmation", "confirmation", 1, la(2027, 6, 1, 10), old),
        SentText(text_key(1, "instructions", old), "instructions", 1, la(2027, 6, 7, 17),
                 old, "sending")])
    plan = plan_patient(s, now)
    assert plan.get(text_key(1, "instructions", old)) is None
    assert plan.get(text_key(1, "moved", new, old)).status == "planned"


def test_an_untold_visit_moved_while_its_confirmation_was_in_flight_gets_a_notice():
    old, new, now = la(2027, 6, 8, 11), la(2027, 6, 9, 11), la(2027, 6, 1, 10, 1)
    s = situation(visit(1, new, booked_at=la(2027, 6, 1, 10), changed_at=now), history=[
        SentText("1:confirmation", "confirmation", 1, la(2027, 6, 1, 10), old, "sending")])
    plan = plan_patient(s, now)
    assert plan.get("1:confirmation") is None  # the reconciler voids the row
    assert plan.get(text_key(1, "moved", new, old)).status == "planned"


def test_opting_out_stops_a_text_in_flight_and_failed_instructions_become_a_task():
    start, now = la(2027, 6, 8, 11), la(2027, 6, 7, 17, 1)
    key = text_key(1, "instructions", start)
    flight = SentText(key, "instructions", 1, la(2027, 6, 7, 17), start, "sending")
    stopped = plan_patient(situation(visit(1, start), opted_out=True, history=[flight]), now)
    assert stopped.get(key).reason == "opted_out" and key not in stopped.wanted
    failed = SentText(key, "instructions", 1, la(2027, 6, 7, 17), start, "failed")
    plan = plan_patient(situation(visit(1, start), history=[failed]), now)
    assert plan.get(key) is None and plan.tasks == (Task(1, "delivery_failed"),)


# -- Wording under the exemption -----------------------------------------------------------

@pytest.mark.parametrize("clinic", [SANTA_BARBARA, PASADENA, PORTLAND], ids=lambda c: c.phone)
@pytest.mark.parametrize("code", [t[0] for t in SESSION_TYPES if t[1] == "dosing"])
def test_seeded_clinics_send_every_dosing_instruction_under_the_exemption(clinic, code):
    now = la(2027, 6, 1, 10)
    plan = plan_patient(situation(visit(1, la(2027, 6, 9, 12, 30), code, clinic,
                                        booked_at=now), policy=EXEMPTION), now)
    (instructions,) = [t for t in plan.texts if t.kind == "instructions"]
    body = instructions.body
    assert instructions.status == "planned", instructions.reason
    assert len(body) <= 160 and is_gsm7(body) and count_segments(body) == 1
    assert clinic.display_name in body and clinic.phone in body and OPT_OUT in body
    assert "ride home" in body and "reply RIDE" in body and "before" in body


def test_a_spanish_override_naming_the_drug_is_skipped_and_suite_iv_is_fine():
    now = la(2027, 6, 1, 10)
    clinic = PASADENA.__class__("Pasadena Wellness Clinic", "(626) 555-0100",
                                "200 Lake Ave, Suite IV, Pasadena, CA")
    v = visit(1, la(2027, 6, 9, 12), "integration", clinic, booked_at=now,
              overrides={"reminder": "{clinic}: su cita de ketamina el {date} a las {time}."})
    texts = by_key(plan_patient(situation(v), now))
    assert texts["1:reminder:2027-06-09T19:00Z"].reason == "template_names_treatment"
    assert "Suite IV" in texts["1:confirmation"].body


# -- Inputs ------------------------------------------------------------------------------------

def test_the_plan_does_not_depend_on_the_order_of_visits_or_history():
    s = _example_16(EXEMPTION)
    now = la(2027, 6, 3, 12)
    rng = random.Random(4)
    for _ in range(5):
        visits, history = list(s.visits), list(s.history)
        rng.shuffle(visits)
        rng.shuffle(history)
        assert replan(s, now, visits=tuple(visits), history=tuple(history)) == \
            plan_patient(s, now)


@pytest.mark.parametrize("build,code", [
    (lambda: plan_patient(situation(), datetime(2027, 6, 1)), "naive_datetime"),
    (lambda: Visit(1, la(2027, 6, 8), "massage", PASADENA), "unknown_category"),
    (lambda: Visit(1, datetime(2027, 6, 8), "dosing", PASADENA), "naive_datetime"),
    (lambda: situation(tz="Mars/Base"), "unknown_time_zone"),
    (lambda: SentText("k", "reminder", 1, la(2027, 6, 1), state="queued"), "unknown_state"),
    (lambda: Policy(quiet_start="21:00"), "invalid_policy"),
])
def test_bad_inputs_raise_planning_errors_with_codes(build, code):
    with pytest.raises(PlanningError) as err:
        build()
    assert err.value.code == code


def test_situation_is_a_plain_value():
    s = situation(visit(1, la(2027, 6, 8, 9)))
    assert isinstance(s, Situation) and s.policy == Policy()
    assert IV == s.visits[0].instructions and NASAL != IV
