"""The RabbitMQ management plugin, turned on for the tests that read its HTTP API.

The local broker has the plugin installed but not enabled. Enabling it is idempotent and leaves the broker running,
so tests that run at the same time are not disturbed. A plugin that cannot be enabled, or an API that never answers,
fails the test that needs it, saying why: nothing is skipped.
"""

import os
import subprocess
import time

import pytest
import requests

MANAGEMENT_URL = os.environ.get("TEST_RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")
MANAGEMENT_USER = "guest"
MANAGEMENT_PASSWORD = "guest"
STARTUP_DEADLINE = 120.0


def answering() -> bool:
    try:
        response = requests.get(
            f"{MANAGEMENT_URL}/api/overview", auth=(MANAGEMENT_USER, MANAGEMENT_PASSWORD), timeout=5
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def ensure_management_plugin() -> str:
    """The management API's URL, once it answers; enables the plugin first if it does not."""
    if answering():
        return MANAGEMENT_URL
    try:
        result = subprocess.run(
            ["rabbitmq-plugins", "enable", "rabbitmq_management"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"`rabbitmq-plugins enable rabbitmq_management` could not run: {exc!r}")
    if result.returncode != 0:
        pytest.fail(
            "`rabbitmq-plugins enable rabbitmq_management` failed: " + (result.stderr.strip() or result.stdout.strip())
        )
    end = time.monotonic() + STARTUP_DEADLINE
    while not answering():
        if time.monotonic() >= end:
            pytest.fail(f"the management API at {MANAGEMENT_URL} did not answer within {STARTUP_DEADLINE:.0f}s")
        time.sleep(0.5)
    return MANAGEMENT_URL
