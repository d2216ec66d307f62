"""A development page outside /api: the latest messages kept in the local outbox, so that a newcomer on the
embedded default sees what would have been sent. Served only while both channels are the local outbox (it shows
patients' messages, so it must not exist where they really go out); a plain page that runs no script."""

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import handlers

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
PAGES = Environment(loader=FileSystemLoader(Path(__file__).parent / "pages"), autoescape=select_autoescape(["html"]))


def create_outbox_page(*, uow_factory: Callable, clinic_zone: ZoneInfo, enabled: bool) -> Blueprint:
    page = Blueprint("outbox_page", __name__)

    @page.get("/outbox")
    def outbox():
        if not enabled:
            abort(404)
        messages = handlers.stored_messages(uow=uow_factory())
        html = PAGES.get_template("outbox.html").render(messages=messages, zone=clinic_zone)
        return Response(html, mimetype="text/html", headers=HEADERS)

    return page
