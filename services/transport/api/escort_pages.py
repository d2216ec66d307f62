"""The escort's page, outside /api and without a bearer token: the signed link is the only key.

Opening the link (GET, or HEAD from a link preview or a mail scanner) only reads; the buttons POST, with a signed
form token, and only a POST changes the ride. Every answer is a plain page that no search engine, cache or referrer
keeps, under a policy that runs no script.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request

from .. import handlers
from ..adapters.escort_tokens import BadToken, EscortTokens, LinkClaims
from ..adapters.scheduler_directory import SchedulerUnavailable
from ..domain.errors import NotFound
from ..domain.escort import MESSAGES, EscortAction, LinkNotOpen, LinkState

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PRIVATE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
STATUS_OF_STATE = {LinkState.USED: 410, LinkState.EXPIRED: 410, LinkState.REPLACED: 410, LinkState.CLOSED: 409}
TITLE_OF_STATE = {
    LinkState.USED: "Already answered",
    LinkState.EXPIRED: "Link expired",
    LinkState.REPLACED: "Link replaced",
    LinkState.CLOSED: "No answer needed",
}
INVALID_LINK = "This link is not valid. Please use the link in the clinic's message exactly as it was sent."


def create_escort_pages(
    *, uow_factory: Callable, tokens: EscortTokens, directory, clinic_zone: ZoneInfo, clock: Callable[[], datetime]
) -> Blueprint:
    pages = Blueprint(
        "escort_pages",
        __name__,
        template_folder="../templates",
        static_folder="../static",
        static_url_path="/rides/static",
    )

    @pages.after_request
    def _private(response: Response) -> Response:
        response.headers.update(PRIVATE_HEADERS)
        return response

    @pages.get("/rides/escort/<token>")
    def show(token: str):
        claims = _claims(token)
        if claims is None:
            return _notice("Link not valid", INVALID_LINK, 404)
        try:
            ride, state = handlers.escort_page(claims.ride_id, claims.round, uow=uow_factory(), now=clock())
        except NotFound:
            return _notice("Link not valid", INVALID_LINK, 404)
        if state is not LinkState.OPEN:
            return _notice(TITLE_OF_STATE[state], MESSAGES[state], STATUS_OF_STATE[state])
        try:
            clinic = directory.clinic()
        except SchedulerUnavailable:
            return _notice("Please try again shortly", "The page cannot be shown just now.", 503)
        return render_template(
            "escort_ride.html",
            clinic_name=clinic.name,
            clinic_address=clinic.address,
            first_name=directory.patient_first_name(ride.patient_id),
            pickup_at=ride.pickup_at.astimezone(clinic_zone),
            form_token=tokens.form_token(claims),
        )

    @pages.post("/rides/escort/<token>")
    def answer(token: str):
        claims = _claims(token)
        if claims is None:
            return _notice("Link not valid", INVALID_LINK, 404)
        form_token = request.form.get("form_token")
        if not form_token:
            return _notice("Not sent", "Please answer with the buttons on the page of your link.", 400)
        try:
            tokens.check_form(form_token, claims)
        except BadToken:
            return _notice("Not sent", "This form has expired or is not for this link: open the link again.", 403)
        try:
            action = EscortAction(request.form.get("action", ""))
        except ValueError:
            return _notice("Not sent", "Please choose one of the two buttons.", 400)
        try:
            handlers.answer_escort(claims.ride_id, claims.round, action, uow=uow_factory(), now=clock())
        except NotFound:
            return _notice("Link not valid", INVALID_LINK, 404)
        except LinkNotOpen as refusal:
            log.info("ride %s: an escort answer on a %s link", claims.ride_id, refusal.state.value)
            return _notice(TITLE_OF_STATE[refusal.state], refusal.message, STATUS_OF_STATE[refusal.state])
        if action is EscortAction.CONFIRM:
            return _notice(
                "Thank you", "Your pickup is confirmed. The clinic will tell you when the patient is ready.", 200
            )
        return _notice("Thank you for telling us", "The clinic will arrange another way home.", 200)

    def _claims(token: str) -> LinkClaims | None:
        try:
            return tokens.read_link(token)
        except BadToken:
            return None

    return pages


def _notice(title: str, message: str, status: int):
    return render_template("escort_notice.html", title=title, message=message), status
