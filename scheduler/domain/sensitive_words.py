"""Words a text may never contain: the treatment, a drug used for it, a diagnosis (HIPAA:
others read a phone's lock screen), in English and in Spanish.

Public API
- find_forbidden(text, field="template") -> list[str]: the sensitive words in text, as
  written, in order of appearance.
- FORBIDDEN_WORDS, FORBIDDEN_WORDS_ES, SHORT_TOKENS: the lists (data, documented below).

Matching: whole words only (a word character on either side means no match: "Ivy St",
"imaginary" and "Invoice" pass), case-insensitive and accent-insensitive ("INFUSIÓN",
"infusion" and "Infusión" are the same word; accents are stripped before matching, and
the word is returned as written), with an optional plural "s"/"es" ("infusiones",
"IVs"). Words of a phrase may be separated by any spaces or a hyphen
("treatment resistant", "treatment-resistant", "salud  mental").

Short tokens (SHORT_TOKENS: IV, IM, I.V, I.M, TOC) are also Roman numerals, initials,
suite and building names ("Suite IV", "Building IM", "I.M. Pei Plaza") or ordinary
words (Spanish "toc"). They are refused where an admin writes words about the visit:
in a template (field="template") and in the clinic's display name (field="name": a
name like "IV Lounge" reveals the treatment). They are accepted in an address
(field="address"), whose Roman numerals are common and reveal nothing. Unambiguous
acronyms (PTSD, OCD, TRD, REMS, TEPT) are refused everywhere.

Medicines the patient must ask about (benzodiazepines, lamotrigine) are not listed:
they do not reveal the treatment, and the instructions must name them.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

FIELDS = ("template", "name", "address")

FORBIDDEN_WORDS = (
    "ketamine", "esketamine", "arketamine", "spravato", "ketalar", "ketanest",
    "infusion", "intravenous", "intramuscular", "sublingual", "lozenge", "troche",
    "nasal spray", "psychedelic", "dissociative", "dissociation", "anesthetic",
    "anaesthetic", "anesthesia", "anaesthesia", "REMS", "depression", "depressive",
    "depressed", "antidepressant", "treatment resistant", "TRD", "PTSD", "anxiety",
    "trauma", "bipolar", "suicidal", "suicide", "OCD", "psychiatric", "psychiatry",
    "psychiatrist", "psychotherapy", "mental health",
)
# Spanish, written with accents (matching ignores them); both genders where they differ.
FORBIDDEN_WORDS_ES = (
    "ketamina", "esketamina", "arketamina", "infusión", "intravenosa", "intravenoso",
    "espray nasal", "spray nasal", "aerosol nasal", "psicodélico", "psicodélica",
    "disociativo", "disociativa", "disociación", "anestésico", "anestésica", "anestesia",
    "depresión", "depresivo", "depresiva", "deprimido", "deprimida", "antidepresivo",
    "resistente al tratamiento", "ansiedad", "suicida", "suicidio", "psiquiátrico",
    "psiquiátrica", "psiquiatría", "psiquiatra", "psicoterapia", "salud mental", "TEPT",
)
SHORT_TOKENS = ("IV", "I.V", "IM", "I.M", "TOC")


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _pattern(words) -> re.Pattern:
    alternatives = []
    for word in sorted(words, key=len, reverse=True):  # longest first: "esketamine" wins
        parts = re.split(r"[\s-]+", _strip_accents(word))
        alternatives.append(r"[\s-]+".join(re.escape(p) for p in parts))
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?:e?s)?(?!\w)", re.IGNORECASE)


_WORDS = _pattern(FORBIDDEN_WORDS + FORBIDDEN_WORDS_ES)
_WORDS_AND_TOKENS = _pattern(FORBIDDEN_WORDS + FORBIDDEN_WORDS_ES + SHORT_TOKENS)
# The first word of every entry: a text with none of them (nor their plurals) cannot
# match, and most texts have none; the big pattern only runs on the others.
_FIRST_WORDS = frozenset(re.findall(r"\w+", _strip_accents(w).lower())[0]
                         for w in FORBIDDEN_WORDS + FORBIDDEN_WORDS_ES + SHORT_TOKENS)


def _may_match(folded: str) -> bool:
    return any(w in _FIRST_WORDS or w[:-1] in _FIRST_WORDS or w[:-2] in _FIRST_WORDS
               for w in re.findall(r"\w+", folded.lower()))


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    return "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))


def _folded(text: str) -> tuple[str, list[int] | None]:
    """text without accents, and for each of its characters the index it came from (None
    when that is the identity: plain ASCII, the usual case)."""
    if text.isascii():
        return text, None
    chars, origin = [], []
    for i, c in enumerate(text):
        folded = _fold_char(c)
        chars.append(folded)
        origin.extend([i] * len(folded))
    return "".join(chars), origin


def find_forbidden(text: str, field: str = "template") -> list[str]:
    """The sensitive words in text, as written, in order of appearance. field: "template"
    and "name" refuse the short tokens too, "address" does not (see the module doc)."""
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {field!r}")
    pattern = _WORDS if field == "address" else _WORDS_AND_TOKENS
    text = text or ""
    folded, origin = _folded(text)
    if not _may_match(folded):
        return []
    if origin is None:
        return [m.group(0) for m in pattern.finditer(folded)]
    return [text[origin[m.start()]:origin[m.end() - 1] + 1] for m in pattern.finditer(folded)]
