"""Scheduling rules. Pure: no Flask, no kombu, no requests, no database."""
