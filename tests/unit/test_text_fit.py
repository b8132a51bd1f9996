"""The short (`exemption`) form of every text fits one GSM-7 segment with the safety lines,
for the seeded clinics and every default session type; a name, address or template that
would not fit is reported, so the services can refuse it (422)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from scheduler.domain.segments import count_segments
from scheduler.domain.templates import (
    OPT_OUT, format_date, format_time, prep_text, render,
)
from scheduler.domain.text_fit import WORST_DATE, WORST_TIME, exemption_fit_problems
from scheduler.services.clinic.session_types import DEFAULT_SESSION_TYPES
from scheduler.services.clinic.demo import LOCATIONS
from scheduler.services.messaging.mapping import pretty_phone
from tests.support.planning import ZONES

DOSING = {t["code"]: t["instructions"] for t in DEFAULT_SESSION_TYPES
          if t["category"] == "dosing"}
SEEDED = [(loc["sms_display_name"], pretty_phone(loc["phone"]), loc["address"])
          for loc in LOCATIONS]


@pytest.mark.parametrize("name,phone,address", SEEDED, ids=[s[0] for s in SEEDED])
def test_every_seeded_clinic_fits_every_kind_and_dosing_type(name, phone, address):
    assert exemption_fit_problems(name, phone, address, dosing_rules=DOSING) == []


@pytest.mark.parametrize("name,phone,address", SEEDED, ids=[s[0] for s in SEEDED])
@pytest.mark.parametrize("code", sorted(DOSING))
def test_short_instructions_carry_the_fast_the_ride_home_and_the_ride_reply(name, phone,
                                                                             address, code):
    values = {"clinic": name, "phone": phone, "address": address, "date": WORST_DATE,
              "time": WORST_TIME}
    body = render("instructions", values, prep_rules=DOSING[code], exemption=True)
    assert body.startswith(f"{name} {WORST_DATE} {WORST_TIME}: ")
    assert len(body) <= 160 and count_segments(body) == 1
    assert prep_text(DOSING[code], compact=True) in body
    assert "before." in body and "ride home" in body and "reply RIDE" in body
    assert phone in body and body.endswith(OPT_OUT)


def test_the_full_instructions_ask_for_a_ride_reply_and_keep_every_rule():
    text = prep_text(DOSING["ketamine_iv"])
    assert "reply RIDE once someone can drive you home" in text
    assert "Do not drive until the next day" in text and "lamotrigine" in text


def test_a_long_name_is_reported_for_the_texts_it_would_break():
    problems = exemption_fit_problems("The Pasadena Center for Integrative Wellness",
                                      "(626) 555-0100", "2 Demo Avenue, Pasadena, CA 91101",
                                      dosing_rules=DOSING)
    assert {(p.kind, p.code) for p in problems} >= {("instructions", "text_too_long")}
    assert {p.session_type for p in problems if p.kind == "instructions"} == set(DOSING)


def test_a_long_address_breaks_the_texts_that_carry_it_in_person_only():
    address = "1234 East Colorado Boulevard, Building C, Suite 1200, Pasadena, CA 91106"
    problems = exemption_fit_problems("Pasadena Wellness Clinic", "(626) 555-0100", address,
                                      dosing_rules=DOSING)
    assert problems and {p.kind for p in problems} <= {"confirmation", "reminder", "moved"}
    assert not any(p.telehealth for p in problems) and {p.code for p in problems} == \
        {"text_too_long"}


def test_a_template_override_is_checked_against_the_clinic():
    name, phone, address = SEEDED[1]
    long_short = "{clinic}: a friendly reminder that your next visit is on {date} at " \
                 "{time} at {address}. Call {phone} with questions. Reply STOP to opt out"
    problems = exemption_fit_problems(name, phone, address, dosing_rules=DOSING,
                                      overrides={"reminder": long_short,
                                                 "reminder.short": long_short})
    assert {(p.kind, p.code) for p in problems} == {("reminder", "text_too_long")}
    naming = exemption_fit_problems(name, phone, address, overrides={
        "cancelled": "{clinic}: su sesión de ketamina del {date} {time} fue cancelada."})
    assert {(p.kind, p.code) for p in naming} == {("cancelled", "template_names_treatment")}


def test_names_and_addresses_are_checked_for_words_too():
    codes = {p.code for p in exemption_fit_problems("Clínica Ketamina", "(626) 555-0100",
                                                    "1 Main St")}
    assert codes == {"text_names_treatment"}
    assert exemption_fit_problems("Pasadena Wellness Clinic", "(626) 555-0100",
                                  "200 Lake Ave, Suite IV, Pasadena, CA", dosing_rules=DOSING) == []


@given(instant=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                            timezones=st.just(timezone.utc)),
       zone=st.sampled_from(ZONES + ["Asia/Kolkata", "Australia/Lord_Howe"]))
def test_the_worst_case_date_and_time_are_the_longest_there_are(instant, zone):
    assert len(format_date(instant, ZoneInfo(zone))) <= len(WORST_DATE)
    assert len(format_time(instant, ZoneInfo(zone))) <= len(WORST_TIME)


def test_dates_and_times_are_written_in_the_given_zone():
    t = datetime(2027, 1, 12, 17, 0, tzinfo=timezone.utc)
    assert (format_date(t, ZoneInfo("Pacific/Honolulu")), format_time(t, ZoneInfo("Pacific/Honolulu"))) \
        == ("Tue Jan 12", "7:00 AM")
    assert format_time(t - timedelta(hours=17), ZoneInfo("Europe/Madrid")) == "1:00 AM"
    assert format_time(t) == "5:00 PM"  # no zone: the instant's own offset
