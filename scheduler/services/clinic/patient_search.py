"""Find patients the way the front desk asks: part of a name, a phone number in any common
format, or a date of birth (alone or with a name: "Ellis 1980-04-02").

One reading of the search box for the desk and for ``GET /patients?q=``: ``parse_query``
says what was understood, ``patient_filters`` turns it into conditions on ``Patient`` (for
a paginated API list), ``find_patients`` runs it for the desk.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import func, select

from ...domain.errors import Invalid
from ...extensions import db
from ...models import Patient

MAX_QUERY = 100
MIN_PARTIAL_DIGITS = 4  # "0111": the last digits of a number, read out on the phone
PHONE_CHARACTERS = re.compile(r"^\+?[\d\s().\-]+$")
ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
US_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")  # month first, as US clinics write it


@dataclass(frozen=True)
class PatientQuery:
    words: tuple[str, ...] = ()  # every word must appear in the name (any case, any order)
    phone: str | None = None  # a whole number, E.164
    phone_digits: str | None = None  # part of a number: these digits in a row
    date_of_birth: dt.date | None = None

    def describe(self) -> str:
        """What was understood, for the person who typed it."""
        parts = []
        if self.words:
            parts.append("name containing " + " and ".join(f"“{w}”" for w in self.words))
        if self.phone:
            parts.append(f"phone {self.phone}")
        if self.phone_digits:
            parts.append(f"phone containing {self.phone_digits}")
        if self.date_of_birth:
            parts.append(f"born {self.date_of_birth.isoformat()}")
        return ", ".join(parts)


def parse_query(q: str | None, region: str = "US") -> PatientQuery:
    text = " ".join((q or "").split())
    if not text:
        raise Invalid("Type part of a name, a phone number or a date of birth.",
                      errors={"q": ["Type part of a name, a phone number or a date of birth."]})
    if len(text) > MAX_QUERY:
        raise Invalid(f"A search is at most {MAX_QUERY} characters.", errors={"q": ["Too long."]})
    whole_date = _date(text)
    if whole_date is not None:
        return PatientQuery(date_of_birth=whole_date)
    if PHONE_CHARACTERS.match(text):
        phone = _phone(text, region)
        if phone is not None:
            return phone
    words, born = [], None
    for token in text.split(" "):
        day = _date(token)
        if day is not None and born is None:
            born = day
        else:
            words.append(token.lower())
    return PatientQuery(words=tuple(words), date_of_birth=born)


def patient_filters(query: PatientQuery) -> list:
    """Conditions on Patient that all must hold."""
    conditions = [func.lower(Patient.name).contains(word, autoescape=True) for word in query.words]
    if query.phone:
        conditions.append(Patient.phone == query.phone)
    if query.phone_digits:
        conditions.append(Patient.phone.contains(query.phone_digits, autoescape=True))
    if query.date_of_birth:
        conditions.append(Patient.date_of_birth == query.date_of_birth)
    return conditions


def find_patients(q: str | None, limit: int = 50) -> tuple[PatientQuery, list[Patient], bool]:
    """(what was understood, the first ``limit`` matches by name, whether there are more)."""
    query = parse_query(q)
    rows = list(db.session.scalars(select(Patient).where(*patient_filters(query))
                                   .order_by(func.lower(Patient.name), Patient.id).limit(limit + 1)))
    return query, rows[:limit], len(rows) > limit


def _phone(text: str, region: str) -> PatientQuery | None:
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_PARTIAL_DIGITS:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    # A whole number only: seven digits are "possible" locally but name no area code.
    if number is not None and phonenumbers.is_possible_number_with_reason(number) \
            == phonenumbers.ValidationResult.IS_POSSIBLE:
        return PatientQuery(phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return PatientQuery(phone_digits=digits)


def _date(token: str) -> dt.date | None:
    """A date of birth written as 1980-04-02, 1980/04/02 or 04/02/1980 (month first)."""
    iso, us = ISO_DATE.match(token), US_DATE.match(token)
    if not (iso or us):
        return None
    year, month, day = (int(iso[1]), int(iso[2]), int(iso[3])) if iso else (int(us[3]), int(us[1]), int(us[2]))
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise Invalid(f"{token} is not a date.", errors={"q": [f"{token} is not a date."]}) from None
