"""The header's links: each shown to the roles that may use it, once its page exists."""

from flask import current_app, request, url_for
from flask_login import current_user

from ..domain.staff import Permission

# (label, endpoint, permission). The booking form is "booking.book" when it is added.
NAV = (
    ("Board", "front_desk.board", Permission.VIEW_BOARD),
    ("Book", "booking.book", Permission.BOOK),
    ("Audit", "front_desk.audit", Permission.VIEW_AUDIT),
    ("Ops", "ops_pages.overview", Permission.VIEW_OPS),
)


def nav_links() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    return [
        {"label": label, "url": url_for(endpoint), "current": request.endpoint == endpoint}
        for label, endpoint, permission in NAV
        if endpoint in current_app.view_functions and current_user.may(permission)
    ]
