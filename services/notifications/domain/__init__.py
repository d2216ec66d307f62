"""Notification rules and wording. Pure: no Flask, no kombu, no requests, no database."""
