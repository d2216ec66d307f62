"""The clinic's three services: scheduler, transport and notifications."""
