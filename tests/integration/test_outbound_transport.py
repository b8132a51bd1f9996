"""OutboundSession against real local servers: the connection goes to the address vetted
once (no second lookup), Host and TLS keep the name from the URL, redirects are vetted hop
by hop, bodies are capped, the environment's proxies are ignored. Names are resolved by a
mocked getaddrinfo: no test asks DNS, and nothing leaves 127.0.0.0/8."""
import datetime as dt
import socket
import ssl
from types import SimpleNamespace

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scheduler.adapters.busy_import import CalendarUnreachable, fetch_ics
from scheduler.adapters.outbound import OutboundPolicy, OutboundRefused, OutboundSession, ResponseTooLarge
from tests.support.local_http import LocalServer
from tests.support.network import policy_allowing

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nEND:VCALENDAR\r\n"


def session(policy, max_bytes=1 << 20, **kw):
    return OutboundSession(policy, max_bytes=max_bytes, timeout=5, **kw)


@pytest.fixture
def dns(monkeypatch):
    """names[host] = [answers...]: each lookup of host takes the next answer (the last repeats)."""
    real, names, calls = socket.getaddrinfo, {}, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            calls.append(host)
            answers = names[host]
            address = answers.pop(0) if len(answers) > 1 else answers[0]
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(names=names, calls=calls)


@pytest.fixture
def server():
    with LocalServer({"/feed.ics": lambda req: (200, {"Content-Type": "text/calendar"}, ICS)}) as s:
        yield s


def test_a_name_is_looked_up_once_and_the_vetted_address_is_the_one_connected(dns, server):
    # The second answer would be a rebinding to an internal address: it is never asked for.
    dns.names["cal.test"] = ["127.0.0.1", "10.9.9.9"]
    http = session(OutboundPolicy({("cal.test", server.port)}))
    for _ in range(3):
        assert http.get(f"http://cal.test:{server.port}/feed.ics").content == ICS
    assert dns.calls == ["cal.test"]
    assert [r["headers"]["Host"] for r in server.requests] == [f"cal.test:{server.port}"] * 3


def test_a_name_resolving_to_loopback_is_refused_unless_exempt(dns, server):
    dns.names["cal.test"] = ["127.0.0.1"]
    with pytest.raises(OutboundRefused, match="resolves to a loopback address"):
        session(OutboundPolicy()).get(f"http://cal.test:{server.port}/feed.ics")
    assert server.requests == []


def _certificate(tmp_path, name: str):
    """A CA and a server certificate for ``name`` signed by it: (ca file, server context)."""
    def key():
        return ec.generate_private_key(ec.SECP256R1())

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, leaf_key = key(), key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem) + leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem")
    return str(tmp_path / "ca.pem"), context


@pytest.mark.parametrize("certified, ok", [("cal.test", True), ("other.test", False)])
def test_tls_sends_and_verifies_the_name_from_the_url_while_connecting_to_the_vetted_address(
        tmp_path, dns, certified, ok):
    ca_file, context = _certificate(tmp_path, certified)
    sni = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    dns.names["cal.test"] = ["127.0.0.1"]
    with LocalServer({"/feed.ics": lambda req: (200, {}, ICS)}, tls=context) as tls_server:
        http = session(OutboundPolicy({("cal.test", tls_server.port)}))
        url = f"https://cal.test:{tls_server.port}/feed.ics"
        if ok:
            assert http.get(url, verify=ca_file).content == ICS
            assert tls_server.requests[0]["headers"]["Host"] == f"cal.test:{tls_server.port}"
        else:  # a certificate for another name is refused, though the address is the same
            with pytest.raises(requests.exceptions.SSLError):
                http.get(url, verify=ca_file)
    assert sni and set(sni) == {"cal.test"}


# -- redirects -------------------------------------------------------------------------------
def test_a_redirect_to_a_refused_address_is_not_followed(server, allow_outbound):
    with LocalServer({"/internal": lambda req: (200, {}, b"internal secrets")}) as internal:
        server.routes["/to-internal"] = lambda req: (302, {"Location": internal.url("/internal")}, b"")
        server.routes["/to-metadata"] = lambda req: (
            302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
        server.routes["/to-feed"] = lambda req: (301, {"Location": "/feed.ics"}, b"")
        policy = policy_allowing(server.url())  # only the first server is exempt
        for path, words in (("/to-internal", "loopback"), ("/to-metadata", "link-local")):
            with pytest.raises(OutboundRefused, match=words):
                fetch_ics(server.url(path), None, None, 5, policy=policy)
        assert internal.requests == []
        assert fetch_ics(server.url("/to-feed"), None, None, 5, policy=policy).body == ICS


def test_redirect_chains_are_bounded(server):
    server.routes["/loop"] = lambda req: (302, {"Location": "/loop"}, b"")
    with pytest.raises(CalendarUnreachable, match="too many redirects"):
        fetch_ics(server.url("/loop"), None, None, 5, policy=policy_allowing(server.url()))
    assert len(server.requests) == 6  # the first request and five redirects


# -- size caps -------------------------------------------------------------------------------
def _unsized(size: int):
    """An answer without Content-Length (ends when the connection closes): only counting helps."""
    def route(req):
        req.close_connection = True
        req.send_response(200)
        req.send_header("Connection", "close")
        req.end_headers()
        try:
            for _ in range(size // 65536):
                req.wfile.write(b"X" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
    return route


def test_a_body_over_the_cap_is_refused_declared_or_not(server):
    server.routes["/declared"] = lambda req: (200, {}, b"X" * 300_000)
    server.routes["/unsized"] = _unsized(4 << 20)
    http = session(policy_allowing(server.url()), max_bytes=200_000)
    for path in ("/declared", "/unsized"):
        with pytest.raises(ResponseTooLarge, match="200000 bytes"):
            http.get(server.url(path))
    assert len(http.refusals) == 2


def test_truncating_keeps_the_first_bytes_and_the_session_stays_usable(server):
    server.routes["/big"] = lambda req: (200, {}, b"A" * 100 + b"B" * 500_000)
    server.routes["/unsized"] = _unsized(4 << 20)
    http = session(policy_allowing(server.url()), max_bytes=64 * 1024, truncate=True)
    big = http.get(server.url("/big"))
    assert big.status_code == 200 and len(big.content) == 64 * 1024 and big.content[:101] == b"A" * 100 + b"B"
    assert len(http.get(server.url("/unsized")).content) == 64 * 1024
    assert http.get(server.url("/feed.ics")).content == ICS


# -- what the environment cannot change, and what errors say ---------------------------------
def test_proxies_from_the_environment_are_ignored(server, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://10.1.2.3:3128")  # the guard would catch a connection there
    assert session(policy_allowing(server.url())).get(server.url("/feed.ics")).content == ICS
    with pytest.raises(OutboundRefused, match="proxy"):
        session(policy_allowing(server.url())).get(server.url("/feed.ics"),
                                                   proxies={"http": "http://10.1.2.3:3128"})


def test_errors_name_no_remote_words(server):
    def hang_up(req):
        req.close_connection = True  # "Remote end closed connection without response"

    server.routes["/hang-up"] = hang_up
    server.routes["/teapot"] = lambda req: (500, {"_reason": "SECRET-REASON"}, b"SECRET-BODY")
    policy = policy_allowing(server.url())
    for path, words in (("/hang-up", "cannot connect"), ("/teapot", "HTTP 500 Internal Server Error")):
        with pytest.raises(CalendarUnreachable) as caught:
            fetch_ics(server.url(path), None, None, 5, policy=policy)
        assert words in caught.value.reason
        assert "SECRET" not in caught.value.reason and "Remote end" not in caught.value.reason
