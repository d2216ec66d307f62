"""Who may open which page and call which /api route under a staff session, from the roles' permission table."""

from collections.abc import Callable
from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required

from ..domain.staff import Permission, Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a staff session needs for each /api route that changes something; reading needs a view of the board. A
# changing route missing here is for admins only, so a new one is closed until it is placed in the table.
API_PERMISSIONS = {
    "scheduler_api.register_patient": Permission.REGISTER_PATIENT,
    "scheduler_api.change_patient": Permission.REGISTER_PATIENT,
    "scheduler_api.record_intake": Permission.RECORD_INTAKE,
    "scheduler_api.book_session": Permission.BOOK,
    "scheduler_api.book_series": Permission.BOOK,
    "scheduler_api.reschedule_session": Permission.RESCHEDULE,
    "scheduler_api.cancel_session": Permission.CANCEL,
    "scheduler_api.check_in": Permission.CHECK_IN,
    "scheduler_api.start_treatment": Permission.START_TREATMENT,
    "scheduler_api.discharge": Permission.DISCHARGE,
    "scheduler_api.record_no_show": Permission.RECORD_NO_SHOW,
    "scheduler_api.mark_checkpoint": Permission.MARK_CHECKPOINT,
    # The ops page's actions belong to the people who keep the system running (ops and admins).
    "scheduler_api.ops.replay": Permission.VIEW_OPS,
    "scheduler_api.ops.discard": Permission.VIEW_OPS,
}
# Reading these /api routes needs more than a view of the board: the ops figures are for ops and admins only.
API_READ_PERMISSIONS = {"scheduler_api.ops.": Permission.VIEW_OPS}


def requires(permission: Permission) -> Callable:
    """A page for signed-in staff whose role has ``permission``; others are sent to sign in, or refused (403)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if not current_user.may(permission):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def may_call_api(user) -> bool:
    if request.method in SAFE_METHODS:
        endpoint = request.endpoint or ""
        for prefix, permission in API_READ_PERMISSIONS.items():
            if endpoint.startswith(prefix):
                return user.may(permission)
        return user.may(Permission.VIEW_BOARD)
    needed = API_PERMISSIONS.get(request.endpoint or "")
    if needed is None:
        return user.account.role is Role.ADMIN and user.account.active
    return user.may(needed)
