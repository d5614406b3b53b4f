"""The order-status proof: what counts as the buyer's e-mail address or postcode."""

from __future__ import annotations

from actions.orders import DEMO_ORDERS, proof_in, proves

ORDER = DEMO_ORDERS[0]  # ana.silva@example.com, SW1A 1AA


def test_the_email_or_postcode_on_the_order_proves_it_however_written():
    for said in ("ana.silva@example.com", "  ANA.Silva@Example.COM ", "it's ana.silva@example.com thanks",
                 "SW1A 1AA", "sw1a1aa", "my postcode is sw1a 1aa"):
        assert proves(ORDER, proof_in(said)), said


def test_anything_else_proves_nothing():
    other = DEMO_ORDERS[1]
    for said in ("", "ana.silva@example.org", "SW1A 1AB", other.email, other.postcode, ORDER.number,
                 "ana.silva", "é@example.com", "\x00" * 32):
        assert not proves(ORDER, proof_in(said)), said


def test_a_missing_order_is_proven_by_nothing():
    assert not proves(None, proof_in(ORDER.email))
    assert not proves(None, proof_in("\x00" * 32))
