"""Will every text a clinic sends fit the `exemption` profile (one GSM-7 segment, 160
characters, with the clinic's name, phone and opt-out words, and the safety lines)?

Public API
- exemption_fit_problems(display_name, phone, address, *, dosing_rules=None,
                         overrides=None) -> list[FitProblem]
  Renders every kind at the longest date and time any text can carry, each dosing
  type's instructions (dosing_rules: {session type code: instruction rules}), in person
  and online. Empty when everything fits. The services call it before saving a clinic's
  display name or address (with that clinic's values), a template (overrides: the
  {kind | kind.short: text} that would apply, for each clinic concerned) or a session
  type's instruction rules (dosing_rules with the new rules), and answer 422 otherwise.
  A problem's code is the render error: text_too_long, text_not_gsm7,
  text_names_treatment, template_*, instructions_unknown_rule.

Lengths do not depend on the zone: format_date is at most 10 characters ("Wed Sep 30")
and format_time at most 8 ("12:30 PM"), in any zone, all GSM-7.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .templates import KINDS, TemplateError, render

WORST_DATE = "Wed Sep 30"
WORST_TIME = "12:30 PM"
EXEMPTION_CHARS = 160


@dataclass(frozen=True)
class FitProblem:
    kind: str
    session_type: str | None    # the dosing type whose instructions do not fit
    telehealth: bool
    code: str
    message: str


def exemption_fit_problems(display_name: str, phone: str, address: str, *,
                           dosing_rules: Mapping[str, Mapping] | None = None,
                           overrides: Mapping[str, str] | None = None) -> list[FitProblem]:
    values = {"clinic": display_name, "phone": phone, "date": WORST_DATE, "time": WORST_TIME,
              "old_date": WORST_DATE, "old_time": WORST_TIME}
    problems = []
    for kind in KINDS:
        types = (dosing_rules or {"": {}}).items() if kind == "instructions" else [(None, {})]
        for code, rules in types:
            # Dosing is never online; other visits are either.
            for telehealth in ((False,) if kind == "instructions" else (False, True)):
                try:
                    render(kind, dict(values, address="online" if telehealth else address),
                           prep_rules=rules, overrides=overrides, max_chars=EXEMPTION_CHARS,
                           exemption=True)
                except TemplateError as exc:
                    problems.append(FitProblem(kind, code or None, telehealth, exc.code,
                                               str(exc)))
    return problems
