"""The words a text may never contain: English and Spanish, whole words, case- and
accent-insensitive; IV/IM refused in templates and names, accepted in addresses."""
import pytest
from hypothesis import given, strategies as st

from scheduler.domain.sensitive_words import (
    FORBIDDEN_WORDS, FORBIDDEN_WORDS_ES, SHORT_TOKENS, find_forbidden,
)
from scheduler.domain.templates import TemplateError, render, validate_template

VALUES = {"clinic": "Pasadena Wellness Clinic", "phone": "(626) 555-0100",
          "address": "2 Demo Avenue, Pasadena, CA 91101", "date": "Wed Jun 9",
          "time": "10:00 AM"}


@pytest.mark.parametrize("word", ["ketamina", "Esketamina", "infusión", "INFUSIÓN", "infusion",
                                  "infusiones", "depresión", "Depresion", "ansiedad",
                                  "psiquiátrica", "salud mental", "salud  mental", "TEPT",
                                  "espray nasal", "disociación", "antidepresivos",
                                  "resistente al tratamiento", "psicoterapia"])
def test_spanish_words_are_refused_with_or_without_accents(word):
    assert find_forbidden(f"Su cita: {word}.") == [word]
    assert find_forbidden(f"Su cita: {word}.", "address") == [word]


@pytest.mark.parametrize("word", ["kétamine", "ANXIETY", "treatment resistant",
                                  "treatment-resistant", "Anesthesia", "psychiatrist"])
def test_english_words_ignore_case_and_accents(word):
    assert find_forbidden(f"x {word} y") == [word]


@pytest.mark.parametrize("text", ["Deprisa, por favor", "infusionista", "Ivy St", "Ketamin0",
                                  "I'm on my way", "Calle Ansiedadista 4", "Imperial Hwy",
                                  "traumatology", "Remsen Ave"])
def test_only_whole_words_match(text):
    assert find_forbidden(text) == []


@pytest.mark.parametrize("text,found", [
    ("100 Main St, Suite IV", ["IV"]), ("Building IM, 2nd floor", ["IM"]),
    ("I.V. Lounge", ["I.V"]), ("toc toc", ["toc", "toc"]), ("IVs daily", ["IVs"]),
])
def test_short_tokens_are_refused_in_templates_and_names_only(text, found):
    assert find_forbidden(text, "template") == found
    assert find_forbidden(text, "name") == found
    assert find_forbidden(text, "address") == []


def test_acronyms_of_diagnoses_and_the_rems_are_refused_everywhere():
    for field in ("template", "name", "address"):
        assert find_forbidden("PTSD OCD TRD REMS", field) == ["PTSD", "OCD", "TRD", "REMS"]


def test_suite_iv_in_an_address_renders_and_iv_in_a_name_does_not():
    body = render("reminder", dict(VALUES, address="200 Lake Ave, Suite IV, Pasadena"))
    assert "Suite IV" in body
    with pytest.raises(TemplateError) as err:
        render("reminder", dict(VALUES, clinic="IV Lounge Pasadena"))
    assert err.value.code == "text_names_treatment"
    with pytest.raises(TemplateError) as err:
        render("reminder", dict(VALUES, address="12 Calle Ketamina"))
    assert err.value.code == "text_names_treatment"


def test_a_spanish_template_naming_the_drug_is_refused():
    validate_template("{clinic}: su cita es el {date} a las {time}.", "reminder")
    with pytest.raises(TemplateError) as err:
        validate_template("{clinic}: su infusión es el {date} a las {time}.", "reminder")
    assert err.value.code == "template_names_treatment"


def test_the_field_must_be_known():
    with pytest.raises(ValueError):
        find_forbidden("x", "body")


@given(word=st.sampled_from(FORBIDDEN_WORDS + FORBIDDEN_WORDS_ES),
       before=st.sampled_from(["", "Hola ", "(", "\n", "1 "]),
       after=st.sampled_from(["", ".", " mañana", ")", "s", "es"]),
       upper=st.booleans())
def test_every_listed_word_is_found_as_written(word, before, after, upper):
    written = word.upper() if upper else word
    assert find_forbidden(before + written + after) == [written + (after if after in
                                                                   ("s", "es") else "")]


@given(word=st.sampled_from(FORBIDDEN_WORDS + FORBIDDEN_WORDS_ES + SHORT_TOKENS),
       glue=st.sampled_from(["x", "1", "_", "ñ"]), side=st.sampled_from(["before", "after",
                                                                      "both"]))
def test_a_listed_word_inside_a_longer_word_is_not_refused(word, glue, side):
    text = (glue if side != "after" else "") + word + (glue if side != "before" else "")
    assert find_forbidden(text) == []
