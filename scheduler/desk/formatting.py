"""What templates may call: times in a location's zone, phones, the CSRF token, the caller."""
import datetime as dt
import functools
from zoneinfo import ZoneInfo

from ..services.messaging.mapping import pretty_phone

PHASE_LABELS = {"administering": "Administering", "monitoring": "Monitoring", "turnover": "Turnover",
                "session": "Session"}
# A letter on every phase, so the phases differ in more than colour.
PHASE_LETTERS = {"administering": "A", "monitoring": "M", "turnover": "T", "session": "S"}
STATUS_LABELS = {"booked": "Booked", "checked-in": "Checked in", "fulfilled": "Fulfilled",
                 "cancelled": "Cancelled", "noshow": "No-show"}


def _zone(tz) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def hm(t: dt.datetime | None, tz) -> str:
    return "" if t is None else _hm(t, str(tz))


@functools.lru_cache(maxsize=4096)
def _hm(t: dt.datetime, tz: str) -> str:
    # A board says each time several times (blocks, words, list): format it once.
    local = t.astimezone(ZoneInfo(tz))
    return f"{local.hour:02d}:{local.minute:02d}"


def when(t: dt.datetime | None, tz) -> str:
    """'Tue 1 Jan 2030, 10:00' in the location's zone."""
    if t is None:
        return ""
    local = t.astimezone(_zone(tz))
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


def local_day(t: dt.datetime, tz) -> dt.date:
    return t.astimezone(_zone(tz)).date()


def long_day(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def minutes(a: dt.datetime, b: dt.datetime) -> int:
    return int((b - a).total_seconds() // 60)


def helpers() -> dict:
    from .auth import CSRF_HEADER, caller, csrf_token

    return dict(hm=hm, when=when, local_day=local_day, long_day=long_day, short_day=short_day, minutes=minutes,
                phone=pretty_phone, csrf_token=csrf_token, caller=caller, csrf_header=CSRF_HEADER,
                phase_labels=PHASE_LABELS, phase_letters=PHASE_LETTERS, status_labels=STATUS_LABELS,
                capacity_chart=capacity_chart, describe=describe, timedelta=dt.timedelta)


def capacity_chart(board, height: int = 60) -> dict:
    """The monitoring capacity as an SVG step line over the board's axis (x in 0..1000).

    Returns the path, where zero sits, the parts below one (nobody more can be watched)
    and a label per step wide enough to carry its number.
    """
    steps = board.capacity
    if not steps:
        return {"path": "", "zero": height, "short": [], "labels": [], "top": 0}
    top = max(max(s.slack for s in steps), 1)
    bottom = min(min(s.slack for s in steps), 0)
    pad = 6

    def y(value: int) -> float:
        return round(height - pad - (value - bottom) * (height - 2 * pad) / (top - bottom), 2)

    def x(t) -> float:
        return round(board.offset(t) * 10, 2)

    parts = []
    for i, s in enumerate(steps):
        parts.append(f"{'M' if i == 0 else 'L'}{x(s.start)},{y(s.slack)} L{x(s.end)},{y(s.slack)}")
    short = [(x(s.start), x(s.end) - x(s.start)) for s in steps if s.slack < 1]
    labels = [(board.offset(s.start), board.offset(s.end) - board.offset(s.start), s.slack) for s in steps
              if board.offset(s.end) - board.offset(s.start) >= 2.5]
    return {"path": " ".join(parts), "zero": y(0), "short": short, "labels": labels, "top": top,
            "height": height}


def describe(appointment, tz) -> str:
    """The whole appointment in words: what a screen reader says for a block on the board."""
    phases = ", ".join(f"{PHASE_LABELS[p.kind].lower()} {hm(p.start, tz)} to {hm(p.end, tz)}"
                       for p in appointment.phases)
    where = appointment.room_name or "telehealth"
    text = (f"{appointment.patient_name}, {appointment.session_name}, {hm(appointment.start, tz)} to "
            f"{hm(appointment.end, tz)} with {appointment.provider_name}, {where}. {phases}. "
            f"{STATUS_LABELS.get(appointment.status, appointment.status)}.")
    marks = " ".join(m.message for m in appointment.markers)
    return f"{text} {marks}".strip()
