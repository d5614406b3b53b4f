"""The demo brand's custom actions (rasa_sdk).

The service finds them as rasa-sdk does (bot/action_package.py, `ACTIONS_PACKAGE=actions`):
every `Action` subclass in this package's modules. The order actions take an
`order_lookup` in their constructor, which the service fills with a lookup in its own
database; `rasa run actions --actions actions` makes them without one, and they answer
from the demo orders.
"""
