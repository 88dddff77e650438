"""Where a webhook may be posted: a URL's host is resolved and every address it resolves to
must be public. No test here connects to anything: a connection attempt fails the test."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest

from app.core.config import get_settings
from app.services.webhook_urls import UnsafeUrl, check_url, refusal

RESOLVER = socket.getaddrinfo  # the real one, before any test replaces it


@pytest.fixture(autouse=True)
def no_connection(monkeypatch, fake_dns):
    """Any connection attempt, to any address, fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return fake_dns


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_loopback", True)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.3.4/", "private"),
        ("http://192.168.1.10:8080/hook", "private"),
        ("http://[fc00::1]/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://127.0.0.1/", "loopback"),
        ("http://127.9.9.9/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://sneaky.example/hook", "loopback"),  # a name that resolves to 127.0.0.1
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "not a public address"),  # shared (carrier-grade NAT)
        ("http://[2002:a00:1::]/", "private"),  # 6to4 of 10.0.0.1
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
        ("https://rebound.example/", "private"),  # one public address, one private
    ],
)
def test_a_url_to_an_address_that_is_not_public_is_refused(url, reason):
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert reason in refused.value.detail
    assert refused.value.extra["field"] == "url"
    assert refused.value.status_code == 422 and refused.value.code == "unsafe_url"


def test_localhost_is_loopback(monkeypatch):
    """The real resolver answers `localhost` from the hosts file (never a DNS server)."""
    monkeypatch.setattr(socket, "getaddrinfo", RESOLVER)
    with pytest.raises(UnsafeUrl, match="loopback"):
        check_url("http://localhost:8000/hook")


def test_public_addresses_are_answered_to_connect_to():
    checked = check_url("https://esakip.example.go.id/hook")
    assert (checked.host, checked.port) == ("esakip.example.go.id", 443)
    assert checked.addresses == (
        ipaddress.ip_address("103.151.20.8"),
        ipaddress.ip_address("2001:df0:27a::8"),
    )
    assert check_url("http://93.184.216.34:8080/x").port == 8080


@pytest.mark.usefixtures("loopback_allowed")
def test_the_setting_lets_loopback_through_and_nothing_else():
    for url in ("http://127.0.0.1:8765/", "http://[::1]/", "http://sneaky.example/"):
        assert check_url(url).addresses[0].is_loopback
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://0.0.0.0/"):
        with pytest.raises(UnsafeUrl):
            check_url(url)


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        check_url("https://nowhere.example/hook")


def test_a_resolver_that_hangs_is_waited_for_a_bounded_time(monkeypatch, no_connection):
    monkeypatch.setattr(get_settings(), "webhook_dns_timeout_seconds", 0.2)
    answer = socket.getaddrinfo

    def slow(host: str, *args: object, **kwargs: object) -> object:
        time.sleep(2)
        return answer(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.perf_counter()
    with pytest.raises(UnsafeUrl, match=r"did not resolve within 0\.2 s"):
        check_url("https://esakip.probolinggokota.go.id/")
    assert time.perf_counter() - started < 1.5


def test_refusal_reads_mapped_addresses_as_what_they_stand_for():
    assert refusal(ipaddress.ip_address("::ffff:10.0.0.1")) == "a private address"
    assert refusal(ipaddress.ip_address("::ffff:103.151.20.7")) is None
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
