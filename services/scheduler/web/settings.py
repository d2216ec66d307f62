"""Settings of the front desk's pages, read from the environment."""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ..domain.staff import LockoutPolicy, SessionTimeouts

log = logging.getLogger(__name__)

DEVELOPMENT_SECRET_KEY = "dev-scheduler-secret-key"
TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class FrontDeskSettings:
    # Signs the session cookie and the forms' CSRF tokens: whoever knows it can sign in as anyone.
    secret_key: str = DEVELOPMENT_SECRET_KEY
    timeouts: SessionTimeouts = field(default_factory=SessionTimeouts)
    # Behind HTTPS the cookie is sent over HTTPS only; plain HTTP on this machine needs it off.
    cookie_secure: bool = False
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # Per client address, on top of the per-account lock-out: guessing across many usernames is slowed too.
    sign_in_rate: str = "10 per minute"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "FrontDeskSettings":
        env = os.environ if environ is None else environ
        secret_key = env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
        if secret_key == DEVELOPMENT_SECRET_KEY:
            log.warning("SECRET_KEY is not set: using the development value; set it outside development")
        return cls(
            secret_key=secret_key,
            timeouts=SessionTimeouts(
                idle=timedelta(minutes=_positive(env, "STAFF_IDLE_MINUTES", 30)),
                absolute=timedelta(hours=_positive(env, "STAFF_SESSION_HOURS", 12)),
            ),
            cookie_secure=env.get("STAFF_COOKIE_SECURE", "").strip().lower() in TRUE,
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0")
    return value
