"""The notifications service's thin HTTP layer."""
