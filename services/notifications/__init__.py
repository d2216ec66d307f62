"""Sends patients their preparation instructions, reminders and ride confirmations, each exactly once."""

SERVICE_NAME = "notifications"
