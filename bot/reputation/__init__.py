"""The reputation watch: public sentiment over time, and alerts when it turns (docs/reputation.md)."""
