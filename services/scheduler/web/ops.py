"""The ops page (``/ops``) for the ops and admin roles: the alerts, the day in business terms, every service and
every queue with a small chart of its depth, refreshed by itself (htmx); and each dead-letter queue's messages, to
replay or discard after a confirmation step, each action audited under the staff member's name.

The charts are drawn on the server as SVG polylines: the page needs no script of its own and no inline style.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from shared.contract.fields import is_id
from shared.messaging.dead_letters import BrokerUnavailable
from shared.redaction import describe

from ..domain.staff import Permission
from ..ops_handlers import Ops
from .access import requires

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10
CHART_WIDTH = 120
CHART_HEIGHT = 28
MAX_REASON = 150
SOURCES = {
    "management": "the RabbitMQ management API",
    "amqp": "the broker itself (AMQP passive declarations: messages ready and consumers only)",
    "in-memory": "the in-memory broker of this process (messages ready only)",
}


@dataclass(frozen=True)
class Sparkline:
    """A queue's depth over the samples kept, as SVG polylines (a gap where the depth was unknown)."""

    lines: tuple[str, ...]
    highest: int
    latest: int | None
    samples: int


def sparkline(depths: Sequence[tuple[datetime, int | None]], width: int = CHART_WIDTH, height: int = CHART_HEIGHT):
    known = [n for _at, n in depths if n is not None]
    highest = max(known, default=0)
    if not depths:
        return Sparkline((), 0, None, 0)
    step = width / max(len(depths) - 1, 1)
    scale = (height - 4) / highest if highest else 0.0
    lines, current = [], []
    for index, (_at, depth) in enumerate(depths):
        if depth is None:
            if current:
                lines.append(current)
            current = []
            continue
        current.append(f"{index * step:.1f},{height - 2 - depth * scale:.1f}")
    if current:
        lines.append(current)
    # A single point draws nothing as a polyline: repeat it so the chart shows a dot.
    drawn = tuple(" ".join(points if len(points) > 1 else points * 2) for points in lines)
    return Sparkline(drawn, highest, depths[-1][1], len(depths))


def create_ops_pages(ops: Ops) -> Blueprint:
    pages = Blueprint("ops_pages", __name__)

    def context() -> dict:
        snapshot = ops.snapshot()
        charts = {row.figures.name: sparkline(row.depths) for row in snapshot.queues}
        return {
            "snapshot": snapshot,
            "charts": charts,
            "source": SOURCES.get(snapshot.broker.source, snapshot.broker.source),
            "refresh_seconds": REFRESH_SECONDS,
            "history_minutes": int(ops.history.keep.total_seconds() // 60),
            "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
            "handled_at": {s.name: _instant(s.last_handled.at if s.last_handled else None) for s in snapshot.services},
        }

    @pages.get("/ops")
    @requires(Permission.VIEW_OPS)
    def overview():
        return render_template("ops.html", **context())

    @pages.get("/ops/live")
    @requires(Permission.VIEW_OPS)
    def live():
        """The page's figures alone, for its own refresh every few seconds (htmx)."""
        return render_template("ops_live.html", **context())

    @pages.get("/ops/dead-letters")
    @requires(Permission.VIEW_OPS)
    def dead_letters():
        queue = _known_queue(ops, request.args.get("queue"))
        letters, problem = [], None
        try:
            letters = ops.dead_letters(queue)
        except BrokerUnavailable as exc:
            log.warning("dead letters of %s could not be read: %s", queue, describe(exc))
            problem = "The broker did not answer: the dead letters cannot be read just now. Try again shortly."
        return render_template("ops_dead_letters.html", queue=queue, letters=letters, problem=problem)

    @pages.post("/ops/dead-letters/confirm")
    @requires(Permission.VIEW_OPS)
    def confirm():
        """The confirmation step: what would be done, asked once more; nothing changes here."""
        queue, action, event_ids = _selection(ops)
        if action is None or (event_ids is not None and not event_ids):
            flash("Choose the dead letters first (tick them), or use the buttons for all of them.")
            return redirect(url_for(".dead_letters", queue=queue), 303)
        return render_template("ops_confirm.html", queue=queue, action=action, event_ids=event_ids, error=None)

    @pages.post("/ops/dead-letters/<any(replay, discard):action>")
    @requires(Permission.VIEW_OPS)
    def act(action: str):
        queue, _ignored, event_ids = _selection(ops)
        if event_ids is not None and not event_ids:
            abort(422)
        actor = current_user.account.actor
        try:
            if action == "replay":
                outcome = ops.replay(queue, event_ids, actor=actor)
            else:
                reason = " ".join((request.form.get("reason") or "").split())
                if not reason or len(reason) > MAX_REASON:
                    error = f"Say why they are discarded (at most {MAX_REASON} characters)."
                    page = render_template(
                        "ops_confirm.html", queue=queue, action=action, event_ids=event_ids, error=error
                    )
                    return page, 422
                outcome = ops.discard(queue, event_ids, reason, actor=actor)
        except BrokerUnavailable as exc:
            log.warning("%s of dead letters from %s failed: %s", action, queue, describe(exc))
            done = len(exc.outcome.done) if exc.outcome is not None else 0
            flash(
                f"The broker did not answer: {done} done before it went away; the others are still in {queue}. "
                "Try again shortly."
            )
            return redirect(url_for(".dead_letters", queue=queue), 303)
        verb = "Replayed" if action == "replay" else "Discarded"
        target = f" to {queue.removesuffix('.dlq')}" if action == "replay" else ""
        message = f"{verb} {_count(len(outcome.done))}{target}."
        if outcome.not_found:
            message += f" {_count(len(outcome.not_found))} no longer in the queue."
        flash(message)
        return redirect(url_for(".dead_letters", queue=queue), 303)

    return pages


def _known_queue(ops: Ops, queue: str | None) -> str:
    if queue not in ops.dead_letter_queues():
        abort(404)
    return queue  # type: ignore[return-value]  # checked just above


def _selection(ops: Ops) -> tuple[str, str | None, list[str] | None]:
    """(queue, action, event ids or None for all) from the form; a crafted form naming anything else is refused."""
    queue = _known_queue(ops, request.form.get("queue"))
    action = request.form.get("action")
    if action not in (None, "replay", "discard"):
        abort(422)
    if request.form.get("all") == "yes":
        return queue, action, None
    event_ids = list(dict.fromkeys(request.form.getlist("event_id")))
    if len(event_ids) > 500 or not all(is_id(event_id) for event_id in event_ids):
        abort(422)
    return queue, action, event_ids


def _instant(text: str | None) -> datetime | None:
    """A service's ISO time, to be shown on the clinic's clock like every time of the pages; None if unreadable."""
    try:
        instant = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return instant if instant is None or instant.tzinfo is not None else None


def _count(count: int) -> str:
    return f"{count} dead letter" if count == 1 else f"{count} dead letters"
