"""Whose request it is: X-Forwarded-For believed only from the operator's own proxies."""

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.client_address import client_address, parse_proxies, resolve
from bot.settings import Settings, SettingsError

PROXIES = parse_proxies("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8")


@pytest.mark.parametrize("peer, forwarded, expected", [
    # No trusted proxies: the header is the client's own words, and ignored.
    ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
    # From a proxy: the rightmost address that is not one of ours.
    ("127.0.0.1", ["203.0.113.1"], "203.0.113.1"),
    ("127.0.0.1", ["6.6.6.6, 203.0.113.1"], "203.0.113.1"),  # the client made up 6.6.6.6
    ("127.0.0.1", ["6.6.6.6, 203.0.113.1, 10.1.2.3"], "203.0.113.1"),  # through two of our proxies
    ("127.0.0.1", ["6.6.6.6", "203.0.113.1"], "203.0.113.1"),  # the header given twice
    ("::1", ["2001:db8::5"], "2001:db8::5"),
    ("::ffff:127.0.0.1", ["[2001:db8::5]:443"], "2001:db8::5"),
    ("127.0.0.1", ["203.0.113.1:5555"], "203.0.113.1"),
    # Garbage where a proxy's entry should be: trust stops at the last good hop.
    ("127.0.0.1", ["203.0.113.1, not-an-ip"], "127.0.0.1"),
    # Every hop ours: the leftmost one is the best we know.
    ("127.0.0.1", ["10.0.0.9"], "10.0.0.9"),
    ("127.0.0.1", [], "127.0.0.1"),
])
def test_the_client_is_the_rightmost_address_not_ours(peer, forwarded, expected):
    assert resolve(peer, forwarded, PROXIES) == expected


def test_an_untrusted_peer_cannot_claim_any_address():
    assert resolve("198.51.100.7", ["127.0.0.1"], PROXIES) == "198.51.100.7"
    assert resolve("198.51.100.7", ["203.0.113.1"], ()) == "198.51.100.7"


def test_a_bad_proxy_setting_is_refused_by_name():
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES: 'proxy.example' is not"):
        Settings.from_mapping({"TRUSTED_PROXIES": "10.0.0.1, proxy.example"})
    assert parse_proxies("") == ()


@pytest.mark.parametrize("trusted, expected", [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.9")])
async def test_client_address_of_a_real_request(trusted, expected):
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=client_address(request, trusted))

    app = web.Application()
    app.router.add_get("/", echo)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
        assert await response.text() == expected
