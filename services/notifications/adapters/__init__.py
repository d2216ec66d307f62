"""The notifications service's adapters: database, gateways and the scheduler's directory."""
