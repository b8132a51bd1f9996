"""The desk's pages without a browser: the board's content, search, find a time and book,
move, cancel, check in, a new patient; refusals shown in words next to their form."""
import datetime as dt
import re

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEntry, Patient
from tests.conftest import NOW
from tests.support.desk_clinic import DAY, at, book, fail_a_text, seed_clinic

RAW = ("Traceback", '{"code"', '"message":')


def readable(page: str) -> bool:
    return not any(raw in page for raw in RAW)


def test_the_board_draws_each_visit_with_its_phases_markers_and_words(signed_in):
    c = seed_clinic()
    iv = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    im = book(c["riley"], "ketamine_im", at("13:00"), NOW, ride_arranged=True)
    fail_a_text(im)
    page = signed_in.text(f"/desk/board?location_id={c['location'].id}&date=2030-01-01&highlight={iv.id}")
    assert "Pasadena: Tuesday 1 January 2030" in page and "Open 07:00–19:00." in page
    room_block = re.search(rf'<a class="block status-booked highlight[^"]*" id="block-room-{iv.id}".*?</a>', page, re.S)
    assert room_block, "the IV session is drawn in its room, highlighted"
    assert re.findall(r'data-phase="(\w+)"', room_block.group(0)) == ["administering", "monitoring", "turnover"]
    assert ">A</span>" in room_block.group(0) and ">M</span>" in room_block.group(0)
    assert "Jordan Ellis, IV ketamine infusion, 10:00 to 11:40 with" in room_block.group(0)
    assert "administering 10:00 to 10:40, monitoring 10:40 to 11:40, turnover 11:40 to 11:55" in room_block.group(0)
    assert "No ride" in room_block.group(0) and "Unconfirmed" in room_block.group(0)
    im_block = re.search(rf'id="block-room-{im.id}".*?</a>', page, re.S).group(0)
    assert "Text failed" in im_block and "No ride" not in im_block
    assert page.count('id="block-provider-') == 2
    assert "Monitoring capacity" in page and '<path class="cap-line" d="M0.0,' in page
    assert "<caption>How many more patients could be watched, by time</caption>" in page
    assert re.search(r"<td>07:00</td><td>08:00</td><td>3</td>", page)


def test_the_board_of_an_unknown_location_or_bad_date_is_said_in_words(signed_in):
    c = seed_clinic()
    missing = signed_in.get("/desk/board?location_id=999")
    assert missing.status_code == 404 and "No location with id 999." in missing.get_data(as_text=True)
    page = signed_in.text(f"/desk/board?location_id={c['location'].id}&date=2030-13-45")
    assert "A date like 2030-01-07." in page and "Tuesday 1 January 2030" in page


def test_the_board_without_any_location_says_what_to_do(signed_in):
    assert "No location exists yet" in signed_in.text("/desk/board")


def test_patients_are_found_by_name_phone_or_birth_date(signed_in):
    seed_clinic()
    for typed in ("ellis", "JORDAN ELL", "(805) 555-0111", "805.555.0111", "1980-04-02", "04/02/1980", "0111"):
        page = signed_in.text(f"/desk/patients?q={typed}")
        assert "Jordan Ellis" in page and "Riley Morgan" not in page, typed
    partial = signed_in.text("/desk/patients?q=morgan", headers={"HX-Request": "true"})
    assert "Riley Morgan" in partial and "<html" not in partial
    assert "Searching for name containing “morgan”: 1 found." in partial
    nothing = signed_in.text("/desk/patients?q=%25")  # a LIKE wildcard is a character, not "everyone"
    assert "No patient matches." in nothing
    wrong = signed_in.text("/desk/patients?q=02/31/1980")
    assert "02/31/1980 is not a date." in wrong and readable(wrong)


def test_a_patient_page_lists_visits_and_texts_with_failures(signed_in):
    c = seed_clinic()
    visit = book(c["riley"], "ketamine_im", at("13:00"), NOW)
    fail_a_text(visit)
    page = signed_in.text(f"/desk/patients/{c['riley'].id}")
    assert "Riley Morgan" in page and "(626) 555-0112" in page and "1991-11-30" in page
    assert "Intramuscular ketamine" in page and "Tue 1 Jan 2030, 13:00" in page
    assert '<tr class="failed">' in page and "Error 30003." in page
    assert f"/desk/find?patient_id={c['riley'].id}" in page


def test_find_a_time_lists_free_starts_with_names_and_books_one(signed_in):
    c = seed_clinic()
    query = (f"/desk/find?location_id={c['location'].id}&date=2030-01-01&session_type=ketamine_iv"
             f"&patient_id={c['jordan'].id}&ride_arranged=1")
    page = signed_in.text(query)
    assert "free starts for Jordan Ellis" in page
    first = re.search(r'<form method="post" action="/desk/appointments" class="slot">.*?</form>', page, re.S).group(0)
    assert "10:00–11:40" in first and "Hannah Park, RN" in first and "Dr. Maya Chen, MD" in first
    assert "Chair 1" in first and 'name="origin" value="/desk/find?' in first
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', first))
    fields["provider_id"] = str(c["nurse"].id)
    fields["room_id"] = str(c["chairs"][2].id)
    response = signed_in.post("/desk/appointments", fields)
    assert response.status_code == 303
    booked = db.session.query(Appointment).filter_by(patient_id=c["jordan"].id).one()
    assert (booked.start_at, booked.provider_id, booked.room_id) == (at("10:00"), c["nurse"].id, c["chairs"][2].id)
    assert booked.ride_arranged is True and booked.created_by == "front_desk test key"
    assert response.headers["Location"] == (f"/desk/board?location_id={c['location'].id}&date=2030-01-01"
                                            f"&highlight={booked.id}#appt-{booked.id}")
    board = signed_in.text(response.headers["Location"])
    assert "Booked Jordan Ellis: IV ketamine infusion, Tue 1 Jan 2030, 10:00–11:40 with Hannah Park, RN in Chair 3." in board


def test_find_a_time_as_a_partial_for_htmx_and_a_patient_picker(signed_in):
    c = seed_clinic()
    partial = signed_in.text(f"/desk/find?location_id={c['location'].id}&date=2030-01-01&session_type=integration&days=2",
                             headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/desk/board?date=2030-01-01"})
    assert "<html" not in partial and "Choose a patient (above) to book one of these times." in partial
    assert "Wednesday 2 January 2030" in partial and "Ana Silva, LMFT" in partial and "Office A" in partial
    picker = signed_in.text("/desk/patients/pick?patient_q=riley")
    assert 'name="patient_id" value="%d" checked' % c["riley"].id in picker
    none = signed_in.text("/desk/patients/pick?patient_q=nobody")
    assert "No patient matches “nobody”." in none


def test_a_refused_booking_comes_back_to_its_form_in_words(signed_in):
    c = seed_clinic()
    origin = f"/desk/board?location_id={c['location'].id}&date=2030-01-01"
    response = signed_in.post("/desk/appointments", {
        "patient_id": c["casey"].id, "session_type": "ketamine_iv", "location_id": c["location"].id,
        "start": at("10:00").isoformat(), "origin": origin})
    assert response.status_code == 303 and response.headers["Location"] == origin
    page = signed_in.text(origin)
    assert "Not booked: A first dosing session needs a fulfilled consultation or a dosing clearance." in page
    assert readable(page)
    missing = signed_in.post("/desk/appointments", {"session_type": "ketamine_iv", "location_id": c["location"].id,
                                                    "start": at("10:00").isoformat(), "origin": "https://evil.example/"})
    assert missing.headers["Location"] == "/desk/board"
    assert "Not booked: Patient (choose a patient first)." in signed_in.text("/desk/board")
    assert db.session.query(Appointment).count() == 0


def test_moving_a_visit_and_a_refused_move(signed_in):
    c = seed_clinic()
    visit = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    url = f"/desk/appointments/{visit.id}"
    page = signed_in.text(url)
    assert 'id="move-time"' in page and '<option value="10:00" selected>' in page
    moved = signed_in.post(url + "/move", {"date": "2030-01-01", "time": "11:00", "provider_id": c["nurse"].id,
                                           "room_id": c["chairs"][1].id})
    assert moved.status_code == 303
    assert "Moved to Tue 1 Jan 2030, 11:00 with Hannah Park, RN in Chair 2." in signed_in.text(url)
    refused = signed_in.post(url + "/move", {"date": "2030-01-01", "time": "18:00", "provider_id": c["nurse"].id})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert '<p class="error" role="alert" id="move-error">The session would run past closing time.</p>' in text
    assert '<option value="18:00" selected>' in text and readable(text)
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).start_at == at("11:00")
    bad = signed_in.post(url + "/move", {"date": "2030-02-30", "time": "25:00"})
    assert bad.status_code == 422 and "Check the date and time." in bad.get_data(as_text=True)


def test_a_move_into_the_spring_forward_gap_is_explained(signed_in):
    c = seed_clinic()
    c["location"].opening_hours = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    db.session.commit()
    visit = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    refused = signed_in.post(f"/desk/appointments/{visit.id}/move", {"date": "2030-03-10", "time": "02:30"})
    assert refused.status_code == 422
    assert "02:30 does not exist on 10 Mar 2030 (the clocks go forward)." in refused.get_data(as_text=True)


def test_cancel_needs_a_reason_and_then_frees_the_time(signed_in):
    c = seed_clinic()
    visit = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    url = f"/desk/appointments/{visit.id}"
    empty = signed_in.post(url + "/cancel", {"reason": "  "})
    assert empty.status_code == 422 and "Say why it is cancelled." in empty.get_data(as_text=True)
    assert signed_in.post(url + "/cancel", {"reason": "Patient called"}).status_code == 303
    page = signed_in.text(url)
    assert "Cancelled (Patient called)" in page and 'id="move-time"' not in page
    again = signed_in.post(url + "/cancel", {"reason": "twice"})
    assert again.status_code == 409 and "Cannot cancel an appointment that is cancelled" in again.get_data(as_text=True)
    entry = db.session.query(AuditEntry).filter_by(entity_type="appointments", action="cancel").one()
    assert entry.actor == "front_desk test key"


def test_check_in_happens_on_the_day(signed_in):
    c = seed_clinic()
    today = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    later = book(c["riley"], "ketamine_iv", at("10:00", DAY + dt.timedelta(days=1)), NOW)
    refused = signed_in.post(f"/desk/appointments/{later.id}/check-in")
    assert refused.status_code == 409
    assert 'id="check_in-error">Check-in happens on the day of the appointment.' in refused.get_data(as_text=True)
    assert signed_in.post(f"/desk/appointments/{today.id}/check-in").status_code == 303
    assert "Checked in." in signed_in.text(f"/desk/appointments/{today.id}")


def test_a_new_patient_is_added_or_told_what_to_fix(signed_in):
    c = seed_clinic()
    form = signed_in.text("/desk/patients/new")
    assert '<label for="phone">Mobile phone</label>' in form
    bad = signed_in.post("/desk/patients", {"name": " ", "phone": "12", "home_location_id": c["location"].id,
                                            "date_of_birth": "2031-01-01"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and readable(text)
    assert 'id="name-error">Required.' in text and 'id="phone-error">Not a phone number we can text' in text
    assert 'id="date_of_birth-error">A date between 1900-01-01 and 2030-01-01.' in text
    made = signed_in.post("/desk/patients", {"name": "Sam  Rivera", "phone": "(805) 555-0199",
                                             "home_location_id": c["location"].id, "date_of_birth": "1975-06-01",
                                             "sms_consent": "1"})
    assert made.status_code == 303
    patient = db.session.query(Patient).filter_by(name="Sam Rivera").one()
    assert (patient.phone, patient.date_of_birth, patient.sms_consent) == ("+18055550199", dt.date(1975, 6, 1), True)
    assert made.headers["Location"] == f"/desk/patients/{patient.id}"
    assert "Added Sam Rivera." in signed_in.text(made.headers["Location"])
    unknown = signed_in.post("/desk/patients", {"name": "X", "phone": "(805) 555-0198", "home_location_id": 999})
    assert unknown.status_code == 422 and "Home location: No location with id 999." in unknown.get_data(as_text=True)


def test_the_desk_marks_a_ride_home_and_the_marker_goes(signed_in):
    c = seed_clinic()
    visit = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    board = f"/desk/board?location_id={c['location'].id}&date=2030-01-01"
    assert "No ride home is arranged for this dosing session." in signed_in.text(board)
    assert signed_in.post(f"/desk/appointments/{visit.id}/ride", {"ride_arranged": "1"}).status_code == 303
    assert "Ride home arranged." in signed_in.text(f"/desk/appointments/{visit.id}")
    assert "No ride home is arranged" not in signed_in.text(board)
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).ride_arranged is True
