"""The client's address: the peer's, or the one a trusted proxy forwarded."""

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.client_address import client_address, parse_trusted_proxies

PROXIES = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8, ::1")


def request(peer: str, *forwarded: str):
    headers = [("X-Forwarded-For", value) for value in forwarded]
    return make_mocked_request("GET", "/", headers=headers).clone(remote=peer)


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert client_address(request("192.0.2.7", "203.0.113.9"), ()) == "192.0.2.7"


def test_an_untrusted_peer_cannot_claim_another_address():
    assert client_address(request("192.0.2.7", "203.0.113.9"), PROXIES) == "192.0.2.7"


def test_behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client():
    # The client itself wrote "198.51.100.1" into the header; our proxies appended the rest.
    assert client_address(request("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.2.3"), PROXIES) == "203.0.113.9"
    assert client_address(request("::1", "198.51.100.1", "203.0.113.9"), PROXIES) == "203.0.113.9"


def test_a_trusted_peer_without_a_usable_header_is_the_client():
    assert client_address(request("127.0.0.1"), PROXIES) == "127.0.0.1"
    assert client_address(request("127.0.0.1", "10.0.0.5"), PROXIES) == "127.0.0.1"
    assert client_address(request("127.0.0.1", "not-an-ip, 203.0.113.9"), PROXIES) == "203.0.113.9"
    assert client_address(request("127.0.0.1", "203.0.113.9, garbage"), PROXIES) == "127.0.0.1"


def test_the_setting_names_a_bad_entry():
    assert parse_trusted_proxies("") == ()
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'proxy.internal'"):
        parse_trusted_proxies("10.0.0.1, proxy.internal")
