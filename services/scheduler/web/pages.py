"""The front desk's pages: the board (the home page) and, for admins, the audit trail."""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from flask import Blueprint, render_template, request

from .. import handlers, staff_handlers
from ..adapters.notifications_client import SentMessage
from ..domain.clinic import Clinic
from ..domain.staff import Permission
from .access import requires
from .floor import build_board

AUDIT_ROWS = 500


MessagesOf = Callable[[str], list[SentMessage] | None]
BOARD_REFRESH_SECONDS = 10


def create_pages(
    *, uow_factory: Callable, clinic: Clinic, clock: Callable[[], datetime], messages: MessagesOf
) -> Blueprint:
    pages = Blueprint("front_desk", __name__)

    def today() -> date:
        return clock().astimezone(clinic.time_zone).date()

    def the_board(template: str):
        day, error = _day(request.args.get("day"), today())
        now = clock()
        sessions, names = handlers.day_on_the_floor(
            window_from=datetime.combine(day, time(0), tzinfo=clinic.time_zone),
            window_to=datetime.combine(day + timedelta(days=1), time(0), tzinfo=clinic.time_zone),
            uow=uow_factory(),
        )
        checkpoints = handlers.checkpoints_of(sessions, uow=uow_factory(), clinic=clinic, now=now)
        board = build_board(
            day, sessions, clinic=clinic, now=now, names=names, messages=messages, checkpoints=checkpoints
        )
        context = {
            "board": board,
            "day": day,
            "today": today(),
            "error": error,
            "now": now,
            "refresh_seconds": BOARD_REFRESH_SECONDS,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
        }
        return render_template(template, **context), 422 if error else 200

    @pages.get("/")
    @requires(Permission.VIEW_BOARD)
    def board():
        return the_board("board.html")

    @pages.get("/board/live")
    @requires(Permission.VIEW_BOARD)
    def board_live():
        """The board's chairs alone, for the page's own refresh every few seconds (htmx)."""
        return the_board("board_live.html")

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
