import pytest

from actions.refunds import PROMISED_DAYS, days_waited


@pytest.mark.parametrize("text, days", [
    ("my refund is 3 weeks late", 21),
    ("it's been two weeks and still nothing", 14),
    ("returned it a month ago", 30),
    ("waited 10 working days already", 10),
    ("sent it back a few days ago", 3),
    ("4 days, then 2 weeks", 14),
    ("when do i get my money back", None),
    ("refund for order 482913", None),
])
def test_the_time_the_customer_says_has_passed(text, days):
    assert days_waited(text) == days


def test_the_promise_is_three_working_days_and_a_weekend():
    assert days_waited("a week ago") > PROMISED_DAYS >= days_waited("3 working days")
