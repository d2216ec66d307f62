"""Makes sure every patient has a confirmed ride home: consumes session events, publishes ride events."""

SERVICE_NAME = "transport"
