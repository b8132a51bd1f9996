import ast
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain import templates
from scheduler.domain.templates import (
    DEFAULT_TEMPLATES, OPT_OUT, TemplateError, find_forbidden, format_date,
    format_time, prep_text, render, validate_template,
)
from scheduler.domain.segments import count_segments, is_gsm7
from scheduler.domain.vocabulary import MESSAGE_KINDS as KINDS

IV_RULES = {"no_solid_food_hours": 6, "clear_liquids_until_hours": 2}
NASAL_RULES = {"no_food_hours": 2, "no_liquids_minutes": 30}
VALUES = {"clinic": "Pasadena Clinic", "phone": "(626) 555-0100",
          "address": "1234 E Colorado Blvd, Suite 200, Pasadena, CA 91106",
          "date": "Wed Dec 15", "time": "10:30 AM", "old_date": "Tue Dec 14",
          "old_time": "9:00 AM"}


@pytest.mark.parametrize("word", ["Spravato", "KETAMINE", "esketamine", "infusions", "IV",
                                  "ivs", "PTSD", "Depression", "anxiety", "lozenge",
                                  "mental health", "treatment-resistant"])
def test_forbidden_words_are_found_case_insensitively(word):
    assert find_forbidden(f"See you soon. {word}, ok?") == [word]


@pytest.mark.parametrize("text", ["Meet at Ivy St", "Invoice 12", "Please arrive early",
                                  "I'm here", "Ask before taking benzodiazepines or "
                                  "lamotrigine", "imaginary ivory"])
def test_forbidden_words_match_whole_words_only(text):
    assert find_forbidden(text) == []


def test_validate_refuses_a_template_naming_the_treatment():
    with pytest.raises(TemplateError) as err:
        validate_template("{clinic}: your Spravato visit {date} {time}", "reminder")
    assert err.value.code == "template_names_treatment"
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("text,code", [
    ("{clinic} {date} {time} {patient_name}", "template_unknown_placeholder"),
    ("{clinic.__class__} {date} {time}", "template_unknown_placeholder"),
    ("{clinic!r} {date} {time}", "template_malformed"),
    ("{clinic:>20} {date} {time}", "template_malformed"),
    ("{clinic {date} {time}", "template_malformed"),
    ("{clinic}: see you soon", "template_missing_placeholder"),
])
def test_validate_refuses_bad_placeholders(text, code):
    with pytest.raises(TemplateError) as err:
        validate_template(text, "reminder")
    assert err.value.code == code


def test_placeholders_are_per_kind():
    validate_template("{clinic} moved {old_date} {old_time} to {date} {time}", "moved")
    with pytest.raises(TemplateError) as err:
        validate_template("{clinic} {old_date} {date} {time}", "reminder")
    assert err.value.code == "template_unknown_placeholder"
    with pytest.raises(TemplateError) as err:
        validate_template("{clinic} {date} {time}", "instructions")
    assert err.value.code == "template_missing_placeholder"


@pytest.mark.parametrize("key", sorted(DEFAULT_TEMPLATES))
def test_default_templates_are_valid(key):
    validate_template(DEFAULT_TEMPLATES[key], key.split(".")[0])


def test_prep_text_follows_the_session_type_rules():
    iv = prep_text(IV_RULES)
    assert "No solid food for 6 hours before" in iv
    assert "clear liquids OK until 2 hours before" in iv
    nasal = prep_text(NASAL_RULES)
    assert "No food for 2 hours before, no liquids for 30 minutes before" in nasal
    for text in (iv, nasal, prep_text({})):
        assert "ride home" in text and "Do not drive until the next day" in text
        assert "benzodiazepines or lamotrigine" in text and "15 minutes early" in text
    compact = prep_text(IV_RULES, compact=True)
    assert compact.startswith("No solids 6h, clear liquids to 2h before.")


def test_prep_text_accepts_the_brief_alias_and_can_drop_the_early_arrival():
    assert prep_text({"fasting_solids_hours": 6}) == prep_text({"no_solid_food_hours": 6})
    assert "early" not in prep_text({"arrive_early_minutes": 0})
    assert "arrive 30 minutes early" in prep_text({"arrive_early_minutes": 30})


def test_prep_text_refuses_unknown_rules():
    with pytest.raises(TemplateError) as err:
        prep_text({"fasting_hours": 6})
    assert err.value.code == "instructions_unknown_rule"


def test_dates_and_times_are_locale_free():
    la = ZoneInfo("America/Los_Angeles")
    t = datetime(2026, 12, 1, 9, 0, tzinfo=la)
    assert f"{format_date(t)}, {format_time(t)}" == "Tue Dec 1, 9:00 AM"
    assert format_time(datetime(2026, 12, 1, 0, 5, tzinfo=la)) == "12:05 AM"
    assert format_time(datetime(2026, 12, 1, 12, 30, tzinfo=la)) == "12:30 PM"


def test_render_standard_uses_the_full_template():
    body = render("reminder", VALUES)
    assert body.startswith("Pasadena Clinic: reminder of your visit Wed Dec 15 at 10:30 AM.")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rules", [IV_RULES, NASAL_RULES, {}])
def test_render_exemption_fits_one_gsm7_segment_with_name_phone_and_stop(kind, rules):
    body = render(kind, VALUES, prep_rules=rules, exemption=True)
    assert len(body) <= 160 and is_gsm7(body) and count_segments(body) == 1
    assert VALUES["clinic"] in body and VALUES["phone"] in body and OPT_OUT in body


def test_exemption_adds_missing_name_phone_and_opt_out_to_an_override():
    body = render("reminder", VALUES, exemption=True,
                  overrides={"reminder": "See you {date} at {time}"})
    assert body == ("Pasadena Clinic: See you Wed Dec 15 at 10:30 AM. Call (626) 555-0100. "
                    + OPT_OUT)


def test_text_that_cannot_fit_is_refused_with_a_code():
    values = dict(VALUES, clinic="The Very Long Named Wellness Collective of Greater Pasadena")
    with pytest.raises(TemplateError) as err:
        render("instructions", values, prep_rules=IV_RULES, exemption=True)
    assert err.value.code == "text_too_long"
    with pytest.raises(TemplateError) as err:
        render("reminder", VALUES, max_chars=50)
    assert err.value.code == "text_too_long"


def test_exemption_refuses_non_gsm7_and_typography_is_normalised():
    with pytest.raises(TemplateError) as err:
        render("reminder", dict(VALUES, clinic="Clínica Āla"), exemption=True)
    assert err.value.code == "text_not_gsm7"
    body = render("reminder", VALUES, exemption=True,
                  overrides={"reminder": "{clinic} \u2013 we\u2019ll see you {date} {time}"})
    assert "- we'll see you" in body and is_gsm7(body)


def test_clinic_data_naming_the_treatment_is_refused():
    with pytest.raises(TemplateError) as err:
        render("reminder", dict(VALUES, clinic="Ketamine Wellness"))
    assert err.value.code == "text_names_treatment"


def test_domain_modules_import_only_the_standard_library():
    banned = {"flask", "sqlalchemy", "twilio", "apscheduler", "marshmallow"}
    folder = Path(templates.__file__).parent
    for name in ("templates.py", "quiet_hours.py", "reminders.py"):
        tree = ast.parse((folder / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & banned, (name, roots)
