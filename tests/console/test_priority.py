"""Repeated contacts and waiting time in the priority rule (bot/handoff.py)."""

from bot.handoff import aged_priority, decide


def test_repeated_contacts_raise_the_priority():
    first = decide(requested_reason="customer_request", is_public=False, sentiment=0.0,
                   negative_threshold=-0.6, intent="request_human")
    third = decide(requested_reason="customer_request", is_public=False, sentiment=0.0,
                   negative_threshold=-0.6, intent="request_human", earlier_contacts=2)
    assert third.priority == first.priority + 10


def test_waiting_ages_the_priority_up_to_an_hour():
    assert aged_priority(20, 0) == 20
    assert aged_priority(20, 10 * 60 + 59) == 30
    assert aged_priority(20, 5 * 3600) == 80
