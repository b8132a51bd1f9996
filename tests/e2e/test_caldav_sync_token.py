"""The CalDAV sync token tells a sync whether anything changed, without fetching events."""
import pytest

from scheduler.adapters.busy_import import CalendarUnreachable, caldav_state_tag
from tests.support.network import policy_allowing
from tests.support.radicale_server import RadicaleServer

EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
         "DTSTAMP:20300101T000000Z\r\nDTSTART:20300107T170000Z\r\nDTEND:20300107T180000Z\r\n"
         "SUMMARY:dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_sync_token_changes_only_when_an_event_changes(tmp_path):
    with RadicaleServer(base_dir=tmp_path) as server:
        calendar = server.make_calendar("doc", "work")
        url, policy = str(calendar.url), policy_allowing(server.url)
        empty = caldav_state_tag(url, None, None, 5, policy=policy)
        server.put_event(calendar, EVENT.format(uid="a1"))
        after_put = caldav_state_tag(url, None, None, 5, policy=policy)
        again = caldav_state_tag(url, None, None, 5, policy=policy)
        assert empty and after_put and empty != after_put
        assert again == after_put


def test_an_unreachable_server_fails_at_once_instead_of_twice():
    with pytest.raises(CalendarUnreachable) as info:
        caldav_state_tag("http://127.0.0.1:9/dav/doc/work/", None, None, 1,
                         policy=policy_allowing("http://127.0.0.1:9"))
    assert info.value.kind == "connection"


def test_a_hanging_server_costs_one_timeout(tmp_path):
    """A server that accepts and never answers: the token check times out and says so."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/dav/doc/work/"
        with pytest.raises(CalendarUnreachable) as info:
            caldav_state_tag(url, None, None, 0.5, policy=policy_allowing(url))
        assert info.value.kind == "timeout"
    finally:
        listener.close()
