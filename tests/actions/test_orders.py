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


def test_a_shipped_order_past_its_date_is_an_apology_and_a_person_not_good_news():
    from datetime import date, timedelta

    from actions.orders import OrderInfo, describe

    today = date(2026, 12, 5)
    order = OrderInfo("217356", "shipped", "Royal Mail", "RM1GB", today - timedelta(days=3), "Cashmere scarf")
    late = describe(order, today)
    assert late.handoff_reason == "late_delivery" and "should have arrived by Wednesday 2 December" in late.text
    assert "Good news" not in late.text and "RM1GB" in late.text
    on_time = describe(order, today - timedelta(days=3))
    assert on_time.handoff_reason is None and on_time.text.startswith("Good news")
    waiting = describe(OrderInfo("1", "processing", None, None, today - timedelta(days=1), "Mugs"), today)
    assert waiting.handoff_reason == "late_delivery"
    delivered = describe(OrderInfo("2", "delivered", "DPD", "X", today - timedelta(days=9), "Coat"), today)
    assert delivered.handoff_reason is None


def test_the_demo_has_orders_on_time_and_one_late_around_today():
    from datetime import date

    shipped = [o for o in DEMO_ORDERS if o.status == "shipped"]
    assert shipped[0].expected_delivery >= date.today()
    assert any(o.expected_delivery < date.today() for o in shipped)
