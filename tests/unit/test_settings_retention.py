"""How long published outbox rows and handled inbox ids are kept: a week and two weeks unless told otherwise."""

from datetime import timedelta

import pytest

from shared.settings import Settings


def test_published_outbox_rows_are_kept_a_week_and_handled_ids_two_weeks_by_default():
    settings = Settings.from_environment("scheduler", {})

    assert settings.outbox_retention_hours == 168
    assert settings.inbox_retention_hours == 336
    assert settings.outbox_retention == timedelta(days=7)
    assert settings.inbox_retention == timedelta(days=14)


def test_the_retentions_are_read_from_their_variables_in_hours():
    settings = Settings.from_environment("transport", {"OUTBOX_RETENTION_HOURS": "24", "INBOX_RETENTION_HOURS": "48"})

    assert settings.outbox_retention == timedelta(hours=24)
    assert settings.inbox_retention == timedelta(hours=48)


def test_the_inbox_may_keep_its_ids_exactly_as_long_as_the_outbox_its_rows():
    settings = Settings.from_environment("transport", {"OUTBOX_RETENTION_HOURS": "72", "INBOX_RETENTION_HOURS": "72"})

    assert settings.inbox_retention == settings.outbox_retention


@pytest.mark.parametrize(
    "environ",
    [
        {"INBOX_RETENTION_HOURS": "100"},  # shorter than the outbox's default week
        {"OUTBOX_RETENTION_HOURS": "400"},  # longer than the inbox's default two weeks
        {"OUTBOX_RETENTION_HOURS": "48", "INBOX_RETENTION_HOURS": "24"},
    ],
)
def test_an_inbox_retention_shorter_than_the_outbox_retention_is_refused_at_start(environ):
    with pytest.raises(ValueError, match="INBOX_RETENTION_HOURS .* must be at least OUTBOX_RETENTION_HOURS"):
        Settings.from_environment("notifications", environ)


@pytest.mark.parametrize("name", ["OUTBOX_RETENTION_HOURS", "INBOX_RETENTION_HOURS"])
@pytest.mark.parametrize("text", ["a week", "0", "-1"])
def test_a_retention_that_is_not_a_positive_number_of_hours_is_refused_at_start(name, text):
    with pytest.raises(ValueError, match=name):
        Settings.from_environment("scheduler", {name: text})
