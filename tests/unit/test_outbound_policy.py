"""The outbound policy's static half (adapters/outbound.py): which URLs may be fetched,
decided before any lookup or connection. Hostile URLs in every encoding the resolver
accepts; decoding checked against the platform's own inet_aton; the verdict on addresses
against an independent list of the special-purpose ranges."""
import ipaddress
import socket

import pytest
from hypothesis import given, strategies as st

from scheduler.adapters.outbound import OutboundPolicy, OutboundRefused, Target, check_url, resolve
from tests.support.hostile_urls import HOSTILE
from tests.support.network import policy_allowing

STRICT = OutboundPolicy()
@pytest.mark.parametrize("url, words", HOSTILE, ids=[u for u, _ in HOSTILE])
def test_hostile_urls_are_refused_before_any_lookup(url, words, no_network):
    with pytest.raises(OutboundRefused) as refused:
        check_url(url, STRICT)
    assert words in refused.value.reason
    assert no_network == []


@pytest.mark.parametrize("url", ["https://calendar.google.com/calendar/ical/x/basic.ics",
                                 "http://8.8.8.8/feed.ics", "https://[2606:4700:4700::1111]/",
                                 "https://caldav.fastmail.com:443/dav/", "http://[::ffff:8.8.8.8]/"])
def test_public_urls_pass_the_static_check(url):
    target = check_url(url, STRICT)
    assert target.exempt is False and target.scheme in ("http", "https")


def test_allowed_hosts_match_the_url_as_written_and_nothing_else():
    policy = policy_allowing("http://127.0.0.1:5232")
    assert check_url("http://127.0.0.1:5232/dav/", policy).exempt
    for other in ("http://127.0.0.1:6379/", "http://localhost:5232/", "http://2130706433:5232/",
                  "http://127.1:5232/", "http://[::ffff:127.0.0.1]:5232/", "http://127.0.0.2:5232/"):
        with pytest.raises(OutboundRefused):
            check_url(other, policy)


def test_an_allowed_host_without_port_covers_every_port_and_names_are_case_blind():
    policy = OutboundPolicy({("caldav.internal", None), ("10.1.2.3", 8443)})
    assert check_url("https://CalDAV.Internal:9999/x", policy).exempt
    assert check_url("https://10.1.2.3:8443/", policy).exempt
    with pytest.raises(OutboundRefused):
        check_url("https://10.1.2.3/", policy)  # 443 is not 8443


# -- decoding, against the platform's reading ------------------------------------------------
def _write(value: int, base: str) -> str:
    return {"dec": str(value), "hex": hex(value), "oct": "0" + oct(value)[2:] if value else "0"}[base]


@given(st.data())
def test_numeric_hosts_decode_exactly_as_inet_aton_reads_them(data):
    """Whatever the resolver would take as an address is vetted as that very address."""
    count = data.draw(st.integers(1, 4))
    parts = [data.draw(st.integers(0, 255)) for _ in range(count - 1)]
    parts.append(data.draw(st.integers(0, 256 ** (5 - count) + 5)))
    host = ".".join(_write(p, data.draw(st.sampled_from(["dec", "hex", "oct"]))) for p in parts)
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        expected = None
    try:
        target = check_url(f"http://{host}/", OutboundPolicy({(host, None)}))  # exempt: no verdict
        assert target.address == expected
    except OutboundRefused:
        assert expected is None  # only what no resolver reads as a number is refused as invalid


# -- the verdict on addresses, against an independent list -----------------------------------
# IANA's IPv4 special-purpose registry: the blocks not globally reachable (and the deprecated
# 6to4 relay anycast), and multicast.
SPECIAL = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4")]
GLOBAL_INSIDE_SPECIAL = {ipaddress.ip_address("192.0.0.9"), ipaddress.ip_address("192.0.0.10")}


def _forbidden(address: ipaddress.IPv4Address) -> bool:
    return address not in GLOBAL_INSIDE_SPECIAL and any(address in net for net in SPECIAL)


def _encodings(address: ipaddress.IPv4Address) -> list[str]:
    n, (a, b, c, d) = int(address), address.packed
    return [str(address), f"[::ffff:{address}]", f"[64:ff9b::{address}]",
            f"[2002:{a:02x}{b:02x}:{c:02x}{d:02x}::1]",
            str(n), hex(n), f"{a}.{(b << 16) + (c << 8) + d}", f"{a}.{b}.{(c << 8) + d}",
            f"0{a:o}.0{b:o}.0{c:o}.0{d:o}"]


@given(st.one_of(st.builds(ipaddress.IPv4Address, st.integers(0, 2 ** 32 - 1)),
                 st.sampled_from(SPECIAL).flatmap(
                     lambda net: st.integers(0, net.num_addresses - 1).map(lambda i: net[i]))))
def test_every_encoding_of_an_address_gets_the_same_verdict(address):
    for written in _encodings(address):
        url = f"http://{written}/"
        if _forbidden(address):
            with pytest.raises(OutboundRefused):
                check_url(url, STRICT)
        elif written == str(address) or written.startswith("["):
            check_url(url, STRICT)  # public: allowed in standard form
        else:
            with pytest.raises(OutboundRefused, match="standard form"):
                check_url(url, STRICT)


# -- resolution: once, every answer vetted (getaddrinfo mocked: tests never ask DNS) ---------
def _dns(monkeypatch, answers: dict):
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


@pytest.mark.parametrize("answers, words", [
    (["10.0.0.7"], "private"), (["169.254.169.254"], "link-local"), (["127.0.0.1"], "loopback"),
    (["93.184.216.34", "10.0.0.7"], "private"),  # one bad answer is enough
    (["fd00::7"], "private"), (["::ffff:127.0.0.1"], "loopback")])
def test_a_name_resolving_to_a_refused_address_is_refused(monkeypatch, answers, words):
    calls = _dns(monkeypatch, {"calendar.example.com": answers})
    target = check_url("https://calendar.example.com/cal.ics", STRICT)
    with pytest.raises(OutboundRefused) as refused:
        resolve(target)
    assert words in refused.value.reason and calls == ["calendar.example.com"]
    assert "10.0.0.7" not in refused.value.reason  # the internal DNS answer is not told


def test_a_public_name_resolves_to_its_first_address_and_an_exempt_one_to_any(monkeypatch):
    _dns(monkeypatch, {"calendar.example.com": ["93.184.216.34", "2606:2800::1"],
                       "caldav.internal": ["10.0.0.9"]})
    assert str(resolve(check_url("https://calendar.example.com/", STRICT))) == "93.184.216.34"
    exempt = check_url("https://caldav.internal/", OutboundPolicy({("caldav.internal", None)}))
    assert str(resolve(exempt)) == "10.0.0.9"


def test_an_address_in_the_url_is_not_looked_up(no_network):
    assert str(resolve(Target("http", "8.8.8.8", 80, False, ipaddress.ip_address("8.8.8.8")))) == "8.8.8.8"
    assert no_network == []
