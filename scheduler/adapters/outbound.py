"""Every request this service makes to a URL someone gave it goes through here.

Callers hand us URLs (external calendars, webhook subscriptions); without a policy a
front-desk key could make the server probe its own network (Redis on 127.0.0.1, the cloud
metadata address). So: http and https only; the host is resolved once and every address
vetted (no loopback, private, link-local, multicast, unspecified, reserved or carrier-grade
NAT address, in whatever encoding it is written); the connection goes to that vetted
address while the Host header, TLS SNI and certificate check keep the name from the URL (a
second lookup could answer differently: DNS rebinding); redirects are vetted hop by hop;
bodies are capped and downloads bounded in time. Operators exempt named hosts
(``OUTBOUND_ALLOWED_HOSTS``), matched against the URL as written; nothing else is exempt.

``check_url`` is the static half (no I/O: registration uses it); ``OutboundSession`` is a
``requests.Session`` that applies all of it to every request it sends, redirects included.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_errors

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
# Not globally reachable (IANA special-purpose registries), spelled out because ipaddress's own
# tables differ between Python releases. Python's is_global still refuses anything it knows more.
RESERVED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "192.0.0.0/29", "192.0.0.8/32", "192.0.0.11/32", "192.0.0.12/30", "192.0.0.16/28",
    "192.0.0.32/27", "192.0.0.64/26", "192.0.0.128/25", "192.0.2.0/24", "192.88.99.0/24",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
    "::/8", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16",
    "fec0::/10")]
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
BAD_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
CHUNK = 8192


class OutboundError(Exception):
    """A request this policy stopped; ``reason`` is ours, never the remote server's words."""

    code = "outbound_error"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OutboundRefused(OutboundError):
    code = "outbound_refused"


class ResponseTooLarge(OutboundError):
    code = "response_too_large"


@dataclass(frozen=True)
class OutboundPolicy:
    """``allowed_hosts``: (host, port or None for any port), as config.py parses them."""

    allowed_hosts: frozenset[tuple[str, int | None]] = frozenset()

    def __post_init__(self):
        object.__setattr__(self, "allowed_hosts", frozenset(self.allowed_hosts))

    def exempts(self, host: str, port: int) -> bool:
        return (host, port) in self.allowed_hosts or (host, None) in self.allowed_hosts


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, IDNA-encoded, IPv6 without brackets
    port: int
    exempt: bool
    address: IPAddress | None  # set when the URL names an address rather than a host name

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


# -- the static check ----------------------------------------------------------------------
def check_url(url: str, policy: OutboundPolicy) -> Target:
    """The target of ``url``, or OutboundRefused saying why. No DNS, no connection."""
    if not isinstance(url, str) or BAD_CHARACTERS.search(url):
        raise OutboundRefused("the URL contains spaces, control characters or backslashes")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise OutboundRefused("only http and https URLs are allowed")
    try:
        raw_host, port = parts.hostname, parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise OutboundRefused("the port must be a number from 1 to 65535")
    if not raw_host:
        raise OutboundRefused("the URL has no host")
    host = _normalise_host(raw_host)
    port = port or DEFAULT_PORTS[scheme]
    address = _literal_address(host)
    if address is not None and address.version == 6:
        host = address.compressed  # one spelling per IPv6 address, as config.py writes them
    exempt = policy.exempts(host, port)
    if exempt:
        return Target(scheme, host, port, True, address)
    if address is not None:
        problem = address_problem(address)
        if problem:
            raise OutboundRefused(f"{raw_host} is {_a(problem)} address ({address})")
        if address.version == 4 and str(address) != host:
            raise OutboundRefused(f"write the address {raw_host} in its standard form ({address})")
    elif host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
        raise OutboundRefused(f"{raw_host} names this machine (a loopback address)")
    return Target(scheme, host, port, False, address)


def _normalise_host(host: str) -> str:
    host = host.lower()
    if host.isascii():
        return host
    import idna  # as requests encodes it, so fullwidth digits cannot hide an address

    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise OutboundRefused("the host is not a valid name") from None


def _literal_address(host: str) -> IPAddress | None:
    """The address a host written as one denotes, in every form the resolver accepts:
    dotted quads, ``127.1``, ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, IPv6 (zone ignored)."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise OutboundRefused("the host is not a valid IPv6 address") from None
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(NUMERIC_LABEL.match(label) for label in labels):
        return None
    try:
        values = [int(v, 16) if v.startswith("0x") else int(v, 8) if len(v) > 1 and v[0] == "0" else int(v)
                  for v in labels]
    except ValueError:  # "08": no resolver reads it as a number, some ask DNS
        raise OutboundRefused(f"{host} is not a valid IPv4 address") from None
    if len(values) > 4 or any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise OutboundRefused(f"{host} is not a valid IPv4 address")
    number = values[-1]
    for i, value in enumerate(values[:-1]):
        number += value << (24 - 8 * i)
    return ipaddress.IPv4Address(number)


def address_problem(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused (its kind), or None for a public address."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in CGNAT:
        return "carrier-grade NAT"
    if any(address in net for net in PRIVATE if net.version == address.version):
        return "private"
    if address.is_reserved or address.is_private or not address.is_global \
            or any(address in net for net in RESERVED if net.version == address.version):
        return "reserved"
    return None


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def resolve(target: Target) -> IPAddress:
    """The one address this request will connect to (the host is looked up once)."""
    if target.address is not None:
        return target.address
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise requests.exceptions.ConnectionError("cannot resolve the host name") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
    if not addresses:
        raise requests.exceptions.ConnectionError("cannot resolve the host name")
    if not target.exempt:
        for address in addresses:
            problem = address_problem(address)
            if problem:  # one bad answer is enough: it is the one a retry might use
                raise OutboundRefused(f"{target.host} resolves to {_a(problem)} address")
    return addresses[0]


# -- the transport -------------------------------------------------------------------------
class OutboundSession(requests.Session):
    """A requests session that sends only what the policy allows, to the vetted address.

    ``max_bytes`` caps every response body (``truncate``: keep the first ``max_bytes`` and
    stop reading, for answers nobody needs whole; otherwise ResponseTooLarge). ``timeout``
    bounds each request from start to the end of its body. Refusals are also kept in
    ``refusals``: a library between us and the session (caldav) may swallow exceptions.
    """

    def __init__(self, policy: OutboundPolicy, *, max_bytes: int, timeout: float,
                 truncate: bool = False, max_redirects: int = 5):
        super().__init__()
        self.policy, self.max_bytes, self.timeout, self.truncate = policy, max_bytes, timeout, truncate
        self.trust_env = False  # no proxies or .netrc from the environment: we connect ourselves
        self.max_redirects = max_redirects
        self.headers["Accept-Encoding"] = "identity"  # the cap counts what we hold, not zip bombs
        self.refusals: list[OutboundError] = []
        self._targets: dict[str, tuple[Target, IPAddress]] = {}
        self.adapters.clear()
        adapter = _PinnedAdapter(self)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method, url, *args, **kwargs):
        # The URL as given, before requests rewrites it (IDNA) or refuses it in its own words.
        self._remembered(lambda: check_url(url, self.policy))
        return super().request(method, url, *args, **kwargs)

    def send(self, request, **kwargs):
        # Every hop comes through here, redirects included.
        if any((kwargs.get("proxies") or {}).values()):
            self._remembered(lambda: _raise(OutboundRefused("requests through a proxy are not allowed")))
        self._remembered(lambda: self.pinned(request.url))
        return super().send(request, **kwargs)

    def _remembered(self, check):
        try:
            return check()
        except OutboundError as exc:
            self.refusals.append(exc)
            raise

    def pinned(self, url: str) -> tuple[Target, IPAddress]:
        """The vetted target of ``url`` and its address: looked up once per session and host."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}".lower()
        if key not in self._targets:
            target = check_url(url, self.policy)
            self._targets[key] = (target, resolve(target))
        return self._targets[key]

    def raise_if_refused(self) -> None:
        if self.refusals:
            raise self.refusals[0]

    def read_body(self, response: requests.Response, deadline: float) -> None:
        """Read the body now, within the size cap and the deadline."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes and not self.truncate:
            response.close()
            self._too_large()
        chunks, size = [], 0
        try:
            for chunk in response.raw.stream(CHUNK, decode_content=True):
                if time.monotonic() > deadline:
                    raise requests.exceptions.ReadTimeout("the download took longer than the time limit")
                size += len(chunk)
                if size > self.max_bytes:
                    if not self.truncate:
                        self._too_large()
                    chunks.append(chunk[: self.max_bytes - size + len(chunk)])
                    response.raw.close()  # unread bytes remain: this connection is not reused
                    break
                chunks.append(chunk)
        except (OutboundError, requests.RequestException):
            response.close()
            raise
        except urllib3_errors.ReadTimeoutError as exc:  # urllib3's errors, named as requests names them
            response.close()
            raise requests.exceptions.ReadTimeout("the server stopped sending") from exc
        except (urllib3_errors.HTTPError, OSError) as exc:
            response.close()
            raise requests.exceptions.ConnectionError("the connection failed while reading") from exc
        response._content, response._content_consumed = b"".join(chunks), True
        response.close()  # hands a fully read connection back to the pool

    def _too_large(self):
        self._remembered(lambda: _raise(ResponseTooLarge(f"the answer is larger than {self.max_bytes} bytes")))


def _raise(exc: Exception):
    raise exc


class _PinnedAdapter(HTTPAdapter):
    """Connects to the session's vetted address; TLS still checks the name from the URL."""

    def __init__(self, session: OutboundSession):
        super().__init__(max_retries=0)
        self.session = session

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        deadline = time.monotonic() + self.session.timeout
        target, _ = self.session.pinned(request.url)
        previous = request.headers.get("Host")
        request.headers["Host"] = target.host_header  # the pool's host is the address
        try:
            response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert)
        finally:
            if previous is None:
                del request.headers["Host"]  # a redirect to another host must not inherit it
            else:
                request.headers["Host"] = previous
        self.session.read_body(response, deadline)
        return response

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        target, address = self.session.pinned(request.url)
        host_params["host"] = str(address)
        if target.scheme == "https" and target.address is None:
            pool_kwargs["server_hostname"] = pool_kwargs["assert_hostname"] = target.host
        return host_params, pool_kwargs
