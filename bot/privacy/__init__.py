"""Customers' data under their control: export (export.py), erasure (erase.py) and
retention (retention.py)."""
