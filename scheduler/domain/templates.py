"""SMS wording: default templates as data, rendering, the sensitive-word check.

Public API
- TemplateError(code): template_names_treatment, template_unknown_placeholder,
  template_missing_placeholder, template_malformed, instructions_unknown_rule,
  text_names_treatment, text_too_long, text_not_gsm7.
- DEFAULT_TEMPLATES: {kind: str, f"{kind}.short": str}. A caller overrides any key with
  its own dict (it resolves which overrides apply to a session type and location).
- find_forbidden(text) -> list[str];  validate_template(text, kind=None) -> None
- prep_text(rules, compact=False) -> str: pre-session instructions from a session type's rules
- format_date(local_dt) -> "Tue Dec 1";  format_time(local_dt) -> "9:00 AM"
- render(kind, values, *, prep_rules, overrides, max_chars, exemption) -> str

Texts never contain a patient's name: a phone's lock screen is read by others, and the
clinic's name with a date already tells the patient what the text is about.
"""
from __future__ import annotations

import re
from datetime import datetime
from string import Formatter
from typing import Mapping

from .errors import DomainError
from .instructions import RULES as INSTRUCTION_RULES
from .segments import count_segments, is_gsm7

OPT_OUT = "Reply STOP to opt out"


class TemplateError(DomainError, ValueError):
    code = "template_error"


# Words that reveal the treatment, a drug used for it or a diagnosis (HIPAA: others read
# screens). Matched case-insensitively as whole words, with an optional plural "s".
# Medicines the patient must ask about (benzodiazepines, lamotrigine) are not here: they
# do not reveal the treatment, and the instructions must name them.
FORBIDDEN_WORDS = (
    "ketamine", "esketamine", "arketamine", "spravato", "ketalar", "ketanest",
    "infusion", "IV", "intravenous", "IM", "intramuscular", "sublingual", "lozenge",
    "troche", "nasal spray", "psychedelic", "dissociative", "dissociation", "anesthetic",
    "anaesthetic", "REMS", "depression", "depressive", "antidepressant",
    "treatment-resistant", "TRD", "PTSD", "anxiety", "trauma", "bipolar", "suicidal",
    "suicide", "OCD", "psychiatric", "psychiatry", "mental health", "depressed",
)
_FORBIDDEN_RE = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(w) for w in FORBIDDEN_WORDS) + r")(?:e?s)?(?!\w)",
    re.IGNORECASE,
)

# Placeholders each kind may use; {date} and {time} are required everywhere so that any
# text can stand in for a merged one (see reminders.py) and the patient knows which visit.
_COMMON = {"clinic", "date", "time", "address", "phone"}
PLACEHOLDERS = {
    "confirmation": _COMMON,
    "instructions": _COMMON | {"instructions"},
    "reminder": _COMMON,
    "moved": _COMMON | {"old_date", "old_time"},
    "cancelled": _COMMON,
}
_REQUIRED = {"date", "time"}

DEFAULT_TEMPLATES = {
    "confirmation": "{clinic}: you are booked for {date} at {time}. Where: {address}. "
                    "Reply C to confirm. Questions or changes: {phone}. " + OPT_OUT + ".",
    "instructions": "{clinic}: for your visit {date} at {time} ({address}): {instructions} "
                    "Questions: {phone}.",
    "reminder": "{clinic}: reminder of your visit {date} at {time}. Where: {address}. "
                "Questions or changes: {phone}.",
    "moved": "{clinic}: your visit on {old_date} at {old_time} has moved to {date} at "
             "{time}. Where: {address}. Questions: {phone}.",
    "cancelled": "{clinic}: your visit on {date} at {time} is cancelled. "
                 "To rebook, call {phone}.",
    # Short variants: tried when the full one does not fit (the exemption's 160 chars).
    "confirmation.short": "{clinic}: booked {date} {time}, {address}. Reply C to confirm. "
                          "{phone}. " + OPT_OUT,
    "instructions.short": "{clinic} {date} {time}: {instructions} {phone}. " + OPT_OUT,
    "reminder.short": "{clinic}: reminder {date} {time}, {address}. {phone}. " + OPT_OUT,
    "moved.short": "{clinic}: visit moved to {date} {time}, {address}. {phone}. " + OPT_OUT,
    "cancelled.short": "{clinic}: your {date} {time} visit is cancelled. {phone}. " + OPT_OUT,
}


def find_forbidden(text: str) -> list[str]:
    """The sensitive words in text, as written, in order of appearance."""
    return [m.group(0) for m in _FORBIDDEN_RE.finditer(text)]


def _fields(text: str) -> set[str]:
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"template is malformed: {exc}", "template_malformed") from exc
    fields = set()
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        # Only bare names: "{clinic.__class__}" or "{x!r}" in admin-edited text would
        # let a template reach into Python objects.
        if spec or conversion:
            raise TemplateError(f"placeholder {{{name}}} may not have a format spec",
                                "template_malformed")
        fields.add(name)
    return fields


def validate_template(text: str, kind: str | None = None) -> None:
    """Refuse a template that names the treatment, uses an unknown placeholder, or (when
    kind is given) lacks {date}/{time}, or {instructions} for an instructions text."""
    found = find_forbidden(text)
    if found:
        raise TemplateError(f"template names the treatment or a diagnosis: {', '.join(found)}",
                            "template_names_treatment")
    if kind is not None and kind not in PLACEHOLDERS:
        raise TemplateError(f"unknown message kind {kind!r}", "template_unknown_kind")
    allowed = PLACEHOLDERS[kind] if kind else set().union(*PLACEHOLDERS.values())
    fields = _fields(text)
    unknown = sorted(fields - allowed)
    if unknown:
        raise TemplateError(f"unknown placeholder(s): {', '.join(unknown)}",
                            "template_unknown_placeholder")
    required = _REQUIRED | ({"instructions"} if kind == "instructions" else set())
    missing = sorted(required - fields) if kind else []
    if missing:
        raise TemplateError(f"template lacks placeholder(s): {', '.join(missing)}",
                            "template_missing_placeholder")


# Rule names are those an admin may store on a session type (domain/instructions.py);
# "fasting_solids_hours" is accepted as another name for "no_solid_food_hours".
_KNOWN_RULES = set(INSTRUCTION_RULES) | {"fasting_solids_hours"}
_ASK_BEFORE = "benzodiazepines or lamotrigine"


def _sentence(parts: list[str]) -> str:
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def prep_text(rules: Mapping[str, object] | None, compact: bool = False) -> str:
    """Instructions from a session type's food and drink rules, plus what every dosing
    visit needs (ride home, no driving until the next day, medicines to ask about, arrive
    early). The compact form keeps the fast, ride and driving rules and drops the rest."""
    rules = dict(rules or {})
    unknown = sorted(set(rules) - _KNOWN_RULES)
    if unknown:
        raise TemplateError(f"unknown instruction rule(s): {', '.join(unknown)}",
                            "instructions_unknown_rule")
    # Compact: one "before" for the whole list, and "that day" for "until the next day".
    h, m, b = ("h", "min", "") if compact else (" hours", " minutes", " before")
    food = []
    solids = rules.get("no_solid_food_hours") or rules.get("fasting_solids_hours")
    if solids:
        food.append(f"no solids {solids}{h}" if compact else f"no solid food for {solids}{h}{b}")
    if rules.get("clear_liquids_until_hours"):
        n = rules["clear_liquids_until_hours"]
        food.append(f"clear liquids to {n}{h}" if compact
                    else f"clear liquids OK until {n}{h}{b}")
    if rules.get("no_food_hours"):
        food.append(f"no food {'' if compact else 'for '}{rules['no_food_hours']}{h}{b}")
    if rules.get("no_liquids_minutes"):
        food.append(f"no liquids {'' if compact else 'for '}{rules['no_liquids_minutes']}{m}{b}")
    parts = [_sentence(food) + (" before." if compact else ".")] if food else []
    if compact:
        parts.append("Need a ride home; no driving that day.")
    else:
        parts += ["You need a ride home.", "Do not drive until the next day.",
                  f"Ask us before taking {_ASK_BEFORE} that day."]
        early = rules.get("arrive_early_minutes", 15)
        if early:
            parts.append(f"Please arrive {early} minutes early.")
    return " ".join(parts)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(local: datetime) -> str:
    # Built by hand: strftime depends on the process locale and on "%-d" support.
    return f"{_DAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day}"


def format_time(local: datetime) -> str:
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


# Typographic characters an admin pastes from a word processor would force UCS-2
# (70 chars a segment) for nothing; they have plain GSM equivalents.
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " "})


def _with_required(body: str, clinic: str, phone: str) -> str:
    """The exemption wants the clinic's name, phone and opt-out words in every text: add
    whichever an (overridden) template left out rather than trusting every admin edit."""
    if clinic not in body:
        body = f"{clinic}: {body}"
    if phone not in body:
        body = f"{body.rstrip()}{'' if body.rstrip()[-1:] in '.!?' else '.'} Call {phone}."
    if OPT_OUT.lower() not in body.lower():
        body = f"{body.rstrip()}{'' if body.rstrip()[-1:] in '.!?' else '.'} {OPT_OUT}"
    return body


def render(kind: str, values: Mapping[str, str], *, prep_rules: Mapping | None = None,
           overrides: Mapping[str, str] | None = None, max_chars: int | None = None,
           exemption: bool = False) -> str:
    """The body of a `kind` text: the full template, else its short variant, whichever
    fits first. values: clinic, phone, address, date, time (old_date/old_time for moved).
    exemption: GSM-7 only, one segment (160), clinic name/phone/opt-out words required."""
    overrides = overrides or {}
    limit = min(max_chars or 160, 160) if exemption else max_chars
    failure = None
    for key in (kind, f"{kind}.short"):
        template = overrides.get(key) or DEFAULT_TEMPLATES[key]
        validate_template(template, kind)
        fill = dict(values)
        if kind == "instructions":
            fill["instructions"] = prep_text(prep_rules, compact=key.endswith(".short"))
        body = template.format_map(fill).translate(_PLAIN)
        if exemption:
            body = _with_required(body, values["clinic"], values["phone"])
        found = find_forbidden(body)
        if found:
            # The words came from clinic data (name, address) or rules, not the template.
            raise TemplateError(f"text would name the treatment: {', '.join(found)}",
                                "text_names_treatment")
        if exemption and not is_gsm7(body):
            failure = failure or "text_not_gsm7"
        elif (limit is not None and len(body) > limit) or (exemption and count_segments(body) > 1):
            failure = "text_too_long"
        else:
            return body
    raise TemplateError(f"{kind} text does not fit the profile ({failure})", failure)
