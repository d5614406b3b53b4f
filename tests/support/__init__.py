"""Test harness: real databases, a real trained model, the real service process."""
