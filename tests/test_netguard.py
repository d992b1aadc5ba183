"""planning/netguard.py: team-supplied URLs never reach loopback, private or metadata hosts."""

from __future__ import annotations

import ipaddress
import socket
import threading

import httpcore
import pytest

from planning import netguard


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "::1", "10.0.0.5", "172.16.3.4", "192.168.1.1",
        "169.254.169.254", "fe80::1", "fd00:ec2::254", "100.100.100.200", "0.0.0.0", "::",
        "224.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1",
        "240.0.0.1",
    ],
)  # fmt: skip
def test_internal_addresses_are_refused(address, settings):
    settings.NETGUARD_ALLOW_LOOPBACK = False
    assert netguard.refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert netguard.refusal(ipaddress.ip_address(address)) is None


def test_the_test_only_setting_lets_loopback_through_and_nothing_else(settings):
    settings.NETGUARD_ALLOW_LOOPBACK = True
    assert netguard.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert netguard.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert netguard.refusal(ipaddress.ip_address("10.0.0.1")) is not None
    assert netguard.refusal(ipaddress.ip_address("169.254.169.254")) is not None


def test_names_are_checked_after_resolution(settings):
    settings.NETGUARD_ALLOW_LOOPBACK = False
    with pytest.raises(netguard.RefusedAddress, match="loopback"):
        netguard.check_url("http://localhost:8000/hook")
    with pytest.raises(netguard.RefusedAddress, match="link-local"):
        netguard.check_url("http://[::ffff:169.254.169.254]/latest/meta-data/")


def test_a_name_with_any_internal_address_is_refused(monkeypatch, settings):
    settings.NETGUARD_ALLOW_LOOPBACK = False

    def two_answers(host, port, type=0):  # noqa: A002 - getaddrinfo's own name
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    with pytest.raises(netguard.RefusedAddress, match="10.1.2.3"):
        netguard.checked_addresses("rebind.example.com", 443)


def test_the_pool_connects_only_to_the_checked_address(settings):
    """A real request: refused by default, allowed with the test-only setting."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/\r\nContent-Length: 0\r\n\r\n"
        )
        conn.close()

    settings.NETGUARD_ALLOW_LOOPBACK = False
    with netguard.pool() as pool, pytest.raises(netguard.RefusedAddress):
        pool.request("GET", f"http://127.0.0.1:{port}/", extensions=netguard.timeouts(2))
    settings.NETGUARD_ALLOW_LOOPBACK = True
    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    with netguard.pool() as pool:
        response = pool.request("GET", f"http://127.0.0.1:{port}/", extensions=netguard.timeouts(2))
    assert response.status == 302  # the redirect is handed back, never followed
    thread.join(5)
    server.close()


def test_unresolvable_names_fail_cleanly():
    with pytest.raises(httpcore.ConnectError):
        netguard.check_url("https://no-such-host.invalid/hook")


def test_literal_refusal_for_forms():
    assert "localhost" in netguard.literal_refusal("https://localhost/x")
    assert "private" in netguard.literal_refusal("https://10.0.0.8/x")
    assert "link-local" in netguard.literal_refusal("https://169.254.169.254/x")
    assert netguard.literal_refusal("https://hooks.slack.com/services/x") is None


def test_the_dev_stack_allow_list_admits_exact_address_and_port_only(settings):
    settings.NETGUARD_ALLOW_LOOPBACK = False
    settings.NETGUARD_ALLOW_HOSTPORTS = ["127.0.0.1:9010"]
    assert netguard.checked_addresses("127.0.0.1", 9010) == [ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(netguard.RefusedAddress):
        netguard.checked_addresses("127.0.0.1", 9011)
    with pytest.raises(netguard.RefusedAddress):
        netguard.checked_addresses("localhost", 9010)  # a name is never on the list
    assert netguard.literal_refusal("http://127.0.0.1:9010/demo") is None
    assert "loopback" in netguard.literal_refusal("http://127.0.0.1:9011/demo")
    assert netguard.literal_refusal("http://127.0.0.1:99999/") is not None
