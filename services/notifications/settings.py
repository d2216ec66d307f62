"""The notifications service's own settings, read from the environment: when messages go, and where."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from .domain.planning import Policy, Threshold, parse_duration, parse_thresholds
from .domain.sending import QuietHours, Respect

DEFAULT_TRANSPORT_URL = "http://127.0.0.1:8002"
# The zone of the clinic configuration shipped with the scheduler (services/scheduler/clinic.toml).
DEFAULT_CLINIC_TIME_ZONE = "America/New_York"


@dataclass(frozen=True)
class NotificationSettings:
    # A booking corrected within this gives one message, with the final time.
    grace: timedelta = timedelta(minutes=2)
    reminders_before: tuple[Threshold, ...] = field(default_factory=lambda: parse_thresholds("48h,3h"))
    quiet_hours: QuietHours | None = field(default_factory=lambda: QuietHours.parse("21:00-08:00"))
    front_desk_email: str | None = None
    transport_url: str = DEFAULT_TRANSPORT_URL
    # The clinic's zone, as in the scheduler's clinic configuration: quiet hours, the follow-up and API times.
    clinic_time_zone: ZoneInfo = ZoneInfo(DEFAULT_CLINIC_TIME_ZONE)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "NotificationSettings":
        env = os.environ if environ is None else environ
        grace = env.get("NOTIFICATION_GRACE")
        quiet = env.get("QUIET_HOURS")
        return cls(
            grace=parse_duration(grace, setting="NOTIFICATION_GRACE") if grace else cls.grace,
            reminders_before=parse_thresholds(env.get("REMINDERS_BEFORE", "48h,3h")),
            quiet_hours=QuietHours.parse(quiet if quiet is not None else "21:00-08:00"),
            front_desk_email=(env.get("FRONT_DESK_EMAIL") or "").strip() or None,
            transport_url=(env.get("TRANSPORT_URL") or DEFAULT_TRANSPORT_URL).rstrip("/"),
            clinic_time_zone=ZoneInfo(env.get("CLINIC_TIME_ZONE") or DEFAULT_CLINIC_TIME_ZONE),
        )

    @property
    def policy(self) -> Policy:
        return Policy(
            grace=self.grace,
            reminders=self.reminders_before,
            clinic_zone=self.clinic_time_zone,
            front_desk=self.front_desk_email is not None,
        )

    @property
    def respect(self) -> Respect:
        return Respect(
            clinic_zone=self.clinic_time_zone, quiet_hours=self.quiet_hours, front_desk_email=self.front_desk_email
        )
