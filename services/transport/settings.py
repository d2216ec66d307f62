"""Transport's own settings, read from the environment: escort links, the ride provider, the at-risk thresholds."""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .domain.at_risk import Threshold, parse_thresholds

log = logging.getLogger(__name__)

DEVELOPMENT_LINK_SECRET = "dev-transport-link-secret"
DEVELOPMENT_PROVIDER_KEY = "dev-ride-provider-key"
DEVELOPMENT_WEBHOOK_SECRET = "dev-ride-provider-webhook-secret"
# The zone of the clinic configuration shipped with the scheduler (services/scheduler/clinic.toml).
DEFAULT_CLINIC_TIME_ZONE = "America/New_York"


@dataclass(frozen=True)
class TransportSettings:
    link_secret: str = DEVELOPMENT_LINK_SECRET
    public_url: str = "http://127.0.0.1:8002"
    at_risk_before: tuple[Threshold, ...] = parse_thresholds("24h,2h")
    provider_url: str = "http://127.0.0.1:8004"
    provider_key: str = DEVELOPMENT_PROVIDER_KEY
    provider_webhook_secret: str = DEVELOPMENT_WEBHOOK_SECRET
    # The clinic's zone, as in the scheduler's clinic configuration: API times and clinic days are written in it.
    clinic_time_zone: ZoneInfo = ZoneInfo(DEFAULT_CLINIC_TIME_ZONE)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "TransportSettings":
        env = os.environ if environ is None else environ
        zone = env.get("CLINIC_TIME_ZONE")
        settings = cls(
            link_secret=_secret(env, "TRANSPORT_LINK_SECRET", DEVELOPMENT_LINK_SECRET),
            public_url=(env.get("TRANSPORT_PUBLIC_URL") or cls.public_url).rstrip("/"),
            at_risk_before=parse_thresholds(env.get("RIDE_AT_RISK_BEFORE") or "24h,2h"),
            provider_url=env.get("RIDE_PROVIDER_URL") or cls.provider_url,
            provider_key=_secret(env, "RIDE_PROVIDER_KEY", DEVELOPMENT_PROVIDER_KEY),
            provider_webhook_secret=_secret(env, "RIDE_PROVIDER_WEBHOOK_SECRET", DEVELOPMENT_WEBHOOK_SECRET),
            clinic_time_zone=ZoneInfo(zone or DEFAULT_CLINIC_TIME_ZONE),
        )
        return settings


def _secret(env: Mapping[str, str], name: str, development: str) -> str:
    value = env.get(name) or development
    if value == development:
        log.warning("%s is not set: using the development value; set it outside development", name)
    return value
