"""The rules an admin's edit of a session type must keep (PRODUCT.md: defaults, not law,
except what the FDA's REMS and the nature of dosing require)."""
from __future__ import annotations

from typing import Mapping

from .errors import Invalid
from .instructions import validate_instruction_rules

# FDA REMS (Spravato): at least two hours of monitoring after dosing.
REMS_MINIMUM_MONITORING_MINUTES = 120


def check_edit(category: str, rems: bool, monitoring_minutes: int, room_kind: str,
               values: Mapping[str, object]) -> None:
    """Refuse an edit (``values``) of a session type of ``category`` whose current REMS flag,
    monitoring minutes and room kind are given, when the result would break a rule."""
    rems = values.get("rems", rems)
    monitoring = values.get("monitoring_minutes", monitoring_minutes)
    if rems and monitoring < REMS_MINIMUM_MONITORING_MINUTES:
        raise Invalid("A REMS session type monitors for at least 120 minutes (FDA REMS).",
                      code="rems_minimum",
                      errors={"monitoring_minutes": ["At least 120 for a REMS session type."]})
    if category == "dosing" and values.get("room_kind", room_kind) != "treatment":
        raise Invalid("Dosing happens in a treatment room.", errors={"room_kind": ["Must be treatment."]})
    if category == "dosing" and values.get("telehealth_allowed"):
        raise Invalid("Dosing is never by telehealth.",
                      errors={"telehealth_allowed": ["Dosing needs a monitored chair."]})
    if "instructions" in values:
        problems = validate_instruction_rules(values["instructions"])
        if problems:
            raise Invalid("Unknown or invalid instruction rules.", errors={"instructions": problems})
