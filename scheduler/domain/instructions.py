"""Pre-session instruction rules a session type may carry (data an admin edits)."""

# rule name -> (lowest, highest) accepted value
RULES = {
    "no_solid_food_hours": (0, 24),
    "clear_liquids_until_hours": (0, 24),
    "no_food_hours": (0, 24),
    "no_liquids_minutes": (0, 24 * 60),
    "arrive_early_minutes": (0, 120),
}


def validate_instruction_rules(rules: dict) -> list[str]:
    """Problems with an instructions dict, as sentences (empty when it is fine)."""
    problems = []
    for name, value in rules.items():
        if name not in RULES:
            problems.append(f"Unknown rule {str(name)[:60]!r}; known: {', '.join(sorted(RULES))}.")
            continue
        low, high = RULES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(f"{name} must be a whole number from {low} to {high}.")
    return problems
