"""The brand-page assistant: webhooks in, Rasa or a human agent, replies out."""
