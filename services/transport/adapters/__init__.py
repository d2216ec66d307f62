"""The transport service's adapters: database and unit of work."""
