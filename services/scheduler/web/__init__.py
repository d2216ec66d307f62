"""The front desk's pages, beside /api in the scheduler's app: staff sign-in, the board, the audit trail.

``FrontDesk`` gathers what the pages need from the app (Flask-Login, CSRF protection, the sign-in throttle, the
security headers) and what the app needs from the pages (who a staff session is for /api, the HTML error page).
"""

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, Flask, abort, redirect, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from ..adapters.notifications_client import SentMessage
from ..domain.clinic import Clinic
from ..domain.staff import Actor, Permission
from ..ops_handlers import Ops
from . import sessions
from .access import SAFE_METHODS, may_call_api
from .booking import create_booking_pages
from .errors import error_page
from .navigation import nav_links
from .next_url import safe_next
from .ops import create_ops_pages
from .pages import create_pages
from .security import add_page_headers, is_page
from .session_pages import create_session_pages
from .settings import FrontDeskSettings
from .sign_in import create_sign_in_pages

__all__ = ["FrontDesk", "FrontDeskSettings", "error_page", "is_page"]


class FrontDesk:
    def __init__(
        self,
        settings: FrontDeskSettings,
        *,
        uow_factory: Callable,
        clinic: Clinic,
        clock: Callable[[], datetime],
        messages: Callable[[str], list[SentMessage] | None] | None = None,
        ops: Ops | None = None,
    ):
        self.settings = settings
        self._uow_factory = uow_factory
        self._clinic = clinic
        self._clock = clock
        # What notifications sent for a session (None: it cannot say); without it the pages say "unknown".
        self._messages = messages or (lambda _session_id: None)
        self._ops = ops  # the ops page's use cases; without them the app has no ops page
        self.csrf = CSRFProtect()
        self.login = LoginManager()
        self.limiter = Limiter(get_remote_address, storage_uri="memory://", headers_enabled=True)

    error_page = staticmethod(error_page)
    is_page = staticmethod(is_page)

    def api_caller(self) -> Actor | None:
        """The staff member an /api request without a bearer token comes from, or None: then the token is asked."""
        if not current_user.is_authenticated:
            return None
        # A cookie goes along with any request the browser makes, a forged one from another site too: a change
        # needs the page's CSRF token as well (the X-CSRFToken header), as a form does.
        if request.method not in SAFE_METHODS:
            self.csrf.protect()
        if not may_call_api(current_user):
            abort(403)
        return current_user.account.actor

    def install(self, app: Flask, api: Blueprint) -> None:
        timeouts = self.settings.timeouts
        app.config.update(
            SECRET_KEY=self.settings.secret_key,
            SESSION_COOKIE_NAME="scheduler_session",
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_SECURE=self.settings.cookie_secure,
            # A form stays usable as long as the session that drew it may last.
            WTF_CSRF_TIME_LIMIT=int(timeouts.absolute.total_seconds()),
        )
        self.csrf.init_app(app)
        self.csrf.exempt(api)  # bearer tokens; a staff session's changes are checked in api_caller
        for name, blueprint in app.blueprints.items():
            if name.startswith(f"{api.name}."):  # /api's own blueprints (/api/ops) are /api as well
                self.csrf.exempt(blueprint)
        self.login.init_app(app)
        self.login.session_protection = "strong"
        self.login.user_loader(sessions.user_loader(self._uow_factory, self._clock, timeouts))
        self.login.unauthorized_handler(_to_sign_in)
        self.limiter.init_app(app)
        app.after_request(add_page_headers)
        app.register_blueprint(
            Blueprint("front_desk_assets", __name__, static_folder="../static", static_url_path="/assets")
        )
        app.register_blueprint(
            create_sign_in_pages(
                uow_factory=self._uow_factory, clock=self._clock, settings=self.settings, limiter=self.limiter
            )
        )
        pages = {"uow_factory": self._uow_factory, "clinic": self._clinic, "clock": self._clock}
        app.register_blueprint(create_pages(**pages, messages=self._messages))
        app.register_blueprint(create_booking_pages(**pages))
        app.register_blueprint(create_session_pages(**pages, messages=self._messages))
        if self._ops is not None:
            app.register_blueprint(create_ops_pages(self._ops))
        clinic_name = self._clinic.name
        zone = self._clinic.time_zone

        @app.context_processor
        def _layout():
            return {"clinic_name": clinic_name, "nav_links": nav_links, "Permission": Permission}

        @app.template_filter("hm")
        def _hours_minutes(instant: datetime | None) -> str:
            """An instant as the clinic's wall clock: 09:45."""
            return instant.astimezone(zone).strftime("%H:%M") if instant else ""

        @app.template_filter("hm_or_day")
        def _hours_minutes_or_day(instant: datetime | None) -> str:
            """09:45 today; "Mon 4 Jan 15:00" on another day, so that yesterday's 15:00 does not read as today's."""
            if not instant:
                return ""
            local = instant.astimezone(zone)
            if local.date() == self._clock().astimezone(zone).date():
                return f"{local:%H:%M}"
            return f"{local:%a} {local.day} {local:%b %H:%M}"

        @app.template_filter("long_day")
        def _long_day(day) -> str:
            return f"{day:%A} {day.day} {day:%B %Y}"


def _to_sign_in():
    next_url = safe_next(request.full_path.rstrip("?")) if request.method == "GET" else "/"
    target = url_for("staff_auth.sign_in", next=next_url if next_url != "/" else None)
    if request.headers.get("HX-Request"):
        # htmx swaps what it gets into the page: tell it to load the sign-in page instead.
        return "", 401, {"HX-Redirect": target}
    return redirect(target)
