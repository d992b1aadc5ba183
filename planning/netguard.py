"""Outbound requests to addresses a team typed in (webhooks, later metric sources by URL).

A URL a user controls must not reach the app's own network: loopback, private, link-local
(which holds cloud metadata at 169.254.169.254), shared, multicast, reserved and unspecified
addresses are refused. The check is made when connecting, after DNS resolution, and the
socket connects to the very address that was checked (no second lookup an attacker's DNS
could answer differently). Redirects are never followed: the caller sees the 3xx.

    with netguard.pool() as pool:
        response = pool.request("POST", url, headers=[...], content=body,
                                extensions=netguard.timeouts(5.0))

`settings.NETGUARD_ALLOW_LOOPBACK` (tests only) lets 127.0.0.1/::1 through so a test can run
its own target; everything else stays refused. `settings.NETGUARD_ALLOW_HOSTPORTS` (the local
dev stack only) lets exact literal `address:port` pairs through, e.g. the fake server that
serves the demo's metric source.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import typing
from urllib.parse import urlsplit

import httpcore
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(httpcore.ConnectError):
    """The host resolves to an address outbound requests may not reach."""


def _allow_loopback() -> bool:
    return bool(getattr(settings, "NETGUARD_ALLOW_LOOPBACK", False))


def _allowed_hostport(host: str, port: int) -> bool:
    allowed = getattr(settings, "NETGUARD_ALLOW_HOSTPORTS", ()) or ()
    return f"{host.strip('[]')}:{port}" in allowed


def refusal(ip: IPAddress, *, allow_loopback: bool | None = None) -> str | None:
    """Why `ip` may not be contacted, or None when it is a public address."""
    if allow_loopback is None:
        allow_loopback = _allow_loopback()
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return refusal(mapped, allow_loopback=allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "not a public address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal IP resolves to itself)."""
    host = host.strip("[]")
    with contextlib.suppress(ValueError):  # not a literal IP: a name, resolved below
        return [ipaddress.ip_address(host)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def checked_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host`, refusing the whole host if any of them is not public.

    Refusing on any (rather than skipping the bad ones) keeps a name that points at both a
    public and a private address from being used to reach the private one.
    """
    addresses = resolve(host, port)
    if _allowed_hostport(host, port) and len(addresses) == 1:
        return addresses  # a literal address the local dev stack allows (see the docstring)
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no address")
    for ip in addresses:
        why = refusal(ip)
        if why:
            raise RefusedAddress(f"{host} resolves to {ip}, {why}: refused")
    return addresses


def check_url(url: str) -> None:
    """Resolve and check a URL's host now (raises RefusedAddress / httpcore.ConnectError)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise httpcore.ConnectError("not an http(s) URL")
    checked_addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def literal_refusal(url: str) -> str | None:
    """For forms: why a URL whose host is a literal IP (or localhost) is refused, else None.

    Names are only resolved when sending (an answer at save time proves nothing later).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]").rstrip(".").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The port is not a number from 0 to 65535."
    if _allowed_hostport(host, port):
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost is not reachable from Exponent's servers."
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    why = refusal(ip)
    return f"{ip} is {why}: use a public address." if why else None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to checked public addresses."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for ip in checked_addresses(host, port):
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next address
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


def pool(**options) -> httpcore.ConnectionPool:
    """A connection pool whose every connection goes through GuardedBackend.

    TLS still verifies the certificate against the URL's host name (SNI too): only the TCP
    connection is made to the checked address. No proxy from the environment is used, and
    httpcore never follows a redirect. Pass `extensions=timeouts(s)` with each request.
    """
    return httpcore.ConnectionPool(network_backend=GuardedBackend(), **options)


def timeouts(seconds: float) -> dict:
    """httpcore's per-request timeout extension: connect, read, write and pool."""
    return {"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}}
