"""The clinic's staff: their roles, what each role may do, and the rules of their accounts and sign-in sessions.

The permission table is the one place that says who may do what: the pages show an action only to the roles that
may take it, and both the pages and the API (under a staff session) refuse it to the others.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    FRONT_DESK = "front_desk"
    CLINICIAN = "clinician"
    OPS = "ops"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_BOARD = "view_board"
    REGISTER_PATIENT = "register_patient"
    RECORD_INTAKE = "record_intake"
    BOOK = "book"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    CHECK_IN = "check_in"
    RECORD_NO_SHOW = "record_no_show"
    START_TREATMENT = "start_treatment"
    MARK_CHECKPOINT = "mark_checkpoint"
    DISCHARGE = "discharge"
    OVERRIDE_GATE = "override_gate"
    VIEW_OPS = "view_ops"
    VIEW_AUDIT = "view_audit"


FRONT_DESK_WORK = frozenset(
    {
        Permission.VIEW_BOARD,
        Permission.REGISTER_PATIENT,
        Permission.RECORD_INTAKE,
        Permission.BOOK,
        Permission.RESCHEDULE,
        Permission.CANCEL,
        # The check-in gate's override (a ride arranged by phone) is the desk's call; the clinical gates are not.
        Permission.CHECK_IN,
        Permission.RECORD_NO_SHOW,
    }
)
CLINICAL_WORK = frozenset(
    {
        Permission.VIEW_BOARD,
        Permission.START_TREATMENT,
        Permission.MARK_CHECKPOINT,
        Permission.DISCHARGE,
        Permission.OVERRIDE_GATE,
    }
)

PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.FRONT_DESK: FRONT_DESK_WORK,
    Role.CLINICIAN: CLINICAL_WORK,
    Role.OPS: frozenset({Permission.VIEW_BOARD, Permission.VIEW_OPS}),
    Role.ADMIN: frozenset(Permission),
}


def may(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


@dataclass(frozen=True)
class Actor:
    """Who made a change, for the audit: a staff member (by id and username), or the service token."""

    id: str | None
    name: str


SERVICE_ACTOR = Actor(id=None, name="service")

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
USERNAME_RULE = "3 to 64 lower-case letters, digits, dots, hyphens or underscores, starting with a letter or digit"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# The passwords people pick first; a longer list would belong in a file, this one catches the obvious.
COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "passwordpassword",
        "123456789012",
        "1234567890123",
        "qwertyuiop12",
        "qwertyuiopasdf",
        "letmein12345",
        "welcome12345",
        "changeme1234",
        "administrator",
        "iloveyou1234",
        "clinic123456",
        "ketamine1234",
    }
)


def username_problem(username: str) -> str | None:
    if not USERNAME_PATTERN.fullmatch(username):
        return f"A username is {USERNAME_RULE}."
    return None


def password_problem(password: str, *, username: str) -> str | None:
    """Why a password is too weak to protect patients' records, or None. Length and a block list, after NIST."""
    if not password.strip():
        return "The password is empty."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters (a few words will do)."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters."
    folded = password.casefold()
    if len(set(folded)) < 4:
        return "The password repeats too few characters; choose something harder to guess."
    if username.casefold() in folded:
        return "The password contains the username."
    if folded in COMMON_PASSWORDS:
        return "The password is one of the most common ones; choose something harder to guess."
    return None


@dataclass(frozen=True)
class LockoutPolicy:
    """After this many failed sign-ins in a row an account refuses every password, the right one too, for a while."""

    failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)


@dataclass
class StaffAccount:
    id: str
    username: str
    role: Role
    password_hash: str
    created_at: datetime
    active: bool = True
    failed_sign_ins: int = 0
    locked_until: datetime | None = None
    # Sessions signed in before this instant are over: signing out ends them all, not only the cookie at hand.
    sessions_valid_after: datetime | None = None

    def may(self, permission: Permission) -> bool:
        return self.active and may(self.role, permission)

    @property
    def actor(self) -> Actor:
        return Actor(id=self.id, name=self.username)

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def failed_sign_in(self, now: datetime, policy: LockoutPolicy) -> None:
        if self.locked_until is not None and now >= self.locked_until:
            self.failed_sign_ins = 0
            self.locked_until = None
        self.failed_sign_ins += 1
        if self.failed_sign_ins >= policy.failures:
            self.locked_until = now + policy.lock_for

    def signed_in(self) -> None:
        self.failed_sign_ins = 0
        self.locked_until = None

    def signed_out(self, now: datetime) -> None:
        self.sessions_valid_after = now


@dataclass(frozen=True)
class SessionTimeouts:
    """A staff session ends after ``idle`` without activity, and ``absolute`` after sign-in whatever happens."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class SignedInSession:
    """What a staff member's session cookie says of them: whom, since when, and when they were last active."""

    account_id: str
    signed_in_at: datetime
    last_active_at: datetime

    def over(self, now: datetime, timeouts: SessionTimeouts, account: StaffAccount | None) -> bool:
        if account is None or not account.active:
            return True
        if account.sessions_valid_after is not None and self.signed_in_at < account.sessions_valid_after:
            return True
        return now - self.last_active_at >= timeouts.idle or now - self.signed_in_at >= timeouts.absolute
