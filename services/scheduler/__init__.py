"""Books treatment sessions with their recovery buffers and publishes what happened through its outbox."""

SERVICE_NAME = "scheduler"
