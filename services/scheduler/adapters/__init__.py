"""The scheduler's adapters: configuration file, database and unit of work."""
