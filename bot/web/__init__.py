"""Pages people use: the customer web chat (and, later, the agent console)."""
