"""Stand-ins for the outside services the clinic depends on, for development and tests. Never for production."""
