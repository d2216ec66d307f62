"""Ride-home rules. Pure: no Flask, no kombu, no requests, no database."""
