"""Reading feeds back as a fresh calendar client would."""
import vobject


def vobject_read(body: bytes):
    """vobject keeps the first VTIMEZONE it sees per TZID for the whole process (and
    icalendar writes only the years a feed needs): forget earlier ones so each feed is
    read with its own VTIMEZONE, as a fresh client would."""
    registry = vars(vobject.icalendar)["__tzidMap"]
    for tzid in [k for k in registry if k != "UTC"]:
        del registry[tzid]
    return vobject.readOne(body.decode())
