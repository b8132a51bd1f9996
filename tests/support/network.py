"""The test suite's network boundary: no packet leaves 127.0.0.0/8 (or ::1), and no test
needs DNS. ``NetworkGuard`` wraps the socket module for the whole run and remembers every
attempt that would have crossed that line (the attempt itself fails with an OSError);
``forbid_network()`` is stricter, for the tests that must show no connection is even tried.

Local test servers are exempted from the outbound policy the way an operator would do it,
through OUTBOUND_ALLOWED_HOSTS entries (``host:port``): ``allowed_hosts(*urls)``.
"""
from __future__ import annotations

import ipaddress
import socket
from contextlib import contextmanager
from urllib.parse import urlsplit

from scheduler.adapters.outbound import OutboundPolicy
from scheduler.config import load_settings

LOCAL_NAMES = {"localhost"}


def _is_loopback(host) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_literal(host) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
        return True
    except ValueError:
        return False


class NetworkGuard:
    def __init__(self):
        self.violations: list[str] = []
        self._real = None
        self._strict: list | None = None

    def install(self) -> None:
        self._real = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)
        real_connect, real_connect_ex, real_getaddrinfo = self._real
        guard = self

        def connect(sock, address):
            guard._check_connect(sock, address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            guard._check_connect(sock, address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host, *args, **kwargs):
            guard._check_lookup(host)
            return real_getaddrinfo(host, *args, **kwargs)

        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo

    def uninstall(self) -> None:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = self._real

    def _check_connect(self, sock, address) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # Unix sockets stay on this machine
        if self._strict is not None:
            self._strict.append(f"connect {address}")
            raise OSError("test: no connection may be attempted here")
        if not _is_loopback(address[0]):
            self.violations.append(f"connect to {address}")
            raise OSError(f"test: a connection to {address[0]} would leave 127.0.0.0/8")

    def _check_lookup(self, host) -> None:
        if self._strict is not None:
            self._strict.append(f"getaddrinfo {host}")
            raise socket.gaierror(socket.EAI_NONAME, "test: no lookup may be made here")
        if host is not None and not _is_literal(host) and str(host).lower() not in LOCAL_NAMES:
            self.violations.append(f"DNS lookup of {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"test: DNS lookup of {host!r}")

    @contextmanager
    def forbid(self):
        """Every connection and lookup inside the block fails and is listed in what it yields."""
        attempts: list[str] = []
        self._strict = attempts
        try:
            yield attempts
        finally:
            self._strict = None


GUARD = NetworkGuard()


def allowed_hosts(*urls: str) -> str:
    """The OUTBOUND_ALLOWED_HOSTS value exempting exactly these servers (host:port)."""
    entries = []
    for url in urls:
        parts = urlsplit(url)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        entries.append(f"{host}:{parts.port or {'http': 80, 'https': 443}[parts.scheme]}")
    return ",".join(entries)


def policy_allowing(*urls: str) -> OutboundPolicy:
    """The policy an operator gets with OUTBOUND_ALLOWED_HOSTS naming these servers."""
    settings = load_settings({"OUTBOUND_ALLOWED_HOSTS": allowed_hosts(*urls)})
    return OutboundPolicy(settings.outbound_allowed_hosts)
