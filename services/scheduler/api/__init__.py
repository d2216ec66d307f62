"""The scheduler's thin HTTP layer: translate requests to use cases and results to JSON."""
