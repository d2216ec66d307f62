"""Signing in and out. Signing in is throttled per client address and locks an account after repeated failures;
signing out is a POST (with the form's CSRF token) and ends every session the account had."""

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_login import current_user, login_required

from .. import staff_handlers
from ..adapters.passwords import Passwords
from ..staff_handlers import SignInOutcome
from . import sessions
from .forms import SignInForm
from .next_url import safe_next
from .settings import FrontDeskSettings

REFUSED = "The username or password is not right."
LOCKED = "Too many failed attempts: this account is locked for a while. Try again later, or ask an admin."


def create_sign_in_pages(
    *, uow_factory: Callable, clock: Callable[[], datetime], settings: FrontDeskSettings, limiter: Limiter
) -> Blueprint:
    pages = Blueprint("staff_auth", __name__)
    passwords = Passwords()

    @pages.route("/sign-in", methods=["GET", "POST"])
    @limiter.limit(settings.sign_in_rate, methods=["POST"])
    def sign_in():
        next_url = safe_next(request.args.get("next"))
        if current_user.is_authenticated:
            return redirect(next_url)
        form = SignInForm()
        error = None
        if form.validate_on_submit():
            now = clock()
            attempt = staff_handlers.sign_in(
                form.username.data.strip(),
                form.password.data,
                uow=uow_factory(),
                passwords=passwords,
                now=now,
                policy=settings.lockout,
            )
            if attempt.outcome is SignInOutcome.SIGNED_IN and attempt.account is not None:
                sessions.start(attempt.account, now)
                return redirect(next_url)
            error = LOCKED if attempt.outcome is SignInOutcome.LOCKED else REFUSED
        status = 200 if error is None and not form.errors else 422
        return render_template("sign_in.html", form=form, error=error, next_url=next_url), status

    @pages.post("/sign-out")
    @login_required
    def sign_out():
        staff_handlers.sign_out(current_user.get_id(), uow=uow_factory(), now=clock())
        sessions.end()
        return redirect(url_for("staff_auth.sign_in"))

    return pages
