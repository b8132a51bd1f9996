"""No double booking, proven through real HTTP on whichever database the suite runs on.

Thirty clerks press "book" at the same instant (a barrier releases their threads
together) against the real app served by a threaded server: one wins, the rest get a 409
that names the rule, and the database holds one appointment (EXAMPLES.md, example 12).
"""
import threading

import pytest
import requests
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import Appointment, IdempotencyRecord
from scheduler.domain.vocabulary import OCCUPYING_STATUSES
from tests.support import clinic as c
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

MONDAY = "2030-01-07"  # the clock stands at Tuesday 2030-01-01 08:00 in Los Angeles
CLERKS = 30
REQUEST_TIMEOUT = (5, 60)  # connect, read: a request that hangs fails the test
RACE_TIMEOUT = 120.0
LOST_RACE = {"slot_unavailable", "provider_unavailable", "room_unavailable", "monitoring_capacity"}


@pytest.fixture
def server(app, database_url, clock):
    with LiveServer(database_url, clock) as live:
        yield live


def race(count: int, send) -> list[requests.Response]:
    """Run send(i, session) in count threads released together; every response, in order."""
    barrier = threading.Barrier(count, timeout=RACE_TIMEOUT)
    responses: list = [None] * count
    errors: list = []

    def clerk(i: int) -> None:
        with requests.Session() as session:
            try:
                barrier.wait()
                responses[i] = send(i, session)
            except Exception as exc:  # reported below, with the thread's index
                errors.append((i, repr(exc)))

    threads = [threading.Thread(target=clerk, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(RACE_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a clerk's request never finished"
    assert not errors, errors
    return responses


def book(server, keys, session, body, headers=None):
    return session.post(f"{server.base_url}/api/v1/appointments", json=body, timeout=REQUEST_TIMEOUT,
                        headers={"Authorization": f"Bearer {keys['front_desk']}", **(headers or {})})


def occupying(location_id: int) -> list[Appointment]:
    db.session.rollback()  # a fresh snapshot: the server's commits are what we count
    return list(db.session.scalars(select(Appointment).where(
        Appointment.location_id == location_id, Appointment.status.in_(OCCUPYING_STATUSES))))


def patients(loc, count: int):
    return [c.patient(loc, name=f"Patient {i}", phone=f"+1805555{i:04d}") for i in range(count)]


def codes(responses) -> set[str]:
    return {r.json()["code"] for r in responses if r.status_code == 409}


def test_thirty_clerks_one_slot_one_booking(app, keys, server):
    loc = c.location("Santa Barbara", ratio=3)
    (room,) = c.rooms(loc, "treatment", 1)
    prescriber = c.provider("Dr. One", ["prescriber"], at=loc)
    c.provider("Nurse One", ["nurse"], at=loc)  # two clinicians: capacity is not the limit
    people = patients(loc, CLERKS)
    c.commit()
    start = c.local(MONDAY, "09:00")
    bodies = [{"patient_id": p.id, "session_type": "ketamine_iv", "location_id": loc.id, "start": start,
               "provider_id": prescriber.id, "room_id": room.id} for p in people]

    responses = race(CLERKS, lambda i, s: book(server, keys, s, bodies[i]))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CLERKS - 1), [r.text for r in responses if r.status_code not in (201, 409)]
    assert codes(responses) <= LOST_RACE, codes(responses)
    (won,) = [r.json() for r in responses if r.status_code == 201]
    assert (won["provider"]["id"], won["room"]["id"]) == (prescriber.id, room.id)
    rows = occupying(loc.id)
    assert [row.id for row in rows] == [won["id"]]


def test_same_idempotency_key_thirty_times_books_once(app, keys, server):
    loc = c.location("Pasadena")
    (room,) = c.rooms(loc, "treatment", 1)
    prescriber = c.provider("Dr. Two", ["prescriber"], at=loc)
    c.provider("Nurse Two", ["nurse"], at=loc)
    patient = c.patient(loc)
    c.commit()
    body = {"patient_id": patient.id, "session_type": "ketamine_iv", "location_id": loc.id,
            "start": c.local(MONDAY, "10:00"), "provider_id": prescriber.id, "room_id": room.id}
    key = {"Idempotency-Key": "clerk-retries-0001"}

    responses = race(CLERKS, lambda i, s: book(server, keys, s, body, key))

    assert [r.status_code for r in responses] == [201] * CLERKS, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == CLERKS - 1
    assert [row.id for row in occupying(loc.id)] == list(ids)
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_monitoring_capacity_race_admits_only_what_the_nurse_can_watch(app, keys, server, api):
    # Ratio 1 and one nurse who only watches: from 10:00 (the prescribers go home) there is
    # room in the monitoring count for exactly one more patient. Two prescribers, two rooms:
    # no pair of bookings below shares a provider or a room, so no exclusion constraint can
    # stop the second one; only the count, checked under the location's lock, can.
    loc = c.location("Portland", state="OR", ratio=1)
    room_a, room_b = c.rooms(loc, "treatment", 2)
    c.provider("Nurse Watcher", ["nurse"], states=("OR",), at=loc)
    p1 = c.provider("Dr. Early", ["prescriber"], states=("OR",), at=loc, hours=("08:00", "10:00"))
    p2 = c.provider("Dr. Later", ["prescriber"], states=("OR",), at=loc, hours=("08:00", "10:00"))
    count = 12
    people = patients(loc, count)
    c.commit()
    # Monitoring windows 09:40-10:40 and 09:55-10:55 overlap in 10:00-10:40.
    choices = [(p1.id, room_a.id, c.local(MONDAY, "09:00")), (p2.id, room_b.id, c.local(MONDAY, "09:15"))]
    for provider_id, _, start in choices:  # each alone is bookable: the limit is the count
        found = api.get(f"/slots?location_id={loc.id}&session_type=ketamine_iv&provider_id={provider_id}"
                        f"&start={start.replace('+', '%2B')}&end={c.local(MONDAY, '09:30').replace('+', '%2B')}")
        assert found.status_code == 200, found.get_json()
        assert start in [s["start"] for s in found.get_json()["slots"]]
    bodies = []
    for i, p in enumerate(people):
        provider_id, room_id, start = choices[i % 2]
        bodies.append({"patient_id": p.id, "session_type": "ketamine_iv", "location_id": loc.id,
                       "start": start, "provider_id": provider_id, "room_id": room_id})

    responses = race(count, lambda i, s: book(server, keys, s, bodies[i]))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (count - 1), [r.text for r in responses]
    assert codes(responses) <= LOST_RACE, codes(responses)
    assert "monitoring_capacity" in codes(responses)  # the other pair lost on the count
    assert len(occupying(loc.id)) == 1
