"""The transport service's thin HTTP layer."""
