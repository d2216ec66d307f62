"""The front desk's pages: the board (the home page) and, for admins, the audit trail."""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from flask import Blueprint, render_template, request

from .. import staff_handlers
from ..domain.clinic import Clinic
from ..domain.staff import Permission
from .access import requires

AUDIT_ROWS = 500


def create_pages(*, uow_factory: Callable, clinic: Clinic, clock: Callable[[], datetime]) -> Blueprint:
    pages = Blueprint("front_desk", __name__)

    def today() -> date:
        return clock().astimezone(clinic.time_zone).date()

    @pages.get("/")
    @requires(Permission.VIEW_BOARD)
    def board():
        return render_template("board.html", day=today())

    @pages.get("/audit")
    @requires(Permission.VIEW_AUDIT)
    def audit():
        day, error = _day(request.args.get("day"), today())
        starts_at = datetime.combine(day, time(0), tzinfo=clinic.time_zone)
        ends_at = datetime.combine(day + timedelta(days=1), time(0), tzinfo=clinic.time_zone)
        entries = staff_handlers.audit_trail(starts_at, ends_at, uow=uow_factory(), limit=AUDIT_ROWS)
        return (
            render_template(
                "audit.html", day=day, entries=entries, error=error, zone=clinic.time_zone, limit=AUDIT_ROWS
            ),
            422 if error else 200,
        )

    return pages


def _day(text: str | None, default: date) -> tuple[date, str | None]:
    if not text:
        return default, None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return default, "Give the day as YYYY-MM-DD."
    if not 2000 <= day.year <= 2999:
        return default, "Give a day between the years 2000 and 2999."
    return day, None
