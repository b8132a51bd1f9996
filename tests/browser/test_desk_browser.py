"""The front desk in Chromium: sign in, find a patient, book a dosing session from the day
board and see its phases, move it, have a move refused in words, cancel it; and what is
refused: a calendar key, a form without its CSRF token, a revoked key."""
import datetime as dt

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from scheduler.extensions import db
from scheduler.models import ApiKey, Appointment
from tests.conftest import NOW
from tests.support.desk_clinic import at, book, fail_a_text, seed_clinic

NO_RAW = ("Traceback", '{"code"', "Internal Server Error", "werkzeug")


def sign_in(page, key: str):
    page.go("/desk/")
    page.visible("#api_key").send_keys(key)
    page.find("form button[type=submit]").click()


def assert_readable(page):
    source = page.driver.page_source
    assert not [raw for raw in NO_RAW if raw in source]


def test_front_desk_day(page, keys):
    c = seed_clinic()
    riley_visit = book(c["riley"], "ketamine_im", at("13:00"), NOW, ride_arranged=True)
    fail_a_text(riley_visit)
    book(c["jordan"], "integration", at("10:00", dt.date(2030, 1, 3)), NOW)

    page.go("/desk/")
    page.visible("#api_key")
    assert "Sign in to the front desk" in page.body()
    page.shoot("01-sign-in")
    page.find("#api_key").send_keys(keys["front_desk"])
    page.find("form button[type=submit]").click()
    page.text_in("h1", "Pasadena: Tuesday 1 January 2030")
    assert "Signed in as front_desk test key" in page.body()
    riley_block = page.find(f"#block-room-{riley_visit.id}")
    assert [p.get_attribute("data-phase") for p in riley_block.find_elements(By.CSS_SELECTOR, ".ph")] \
        == ["administering", "monitoring", "turnover"]
    assert "Text failed" in riley_block.text and "Unconfirmed" in riley_block.text
    page.shoot("02-board")

    # Find a patient: as-you-type search (htmx), then their visits and texts.
    page.find("nav a[href='/desk/patients']").click()
    page.visible("#q").send_keys("ELLIS")
    page.text_in("#patient-results", "Jordan Ellis")
    assert "(805) 555-0111" in page.find("#patient-results").text
    page.shoot("03-patient-search")
    page.find("#q").clear()
    page.find("#q").send_keys("805.555.0111", Keys.ENTER)
    page.text_in("#patient-results", "phone +18055550111")
    page.find("#patient-results a").click()
    page.text_in("h1", "Jordan Ellis")
    assert "Integration psychotherapy" in page.find("section[aria-labelledby=visits-title]").text
    assert "Confirmation" in page.find("section[aria-labelledby=texts-title]").text
    page.shoot("04-patient")
    page.find("a.button-link[href^='/desk/find?patient_id=']").click()
    page.text_in("h1", "Find a time")
    assert page.find("#patient-choices input[type=radio]").is_selected()
    Select(page.find("#find-days")).select_by_value("3")
    page.find(".find-form button[type=submit]").click()
    page.text_in("#find-results", "Thursday 3 January 2030")
    page.shoot("04b-find-a-time")

    # Book a dosing session from the board.
    page.find("nav a[href='/desk/board']").click()
    page.visible("#patient_q").send_keys("Jordan")
    page.text_in("#patient-choices", "Jordan Ellis")
    assert page.find("#patient-choices input[type=radio]").is_selected()
    Select(page.find("#find-type")).select_by_value("ketamine_iv")
    page.find("#find-ride").click()
    page.find(".find-form button[type=submit]").click()
    page.text_in("#find-results", "free starts for Jordan Ellis")
    page.shoot("05-board-find-time")
    first = page.find("#find-results form.slot")
    assert "10:00–11:40" in first.text  # 08:00 now + 120 min notice
    first.find_element(By.CSS_SELECTOR, "button").click()
    page.text_in(".notices", "Booked Jordan Ellis")
    db.session.rollback()  # end the test's read transaction: see what the server wrote
    booked = db.session.query(Appointment).filter_by(patient_id=c["jordan"].id, is_dosing=True).one()
    block = page.visible(f"#block-room-{booked.id}")
    assert [p.get_attribute("data-phase") for p in block.find_elements(By.CSS_SELECTOR, ".ph")] \
        == ["administering", "monitoring", "turnover"]
    assert [p.text for p in block.find_elements(By.CSS_SELECTOR, ".ph")] == ["A", "M", "T"]
    label = block.get_attribute("aria-label")
    assert "administering 10:00 to 10:40, monitoring 10:40 to 11:40, turnover 11:40 to 11:55" in label
    assert "highlight" in page.find(f"#appt-{booked.id}").get_attribute("class")
    page.shoot("06-board-booked")

    # Move it: the keyboard opens the appointment from the board.
    block.send_keys(Keys.ENTER)
    page.text_in("h1", "IV ketamine infusion")
    page.shoot("07-appointment")
    Select(page.find("#move-time")).select_by_value("11:00")
    page.find("section[aria-labelledby=move-title] button").click()
    page.text_in(".notices", "Moved to Tue 1 Jan 2030, 11:00")
    assert "11:00–12:40" in page.body()

    # A refusal, in words, next to the form it answers.
    Select(page.find("#move-time")).select_by_value("18:00")
    page.find("section[aria-labelledby=move-title] button").click()
    error = page.text_in("#move-error", "The session would run past closing time.")
    assert error.is_displayed()
    assert_readable(page)
    assert "11:00–12:40" in page.body()  # nothing moved
    page.shoot("08-move-refused")

    # Cancel it, with a reason; the board no longer draws it.
    page.find("#cancel-reason").send_keys("Patient called: feeling unwell")
    page.find("section[aria-labelledby=cancel-title] button").click()
    page.text_in("#status", "Cancelled (Patient called: feeling unwell)")
    page.shoot("09-cancelled")
    page.find(".crumbs a").click()
    page.text_in("h1", "Pasadena")
    assert not page.find_all(f"#block-room-{booked.id}")
    assert "inactive" in page.find(f"#appt-{booked.id}").get_attribute("class")
    page.shoot("10-board-after-cancel")

    assert page.console_errors() == []  # nothing blocked by the CSP, no script error, all day
    page.find(".who button").click()
    page.text_in(".notices", "Signed out.")
    page.go("/desk/board")
    page.visible("#api_key")


def test_a_new_patient_from_the_desk(page, keys):
    seed_clinic()
    sign_in(page, keys["front_desk"])
    page.text_in("h1", "Pasadena")
    page.find("nav a[href='/desk/patients/new']").click()
    page.visible("#name").send_keys("Sam Rivera")
    page.find("#phone").send_keys("805 555 019")  # one digit short
    page.find("form.stacked button").click()
    page.text_in("#phone-error", "Not a phone number we can text")
    assert page.find("#phone").get_attribute("aria-invalid") == "true"
    page.shoot("14-new-patient-refused")
    page.find("#phone").send_keys("9")
    page.find("#sms_consent").click()
    page.find("form.stacked button").click()
    page.text_in("h1", "Sam Rivera")
    assert "(805) 555-0199" in page.body() and "Added Sam Rivera." in page.body()
    page.shoot("15-new-patient")


def test_calendar_key_is_refused(page, keys):
    seed_clinic()
    sign_in(page, keys["calendar"])
    message = page.text_in("#key-error", "A calendar key cannot use the front desk.")
    assert message.is_displayed()
    page.shoot("11-calendar-key-refused")
    page.go("/desk/board")
    page.visible("#api_key")  # still signed out


def test_form_without_csrf_token_is_refused(page, keys):
    c = seed_clinic()
    visit = book(c["riley"], "ketamine_im", at("13:00"), NOW)
    sign_in(page, keys["front_desk"])
    page.text_in("h1", "Pasadena")
    page.go(f"/desk/appointments/{visit.id}")
    page.find("#cancel-reason").send_keys("forged")
    page.driver.execute_script(
        "document.querySelector('section[aria-labelledby=cancel-title] input[name=csrf_token]').remove()")
    page.find("section[aria-labelledby=cancel-title] button").click()
    page.text_in("h1", "That form was refused")
    assert_readable(page)
    page.shoot("12-csrf-refused")
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).status == "booked"


def test_revoked_key_ends_the_session(page, keys):
    seed_clinic()
    sign_in(page, keys["admin"])
    page.text_in("h1", "Pasadena")
    key = db.session.query(ApiKey).filter_by(role="admin").one()
    key.revoked_at = NOW
    db.session.commit()
    page.go("/desk/patients")
    page.text_in(".notices", "Your key no longer works")
    page.visible("#api_key")
    page.shoot("13-revoked")
