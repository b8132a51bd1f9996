"""The SMS outbox end to end inside one process: booking through the API plans texts in the
same transaction, send_texts_job() sends them through the real twilio client to a recording
fake Twilio, and the FixedClock decides what is due (issue 4, "Proven by tests").

The clock starts at Tue 2030-01-01 08:00 in Los Angeles; MONDAY is 2030-01-07.
"""
import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.jobs.heartbeat import WORKER_NAME
from scheduler.models import Appointment, Message, Patient
from scheduler.services.messaging import dispatch as dispatch_service
from scheduler.services.messaging.dispatch import DispatchReport, claim_due, send_one
from scheduler.jobs.texts import sender_and_limiter
from tests.conftest import NOW
from tests.support import clinic as c
from tests.support.fake_twilio import FakeTwilio
from tests.support.sms import (
    FROM, LA, MONDAY, PHONE, PUBLIC, TUESDAY, add_message, assert_discreet, book, by_kind, dispatch,
    local, messages, run_until, sms_clinic, twilio_settings,
)

LA_QUIET = (dt.time(21, 0), dt.time(8, 0))


@pytest.fixture
def fake(app):
    with FakeTwilio() as server, twilio_settings(app, server.base_url):
        yield server


def sent_refs(fake) -> Counter:
    """How many requests reached the fake per outbox row id (from the StatusCallback URL)."""
    refs = Counter()
    for req in fake.requests:
        callback = req.form.get("StatusCallback", "")
        assert callback.startswith(f"{PUBLIC}/webhooks/twilio/status?ref="), callback
        refs[int(callback.rsplit("=", 1)[1])] += 1
    return refs


def is_quiet_local(instant: dt.datetime) -> bool:
    wall = instant.astimezone(LA).time()
    start, end = LA_QUIET
    return wall >= start or wall < end


# ------------------------------------------------------------------ planning at booking

def test_booking_plans_its_texts_in_the_same_transaction(app, api, fake, monkeypatch):
    clinic = sms_clinic()
    appt = book(api, clinic)

    rows = messages(appointment_id=appt["id"])
    assert [(r.kind, r.status, r.send_at) for r in rows] == [
        ("confirmation", "planned", NOW),
        ("instructions", "planned", local("2030-01-06", "17:00")),
        ("reminder", "planned", local(MONDAY, "08:00")),
    ]
    assert {r.to_phone for r in rows} == {PHONE}
    assert all(r.stale_at is not None and r.send_at < r.stale_at for r in rows)

    # A booking refused with 409 plans nothing.
    other = c.patient(clinic.location, name="Second Patient", phone="+18055550112")
    c.commit()
    book(api, clinic, patient_id=other.id, expect=409)
    assert messages(patient_id=other.id) == []

    # A failure after the texts were planned (here: the audit write) leaves none behind:
    # they were in the booking's transaction, not committed on their own.
    from scheduler.services.scheduling import booking

    def broken(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(booking.audit, "record", broken)
    with pytest.raises(RuntimeError):
        book(api, clinic, patient_id=other.id, day=TUESDAY)
    db.session.rollback()
    assert messages(patient_id=other.id) == []
    assert db.session.scalar(select(func.count()).select_from(Appointment)
                             .where(Appointment.patient_id == other.id)) == 0


def test_confirmation_reaches_twilio_with_its_status_callback(app, api, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)

    report = dispatch()

    assert (report.claimed, report.sent) == (1, 1)
    (req,) = fake.requests
    (row,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "confirmation"]
    assert req.form == {"To": PHONE, "From": FROM, "Body": row.body,
                        "StatusCallback": f"{PUBLIC}/webhooks/twilio/status?ref={row.id}"}
    assert "Pasadena Clinic" in row.body and "Mon Jan 7" in row.body and "10:00 AM" in row.body
    assert "1 Main St, Pasadena" in row.body and "(626) 555-0100" in row.body
    assert_discreet(row.body)
    assert (row.status, row.twilio_sid, row.sent_at, row.attempts) == (
        "sent", fake.messages[0]["sid"], NOW, 1)
    assert row.lease_until is None


def test_nothing_is_sent_before_its_time(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)
    dispatch()  # the confirmation
    rows = by_kind(messages(appointment_id=appt["id"]))
    instructions, reminder = rows["instructions"][0], rows["reminder"][0]

    for row in (instructions, reminder):
        clock.set(row.send_at - dt.timedelta(seconds=1))
        assert dispatch().claimed == 0
        assert db.session.get(Message, row.id).status == "planned"
        clock.set(row.send_at)
        assert dispatch().sent == 1
        assert db.session.get(Message, row.id).status == "sent"

    assert [r.form["Body"] for r in fake.requests][1:] == [instructions.body, reminder.body]
    # The pre-session rules of an IV session: the type's fast, the ride home, no driving.
    assert "No solid food for 6 hours" in instructions.body
    assert "ride home" in instructions.body and "Do not drive" in instructions.body
    assert "benzodiazepines or lamotrigine" in instructions.body
    for req in fake.requests:
        assert_discreet(req.form["Body"])


# ------------------------------------------------------------------ move and cancel

def test_a_move_voids_the_old_plan_and_the_old_time_is_never_texted(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)
    dispatch()  # the confirmation went out before the move
    old = by_kind(messages(appointment_id=appt["id"]))

    moved = api.patch(f"/appointments/{appt['id']}", json={"start": c.local(TUESDAY, "10:00")},
                      as_="front_desk")
    assert moved.status_code == 200, moved.get_json()

    rows = messages(appointment_id=appt["id"])
    assert [(r.kind, r.status) for r in rows] == [
        ("confirmation", "sent"), ("instructions", "voided"), ("reminder", "voided"),
        ("moved", "planned"), ("instructions", "planned"), ("reminder", "planned")]
    assert {r.reason for r in rows if r.status == "voided"} == {"appointment moved"}
    new = {r.kind: r for r in rows if r.status == "planned"}
    assert new["instructions"].send_at == local(MONDAY, "17:00")
    assert new["reminder"].send_at == local(TUESDAY, "08:00")

    # A worker runs through both the old and the new times.
    run_until(clock, local(TUESDAY, "10:00"),
              at=[old["instructions"][0].send_at, old["reminder"][0].send_at])

    refs = sent_refs(fake)
    assert set(refs.values()) == {1}
    voided = {r.id for r in rows if r.status == "voided"}
    assert not voided & set(refs), "a text planned for the old time was sent"
    assert [req.form["Body"] for req in fake.requests] == [
        old["confirmation"][0].body, new["moved"].body, new["instructions"].body,
        new["reminder"].body]
    assert "Mon Jan 7 at 10:00 AM has moved to Tue Jan 8 at 10:00 AM" in new["moved"].body
    for body in (new["instructions"].body, new["reminder"].body):
        assert "Tue Jan 8" in body and "Mon Jan 7" not in body
    assert {r.status for r in messages(appointment_id=appt["id"])} == {"sent", "voided"}


def test_cancel_voids_the_plan_and_sends_exactly_one_notice(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)
    dispatch()

    cancelled = api.post(f"/appointments/{appt['id']}/cancel", json={"reason": "patient asked"},
                         as_="front_desk")
    assert cancelled.status_code == 200, cancelled.get_json()
    again = api.post(f"/appointments/{appt['id']}/cancel", json={"reason": "twice"},
                     as_="front_desk")
    assert again.status_code == 409

    rows = messages(appointment_id=appt["id"])
    assert [(r.kind, r.status) for r in rows] == [
        ("confirmation", "sent"), ("instructions", "voided"), ("reminder", "voided"),
        ("cancelled", "planned")]
    run_until(clock, local(MONDAY, "11:00"), at=[r.send_at for r in rows])

    bodies = [req.form["Body"] for req in fake.requests]
    assert len(bodies) == 2 and sum("cancelled" in b for b in bodies) == 1
    (notice,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "cancelled"]
    assert notice.status == "sent" and bodies[1] == notice.body
    assert "Mon Jan 7 at 10:00 AM is cancelled" in notice.body


# ------------------------------------------------------------------ who may be texted

@pytest.mark.parametrize("consent, opted_out, reason", [
    (False, False, "no_consent"), (True, True, "opted_out")])
def test_no_text_without_consent_or_after_opt_out(app, api, clock, fake, consent, opted_out, reason):
    clinic = sms_clinic(consent=consent, opted_out=opted_out)
    appt = book(api, clinic)

    rows = messages(appointment_id=appt["id"])
    assert [(r.status, r.reason) for r in rows] == [("skipped", reason)] * 3
    run_until(clock, local(MONDAY, "10:00"), at=[r.send_at for r in rows])
    assert fake.requests == []


@pytest.mark.parametrize("change, reason", [
    ({"sms_opted_out": True}, "opted_out"), ({"sms_consent": False}, "no_consent")])
def test_dispatch_checks_consent_again_before_sending(app, api, clock, fake, change, reason):
    clinic = sms_clinic()
    appt = book(api, clinic)
    patient = db.session.get(Patient, clinic.patient.id)
    for key, value in change.items():
        setattr(patient, key, value)
    db.session.commit()

    run_until(clock, local(MONDAY, "10:00"))

    assert fake.requests == []
    rows = messages(appointment_id=appt["id"])
    assert [(r.status, r.reason) for r in rows] == [("skipped", reason)] * 3


# ------------------------------------------------------------------ quiet hours and caps

def test_a_text_due_in_quiet_hours_waits_for_the_morning(app, api, clock, fake):
    clinic = sms_clinic()
    clock.set(local("2030-01-01", "22:00"))  # booked late in the evening
    appt = book(api, clinic)
    (confirmation,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "confirmation"]
    assert confirmation.send_at == local("2030-01-02", "08:00")

    for wall in ("22:00", "23:30"):
        clock.set(local("2030-01-01", wall))
        assert dispatch().claimed == 0
    for wall in ("03:00", "07:59:59"):
        clock.set(local("2030-01-02", wall))
        assert dispatch().claimed == 0
    assert fake.requests == []

    clock.set(local("2030-01-02", "08:00"))
    assert dispatch().sent == 1
    assert db.session.get(Message, confirmation.id).sent_at == local("2030-01-02", "08:00")


def test_a_reminder_due_before_8_moves_to_8(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic, at="09:00")  # 2 h before is 07:00: quiet
    (reminder,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "reminder"]
    assert reminder.send_at == local(MONDAY, "08:00")

    run_until(clock, local(MONDAY, "09:00"), at=[local(MONDAY, "07:00")])

    rows = messages(appointment_id=appt["id"])
    assert [r.status for r in rows] == ["sent"] * 3
    assert all(not is_quiet_local(r.sent_at) for r in rows)
    assert db.session.get(Message, reminder.id).sent_at == local(MONDAY, "08:00")


def test_a_text_caught_up_after_downtime_is_not_sent_in_quiet_hours(app, api, clock, fake):
    # Planned for 20:50; the worker was down until 21:30. Sending on catch-up would text
    # the patient at night: it waits for 08:00 (still before the session) instead.
    clinic = sms_clinic()
    clock.set(local("2030-01-01", "20:50"))
    appt = book(api, clinic)
    (confirmation,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "confirmation"]
    assert confirmation.send_at == local("2030-01-01", "20:50")

    clock.set(local("2030-01-01", "21:30"))
    dispatch()
    assert fake.requests == []
    row = db.session.get(Message, confirmation.id)
    assert (row.status, row.send_at) == ("planned", local("2030-01-02", "08:00"))
    assert "quiet" in row.reason

    run_until(clock, local("2030-01-02", "09:00"))
    row = db.session.get(Message, confirmation.id)
    assert (row.status, row.sent_at) == ("sent", local("2030-01-02", "08:00"))
    assert len(fake.requests) == 1


def test_caps_of_the_exemption_profile(app, api, clock, fake):
    clinic = sms_clinic(sms_profile="exemption")
    # Wed 10:00: its reminder (Tue 10:00) and the confirmation (now) share Tuesday.
    first = book(api, clinic, session_type="consultation", day="2030-01-02")
    rows = by_kind(messages(appointment_id=first["id"]))
    assert (rows["confirmation"][0].status, rows["confirmation"][0].reason) == (
        "skipped", "merged_into:reminder")
    assert (rows["reminder"][0].status, rows["reminder"][0].send_at) == ("planned", NOW)
    # Thu 10:00: its confirmation would be a second text on Tuesday and has no host there.
    second = book(api, clinic, session_type="integration", day="2030-01-03")
    rows = by_kind(messages(appointment_id=second["id"]))
    assert (rows["confirmation"][0].status, rows["confirmation"][0].reason) == ("skipped", "cap_day")
    assert rows["reminder"][0].status == "planned"
    # Sat and Sun: the week (Mon Dec 31 - Sun Jan 6) holds 3 texts at most.
    third = book(api, clinic, session_type="integration", day="2030-01-05")
    fourth = book(api, clinic, session_type="integration", day="2030-01-06")
    assert by_kind(messages(appointment_id=third["id"]))["reminder"][0].status == "planned"
    (late,) = by_kind(messages(appointment_id=fourth["id"]))["reminder"]
    assert (late.status, late.reason) == ("skipped", "cap_week")

    run_until(clock, local("2030-01-06", "12:00"))

    sent = messages(status="sent")
    assert len(fake.requests) == len(sent) == 3
    days = Counter(r.sent_at.astimezone(LA).date() for r in sent)
    assert max(days.values()) == 1
    for req in fake.requests:
        body = req.form["Body"]
        assert len(body) <= 160 and body.isascii(), body
        assert "Pasadena Clinic" in body and "(626) 555-0100" in body and "STOP" in body
        assert_discreet(body)


# ------------------------------------------------------------------ Twilio errors

def test_temporary_errors_are_retried_with_backoff_then_sent_once(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)
    fake.fail_next(status=500, times=2)

    report = dispatch()
    assert (report.sent, report.retried) == (0, 1)
    (row,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "confirmation"]
    first_retry = row.send_at
    assert (row.status, row.attempts, row.twilio_sid) == ("planned", 1, None)
    assert NOW + dt.timedelta(seconds=15) <= first_retry <= NOW + dt.timedelta(seconds=30)
    assert row.reason.startswith("retrying")

    assert dispatch().claimed == 0  # not before the back-off
    assert len(fake.requests) == 1

    clock.set(first_retry)
    assert dispatch().retried == 1
    row = db.session.get(Message, row.id)
    assert (row.status, row.attempts) == ("planned", 2)
    assert first_retry + dt.timedelta(seconds=30) <= row.send_at <= first_retry + dt.timedelta(seconds=60)

    clock.set(row.send_at)
    assert dispatch().sent == 1
    row = db.session.get(Message, row.id)
    assert (row.status, row.attempts, row.twilio_sid) == ("sent", 3, fake.messages[0]["sid"])
    assert row.error_code is None and row.reason is None
    clock.advance(hours=1)
    dispatch()
    assert sent_refs(fake)[row.id] == 3 and len(fake.messages) == 1


@pytest.mark.parametrize("status, code", [(429, None), (429, 20429), (400, 30001), (503, None)])
def test_other_temporary_errors(app, api, clock, fake, status, code):
    clinic = sms_clinic()
    appt = book(api, clinic)
    fake.fail_next(status=status, code=code)

    assert dispatch().retried == 1
    (row,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "confirmation"]
    assert (row.status, row.attempts, row.error_code) == ("planned", 1, code)
    assert row.send_at > NOW

    clock.set(row.send_at)
    assert dispatch().sent == 1
    assert db.session.get(Message, row.id).status == "sent"
    assert sent_refs(fake)[row.id] == 2 and len(fake.messages) == 1


@pytest.mark.parametrize("code", [21211, 21614, 30006])
def test_permanent_errors_fail_at_once_and_show_to_the_front_desk(app, api, clock, fake, code):
    clinic = sms_clinic()
    appt = book(api, clinic)
    fake.fail_next(status=400, code=code)

    assert dispatch().failed == 1
    run_until(clock, NOW + dt.timedelta(hours=2), at=[NOW + dt.timedelta(minutes=m) for m in (1, 5, 30)])

    (row,) = [r for r in messages(appointment_id=appt["id"]) if r.kind == "confirmation"]
    assert (row.status, row.error_code, row.attempts, row.lease_until) == ("failed", code, 1, None)
    assert sent_refs(fake)[row.id] == 1
    assert db.session.get(Patient, clinic.patient.id).sms_opted_out is False

    failed = api.get("/messages?status=failed", as_="front_desk")
    assert failed.status_code == 200
    assert [(m["id"], m["status"], m["error_code"]) for m in failed.get_json()["items"]] == [
        (row.id, "failed", code)]
    assert str(code) in failed.get_json()["items"][0]["reason"]
    listed = api.get(f"/appointments/{appt['id']}/messages", as_="front_desk").get_json()["items"]
    assert [(m["kind"], m["status"], m["error_code"]) for m in listed] == [
        ("confirmation", "failed", code), ("instructions", "planned", None),
        ("reminder", "planned", None)]


def test_21610_fails_and_opts_the_patient_out(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)
    fake.fail_next(status=400, code=21610)

    assert dispatch().failed == 1
    patient = db.session.get(Patient, clinic.patient.id)
    assert (patient.sms_opted_out, patient.sms_opted_out_at) == (True, NOW)

    run_until(clock, local(MONDAY, "10:00"))
    rows = messages(appointment_id=appt["id"])
    assert [(r.kind, r.status, r.error_code, r.reason) for r in rows][1:] == [
        ("instructions", "skipped", None, "opted_out"), ("reminder", "skipped", None, "opted_out")]
    assert (rows[0].status, rows[0].error_code) == ("failed", 21610)
    assert len(fake.requests) == 1
    skipped = api.get(f"/appointments/{appt['id']}/messages", as_="front_desk").get_json()["items"]
    assert [m["reason"] for m in skipped][1:] == ["opted_out", "opted_out"]


# ------------------------------------------------------------------ downtime

def test_after_downtime_stale_texts_are_skipped_not_sent(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)
    dispatch()

    clock.set(local(MONDAY, "10:05"))  # the worker was down; the session has started
    report = dispatch()

    assert (report.claimed, report.sent, report.skipped) == (2, 0, 2)
    rows = messages(appointment_id=appt["id"])
    assert [(r.kind, r.status, r.reason) for r in rows][1:] == [
        ("instructions", "skipped", "stale"), ("reminder", "skipped", "stale")]
    assert len(fake.requests) == 1


def test_after_downtime_what_is_still_useful_is_caught_up(app, api, clock, fake):
    clinic = sms_clinic()
    appt = book(api, clinic)
    dispatch()

    clock.set(local(MONDAY, "09:00"))  # the fast began at 04:00; the reminder is still useful
    dispatch()

    rows = by_kind(messages(appointment_id=appt["id"]))
    assert (rows["instructions"][0].status, rows["instructions"][0].reason) == ("skipped", "stale")
    assert (rows["reminder"][0].status, rows["reminder"][0].sent_at) == ("sent", local(MONDAY, "09:00"))
    assert [r.form["Body"] for r in fake.requests][1:] == [rows["reminder"][0].body]


# ------------------------------------------------------------------ discretion

def test_no_text_names_the_treatment(app, api, clock, fake):
    clinic = sms_clinic()
    plan = [("ketamine_iv", MONDAY), ("ketamine_im", TUESDAY), ("ketamine_sublingual", "2030-01-09"),
            ("esketamine_nasal", "2030-01-10"), ("integration", "2030-01-11"),
            ("consultation", "2030-01-14")]
    booked = []
    for i, (code, day) in enumerate(plan):
        patient = c.patient(clinic.location, name=f"Patient {i}", phone=f"+1805555020{i}")
        c.commit()
        booked.append(book(api, clinic, session_type=code, day=day, patient_id=patient.id))
    moved = api.patch(f"/appointments/{booked[0]['id']}", json={"start": c.local(MONDAY, "13:00")},
                      as_="front_desk")
    assert moved.status_code == 200, moved.get_json()
    assert api.post(f"/appointments/{booked[3]['id']}/cancel", json={"reason": "ill"},
                    as_="front_desk").status_code == 200

    run_until(clock, local("2030-01-14", "10:00"))

    kinds = Counter(r.kind for r in messages(status="sent"))
    assert set(kinds) == {"confirmation", "instructions", "reminder", "moved", "cancelled"}
    assert len(fake.requests) == sum(kinds.values()) == 14
    for req in fake.requests:
        assert_discreet(req.form["Body"])


# ------------------------------------------------------------------ leases and claims

def test_a_row_held_by_a_dead_worker_is_reclaimed_after_its_lease(app, clock, fake):
    clinic = sms_clinic()
    row = add_message(clinic.patient, send_at=NOW, stale_at=NOW + dt.timedelta(days=1))

    assert claim_due(NOW, "dead") == [row.id]  # ... and the "dead" worker never finishes
    held = messages(id=row.id)[0]
    assert (held.status, held.lease_owner, held.lease_until) == (
        "sending", "dead", NOW + dispatch_service.LEASE)

    for later in (dt.timedelta(0), dt.timedelta(minutes=4, seconds=59), dispatch_service.LEASE):
        clock.set(NOW + later)
        assert dispatch().claimed == 0
    assert fake.requests == []

    clock.set(NOW + dispatch_service.LEASE + dt.timedelta(seconds=1))
    assert dispatch().sent == 1
    row = messages(id=row.id)[0]
    assert (row.status, row.lease_owner, row.attempts) == ("sent", WORKER_NAME, 2)

    # The "dead" worker wakes up and tries to go on: its lease is gone, nothing is sent.
    sender, limiter = sender_and_limiter()
    report = DispatchReport()
    send_one(row.id, sender, limiter, "dead", clock.now(), report)
    clock.advance(hours=1)
    dispatch()
    assert report.sent == 0 and len(fake.requests) == 1
    assert messages(id=row.id)[0].twilio_sid == fake.messages[0]["sid"]


def test_two_claimers_at_once_get_disjoint_rows(app):
    clinic = sms_clinic()
    for i in range(40):
        add_message(clinic.patient, send_at=NOW - dt.timedelta(seconds=i), commit=False)
    db.session.commit()
    barrier = threading.Barrier(2, timeout=30)
    claimed, errors = {}, []

    def claimer(owner):
        with app.app_context():
            try:
                barrier.wait()
                claimed[owner] = claim_due(NOW, owner, limit=25)
            except Exception as exc:  # reported below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=claimer, args=(f"worker-{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not any(t.is_alive() for t in threads), errors

    a, b = set(claimed["worker-1"]), set(claimed["worker-2"])
    assert not a & b
    assert len(a | b) == 40 and sorted([len(a), len(b)]) == [15, 25]
    for row in messages():
        assert row.status == "sending"
        assert row.lease_owner == ("worker-1" if row.id in a else "worker-2")
    # Nothing is left to claim while the leases run.
    assert claim_due(NOW, "worker-3") == []
