"""The staff's use cases: accounts, signing in and out, and reading the audit trail.

Each takes its dependencies as arguments and commits one unit of work; a sign-in, refused or not, is recorded in
the audit trail by the same transaction that counts it towards the lock-out.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .adapters.staff import UsernameTaken
from .domain.audit import AuditAction, AuditEntry
from .domain.errors import InvalidRequest, Refused
from .domain.staff import (
    USERNAME_PATTERN,
    Actor,
    LockoutPolicy,
    Role,
    StaffAccount,
    password_problem,
    username_problem,
)

log = logging.getLogger(__name__)

# A failed sign-in is recorded under the name typed only when it could be a username: text of another shape may be
# a password typed into the wrong field.
NOT_A_USERNAME = "(not a username)"


def create_account(username: str, role: Role, password: str, *, uow, passwords, now: datetime) -> StaffAccount:
    problem = username_problem(username)
    if problem:
        raise InvalidRequest({"username": [problem]})
    problem = password_problem(password, username=username)
    if problem:
        raise InvalidRequest({"password": [problem]})
    account = StaffAccount(
        id=str(uuid.uuid4()), username=username, role=role, password_hash=passwords.hash(password), created_at=now
    )
    with uow:
        try:
            uow.staff.add(account)
        except UsernameTaken:
            raise Refused("username_taken", f"There is already an account named {username}.") from None
        uow.commit()
    log.info("staff account %s created with role %s", account.id, role.value)
    return account


def deactivate_account(username: str, *, uow, now: datetime) -> StaffAccount:
    with uow:
        account = uow.staff.by_username(username, for_update=True)
        if account is None:
            raise Refused("no_such_account", f"There is no account named {username}.")
        account.active = False
        account.signed_out(now)
        uow.staff.save(account)
        uow.commit()
    log.info("staff account %s deactivated", account.id)
    return account


class SignInOutcome(StrEnum):
    SIGNED_IN = "signed_in"
    REFUSED = "refused"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignIn:
    outcome: SignInOutcome
    account: StaffAccount | None = None


def sign_in(username: str, password: str, *, uow, passwords, now: datetime, policy: LockoutPolicy) -> SignIn:
    with uow:
        account = uow.staff.by_username(username, for_update=True) if USERNAME_PATTERN.fullmatch(username) else None
        # Verified whatever the account, so that an unknown name costs as long as a wrong password.
        matches = passwords.verify(account.password_hash if account else None, password)
        if account is None or not account.active:
            name = username if USERNAME_PATTERN.fullmatch(username) else NOT_A_USERNAME
            uow.audit.record(Actor(account.id if account else None, name), AuditAction.SIGN_IN_FAILED, None, now)
            uow.commit()
            return SignIn(SignInOutcome.REFUSED)
        if account.locked(now):
            uow.audit.record(account.actor, AuditAction.SIGN_IN_LOCKED, None, now)
            uow.commit()
            log.warning("sign-in to locked staff account %s refused", account.id)
            return SignIn(SignInOutcome.LOCKED)
        if not matches:
            account.failed_sign_in(now, policy)
            uow.staff.save(account)
            uow.audit.record(account.actor, AuditAction.SIGN_IN_FAILED, None, now)
            uow.commit()
            if account.locked(now):
                log.warning("staff account %s locked after %d failed sign-ins", account.id, account.failed_sign_ins)
                return SignIn(SignInOutcome.LOCKED)
            return SignIn(SignInOutcome.REFUSED)
        account.signed_in()
        if passwords.needs_rehash(account.password_hash):
            account.password_hash = passwords.hash(password)
        uow.staff.save(account)
        uow.audit.record(account.actor, AuditAction.SIGN_IN, None, now)
        uow.commit()
    return SignIn(SignInOutcome.SIGNED_IN, account)


def sign_out(account_id: str, *, uow, now: datetime) -> None:
    """Ends every session of the account signed in until now, not only the one whose cookie asked."""
    with uow:
        account = uow.staff.get(account_id)
        if account is None:
            return
        account.signed_out(now)
        uow.staff.save(account)
        uow.audit.record(account.actor, AuditAction.SIGN_OUT, None, now)
        uow.commit()


def get_account(account_id: str, *, uow) -> StaffAccount | None:
    with uow.read_only():
        return uow.staff.get(account_id)


def audit_trail(starts_at: datetime, ends_at: datetime, *, uow, limit: int = 500) -> list[AuditEntry]:
    with uow.read_only():
        return uow.audit.between(starts_at, ends_at, limit=limit)
