"""The demo brand's canned responses: what its agents type most, ready behind "/".

Seeded with the demo orders (`DEMO_ORDERS`) into an empty table only, so a brand's own
list is never touched; supervisors change them on the Canned responses page.
"""

from __future__ import annotations

DEMO_CANNED: tuple[tuple[str, str], ...] = (
    ("hello", "Hi, thanks for waiting! I'm looking into this for you now."),
    ("order-details", "Could you send me your order number (the 6 digits in your confirmation e-mail) and the "
                      "postcode it's going to?"),
    ("late-order", "I'm sorry your order is late. I've asked the carrier where it is and I'll update you here "
                   "within 24 hours."),
    ("missing-parcel", "I'm sorry it hasn't turned up. Could you check with your neighbours and any safe place? "
                       "If it isn't there, I'll open a claim with the carrier today and send a replacement."),
    ("refund-time", "Refunds are issued within 3 working days of your return reaching us; your bank may take 3 to "
                    "5 more days to show it."),
    ("exchange", "Happy to swap the size: send the item back with the returns form marked 'exchange' and we'll post "
                 "the new size as soon as it arrives."),
    ("anything-else", "Is there anything else I can help you with today?"),
    ("bye", "Thanks for getting in touch, and have a lovely day!"),
)
