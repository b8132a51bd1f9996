"""Reading the front desk's patient search box: names, phones in any common format, dates."""
import datetime as dt

import pytest
from hypothesis import given, strategies as st

from scheduler.domain.errors import Invalid
from scheduler.services.clinic.patient_search import PatientQuery, parse_query


@pytest.mark.parametrize("typed", ["(805) 555-0111", "805-555-0111", "805.555.0111", "805 555 0111",
                                   "8055550111", "+1 805 555 0111", "1-805-555-0111", "+18055550111",
                                   "  (805)555-0111 "])
def test_a_whole_phone_number_in_any_common_format_is_read_as_e164(typed):
    assert parse_query(typed) == PatientQuery(phone="+18055550111")


@pytest.mark.parametrize("typed, digits", [("0111", "0111"), ("555-0111", "5550111"), ("(805) 555", "805555")])
def test_part_of_a_number_matches_those_digits(typed, digits):
    assert parse_query(typed) == PatientQuery(phone_digits=digits)


@pytest.mark.parametrize("typed", ["1980-04-02", "1980/04/02", "04/02/1980", "4/2/1980", "04-02-1980", "04.02.1980"])
def test_a_date_of_birth_in_iso_or_us_order(typed):
    assert parse_query(typed) == PatientQuery(date_of_birth=dt.date(1980, 4, 2))


def test_words_of_a_name_in_any_order_and_case():
    assert parse_query("  ELLIS   jordan ") == PatientQuery(words=("ellis", "jordan"))
    assert parse_query("Ellis 1980-04-02") == PatientQuery(words=("ellis",), date_of_birth=dt.date(1980, 4, 2))
    assert parse_query("O'Brien-Smith") == PatientQuery(words=("o'brien-smith",))
    assert parse_query("123") == PatientQuery(words=("123",))  # too short to be a phone


@pytest.mark.parametrize("typed, problem", [("", "Type part of a name"), ("   ", "Type part of a name"),
                                            ("02/30/1980", "02/30/1980 is not a date"),
                                            ("x" * 101, "at most 100 characters")])
def test_what_cannot_be_read_is_a_readable_refusal(typed, problem):
    with pytest.raises(Invalid) as refused:
        parse_query(typed)
    assert problem in refused.value.message and "q" in refused.value.errors


def test_it_says_what_it_understood():
    assert parse_query("Ellis 04/02/1980").describe() == "name containing “ellis”, born 1980-04-02"
    assert parse_query("(805) 555-0111").describe() == "phone +18055550111"


FORMATS = ("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a} {e} {l}", "{a}{e}{l}", "+1 {a} {e} {l}",
           "1-{a}-{e}-{l}", "+1{a}{e}{l}", "1 ({a}) {e}-{l}")


@given(area=st.integers(201, 989), exchange=st.integers(200, 999), line=st.integers(0, 9999),
       shape=st.sampled_from(FORMATS))
def test_every_format_of_a_us_number_reads_as_the_same_e164(area, exchange, line, shape):
    typed = shape.format(a=area, e=exchange, l=f"{line:04d}")
    assert parse_query(typed).phone == f"+1{area}{exchange}{line:04d}"  # oracle: the digits themselves
