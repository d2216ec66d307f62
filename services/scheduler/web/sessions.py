"""A staff member's signed-in session: Flask-Login's cookie session, with idle and absolute timeouts.

The cookie carries when its holder signed in and when they were last active; each request checks both against the
account as stored, so a deactivated account or one signed out elsewhere is over at the next request.
"""

from collections.abc import Callable
from datetime import datetime

from flask import flash, request, session
from flask_login import UserMixin, login_user, logout_user

from .. import staff_handlers
from ..domain.staff import Permission, SessionTimeouts, SignedInSession, StaffAccount

SIGNED_IN_AT = "signed_in_at"
ACTIVE_AT = "active_at"
# A page's own refresh (the board polling every few seconds) sends this header: it is no sign of a person at the
# desk, so it does not keep the session from going idle.
AUTO_REFRESH_HEADER = "X-Auto-Refresh"
SESSION_OVER = "Your session has ended. Please sign in again."


class StaffUser(UserMixin):
    def __init__(self, account: StaffAccount):
        self.account = account

    def get_id(self) -> str:
        return self.account.id

    @property
    def is_active(self) -> bool:
        return self.account.active

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def role(self) -> str:
        return self.account.role.value

    def may(self, permission: Permission) -> bool:
        return self.account.may(permission)


def start(account: StaffAccount, now: datetime) -> None:
    # A fresh cookie: nothing a visitor had in the old one (a CSRF token included) outlives the sign-in.
    session.clear()
    login_user(StaffUser(account))
    session[SIGNED_IN_AT] = now.isoformat()
    session[ACTIVE_AT] = now.isoformat()


def end() -> None:
    logout_user()
    session.clear()


def user_loader(uow_factory: Callable, clock: Callable[[], datetime], timeouts: SessionTimeouts):
    """Flask-Login's loader: the staff member of this request's cookie, or None once their session is over."""

    def load(account_id: str) -> StaffUser | None:
        now = clock()
        stamps = _stamps(account_id)
        account = staff_handlers.get_account(account_id, uow=uow_factory()) if stamps else None
        if stamps is None or stamps.over(now, timeouts, account):
            session.clear()
            flash(SESSION_OVER)
            return None
        if request.headers.get(AUTO_REFRESH_HEADER) is None:
            session[ACTIVE_AT] = now.isoformat()
        return StaffUser(account)  # type: ignore[arg-type]  # not None: over() said so

    return load


def _stamps(account_id: str) -> SignedInSession | None:
    try:
        return SignedInSession(
            account_id,
            signed_in_at=datetime.fromisoformat(session[SIGNED_IN_AT]),
            last_active_at=datetime.fromisoformat(session[ACTIVE_AT]),
        )
    except (KeyError, TypeError, ValueError):
        return None
