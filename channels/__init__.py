"""One module per platform: verify, parse into IncomingMessage, send OutgoingMessage."""
