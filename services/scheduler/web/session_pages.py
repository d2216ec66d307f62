"""A session's page: its times in the clinic's zone, the ride home, the messages sent, what was done to it and by
whom, and the steps of the treatment day as forms.

Each step is shown only to the roles that may take it (the permission table) while the session allows it, and is
refused (403) to the others whatever they send. Each is a POST with the form's CSRF token, calling the same use case
as the API under the signed-in staff member; it redirects back with a message, or shows the clinic rule's refusal
(409) or the field's problem (422) next to its form, with what was typed kept.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import handlers
from ..api.schemas import CancelIn, CheckInIn
from ..domain.checkpoints import CheckpointStatus
from ..domain.clinic import Clinic
from ..domain.errors import ConcurrentChange, InvalidRequest, NotFound, Refused
from ..domain.sessions import CancelReason, Session, SessionStatus, Step
from ..domain.staff import Permission
from . import form_values
from .access import requires
from .floor import instructions_badge, phase_of, ride_badge
from .pages import MessagesOf

CANCEL_REASONS = {
    CancelReason.PATIENT_REQUEST: "The patient asked",
    CancelReason.PATIENT_UNWELL: "The patient is unwell",
    CancelReason.NO_RIDE_HOME: "No ride home",
    CancelReason.NOT_PREPARED: "Not prepared (fasting, medication)",
    CancelReason.CLINIC_REQUEST: "The clinic's request",
    CancelReason.OTHER: "Other",
}
CONCURRENT = "Someone changed this session at the same moment; the page shows it as it is now. Try again if needed."
# The override fields use the check-in's rule (3 to 300 characters of plain text).
OVERRIDE_RULE = CheckInIn()


@dataclass(frozen=True)
class Action:
    """A step of the session, with the permission it needs and the transition it takes."""

    name: str
    permission: Permission
    step: Step


ACTIONS = {
    action.name: action
    for action in (
        Action("reschedule", Permission.RESCHEDULE, Step.RESCHEDULE),
        Action("cancel", Permission.CANCEL, Step.CANCEL),
        Action("check_in", Permission.CHECK_IN, Step.CHECK_IN),
        Action("start_treatment", Permission.START_TREATMENT, Step.START_TREATMENT),
        Action("discharge", Permission.DISCHARGE, Step.DISCHARGE),
        Action("no_show", Permission.RECORD_NO_SHOW, Step.RECORD_NO_SHOW),
    )
}


@dataclass(frozen=True)
class Moment:
    """One line of the session's timeline."""

    at: datetime
    what: str
    who: str | None = None
    detail: str | None = None


def create_session_pages(
    *, uow_factory: Callable, clinic: Clinic, clock: Callable[[], datetime], messages: MessagesOf
) -> Blueprint:
    pages = Blueprint("session_pages", __name__, url_prefix="/sessions")
    zone = clinic.time_zone

    def load(session_id: str):
        try:
            return handlers.session_with_history(session_id, uow=uow_factory())
        except NotFound:
            abort(404)

    def page(
        session_id: str,
        *,
        status: int = 200,
        refusal: tuple[str, str] | None = None,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ):
        session, patient, history = load(session_id)
        now = clock()
        treatment = clinic.treatment_type(session.treatment_type)
        clinician = clinic.clinician(session.clinician_id) if session.clinician_id else None
        checkpoints = handlers.session_checkpoints(session, uow=uow_factory(), clinic=clinic, now=now)
        sent = messages(session.id)
        shown = {name for name, action in ACTIONS.items() if may(action) and session.allows(action.step)}
        reschedule_day, reschedule_starts, day_problem = None, [], None
        errors = dict(errors or {})
        if "reschedule" in shown:
            reschedule_day, day_problem = form_values.day(form_values.text(request.args, "reschedule_day"))
            if day_problem:
                errors["reschedule_day"] = day_problem
                status = 422 if status == 200 else status
            if reschedule_day is not None:
                reschedule_starts = open_starts(session, reschedule_day)
        context = {
            "session": session,
            "patient": patient,
            "treatment": treatment,
            "clinician": clinician,
            "phase": phase_of(session, now),
            "arrival": session.starts_at - clinic.arrival_lead,
            "earliest_discharge": session.earliest_discharge(clinic),
            "ride": ride_badge(session, bool(treatment and treatment.ride_home_required)),
            "ride_needs_override": session.needs_ride_home(clinic) and not session.ride_confirmed,
            "instructions": instructions_badge(sent),
            "messages": sent,
            "timeline": timeline(session, history, treatment),
            "checkpoints": checkpoints,
            "may_mark": current_user.may(Permission.MARK_CHECKPOINT),
            "may_override": current_user.may(Permission.OVERRIDE_GATE),
            "open_checkpoint": (CheckpointStatus.PENDING, CheckpointStatus.DUE, CheckpointStatus.OVERDUE),
            "shown": shown,
            "cancel_reasons": CANCEL_REASONS,
            "reschedule_day": reschedule_day,
            "reschedule_starts": reschedule_starts,
            "today": clinic.local_day(now),
            "refusal": refusal,
            "errors": errors,
            "values": values or {},
            "zone": zone,
        }
        return render_template("session.html", **context), status

    def may(action: Action) -> bool:
        return current_user.may(action.permission)

    def open_starts(session: Session, on) -> list[datetime]:
        """The starts the schedule offers that day for the session's treatment (its patient's own rules are judged
        when the session is moved: the session itself would stand in its way here)."""
        window_from, window_to = form_values.day_window(on, zone)
        placements = handlers.availability(
            session.treatment_type,
            window_from=window_from,
            window_to=window_to,
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
        )
        return sorted({p.starts_at.astimezone(zone) for p in placements if p.starts_at != session.starts_at})

    def carry_out(session_id: str, action: str, change: Callable[[], object], done: str, values: dict[str, str]):
        try:
            change()
        except Refused as exc:
            return page(session_id, status=409, refusal=(action, exc.message), values=values)
        except ConcurrentChange:
            return page(session_id, status=409, refusal=(action, CONCURRENT), values=values)
        except InvalidRequest as exc:
            return page(session_id, status=422, errors=form_values.first_messages(exc.errors), values=values)
        except NotFound:
            abort(404)
        flash(done)
        return redirect(url_for("session_pages.show", session_id=session_id), 303)

    def override_reason(field: str, values: dict[str, str]) -> tuple[str | None, dict[str, str]]:
        text = form_values.text(request.form, field)
        values[field] = text
        if not text:
            return None, {}
        loaded, problems = form_values.checked(OVERRIDE_RULE, {"override_reason": text})
        return loaded.get("override_reason"), {field: problems["override_reason"]} if problems else {}

    @pages.get("/<id:session_id>")
    @requires(Permission.VIEW_BOARD)
    def show(session_id: str):
        return page(session_id)

    @pages.post("/<id:session_id>/reschedule")
    @requires(Permission.RESCHEDULE)
    def reschedule(session_id: str):
        values = {"starts_at": form_values.text(request.form, "starts_at")}
        starts_at = form_values.instant(values["starts_at"])
        if starts_at is None:
            return page(session_id, status=422, errors={"starts_at": "Choose one of the start times shown."})
        return carry_out(
            session_id,
            "reschedule",
            lambda: handlers.reschedule_session(
                session_id, starts_at=starts_at, uow=uow_factory(), clinic=clinic, now=clock(), actor=actor()
            ),
            f"Session moved to {_when(starts_at, clinic)}.",
            values,
        )

    @pages.post("/<id:session_id>/cancel")
    @requires(Permission.CANCEL)
    def cancel(session_id: str):
        values = {"reason": form_values.text(request.form, "reason"), "note": form_values.text(request.form, "note")}
        loaded, problems = form_values.checked(CancelIn(), {"reason": values["reason"], "note": values["note"] or None})
        if problems:
            if "reason" in problems:
                problems["reason"] = "Choose a reason."
            return page(session_id, status=422, errors=problems, values=values)
        return carry_out(
            session_id,
            "cancel",
            lambda: handlers.cancel_session(
                session_id,
                reason=loaded["reason"],
                note=loaded["note"],
                uow=uow_factory(),
                clinic=clinic,
                now=clock(),
                actor=actor(),
            ),
            "Session cancelled.",
            values,
        )

    @pages.post("/<id:session_id>/check-in")
    @requires(Permission.CHECK_IN)
    def check_in(session_id: str):
        values: dict[str, str] = {}
        reason, problems = override_reason("check_in_override", values)
        if problems:
            return page(session_id, status=422, errors=problems, values=values)
        return carry_out(
            session_id,
            "check_in",
            lambda: handlers.check_in(
                session_id, override_reason=reason, uow=uow_factory(), clinic=clinic, now=clock(), actor=actor()
            ),
            "Checked in" + (", the ride home's gate overridden." if reason else "."),
            values,
        )

    @pages.post("/<id:session_id>/start-treatment")
    @requires(Permission.START_TREATMENT)
    def start_treatment(session_id: str):
        values: dict[str, str] = {}
        reason, problems = override_reason("start_override", values)
        if reason is not None and not current_user.may(Permission.OVERRIDE_GATE):
            abort(403)
        if problems:
            return page(session_id, status=422, errors=problems, values=values)
        return carry_out(
            session_id,
            "start_treatment",
            lambda: handlers.start_treatment(
                session_id, override_reason=reason, uow=uow_factory(), clinic=clinic, now=clock(), actor=actor()
            ),
            "Treatment started.",
            values,
        )

    @pages.post("/<id:session_id>/checkpoints/<id:checkpoint_id>")
    @requires(Permission.MARK_CHECKPOINT)
    def mark_checkpoint(session_id: str, checkpoint_id: str):
        return carry_out(
            session_id,
            f"checkpoint:{checkpoint_id}",
            lambda: handlers.mark_checkpoint(
                session_id, checkpoint_id, uow=uow_factory(), clinic=clinic, now=clock(), actor=actor()
            ),
            "Checkpoint marked done.",
            {},
        )

    @pages.post("/<id:session_id>/discharge")
    @requires(Permission.DISCHARGE)
    def discharge(session_id: str):
        values: dict[str, str] = {}
        reason, problems = override_reason("discharge_override", values)
        if reason is not None and not current_user.may(Permission.OVERRIDE_GATE):
            abort(403)
        if problems:
            return page(session_id, status=422, errors=problems, values=values)
        return carry_out(
            session_id,
            "discharge",
            lambda: handlers.discharge(
                session_id,
                at=None,
                override_reason=reason,
                uow=uow_factory(),
                clinic=clinic,
                now=clock(),
                actor=actor(),
            ),
            "Discharged" + (", the discharge gate overridden." if reason else "."),
            values,
        )

    @pages.post("/<id:session_id>/no-show")
    @requires(Permission.RECORD_NO_SHOW)
    def no_show(session_id: str):
        return carry_out(
            session_id,
            "no_show",
            lambda: handlers.record_no_show(session_id, uow=uow_factory(), now=clock(), actor=actor()),
            "No-show recorded.",
            {},
        )

    return pages


def actor():
    return current_user.account.actor


def timeline(session: Session, history: list, treatment=None) -> list[Moment]:
    """What was done to the session (the audit trail: who, what) and what transport reported of the ride."""
    # The audit keeps a checkpoint's id; people read its label.
    labels = {checkpoint.id: checkpoint.label for checkpoint in (treatment.checkpoints if treatment else ())}
    moments = [
        Moment(
            entry.at,
            entry.action.value.replace("_", " ").capitalize(),
            entry.actor.name,
            labels.get(entry.detail, entry.detail) if entry.action.value == "checkpoint_done" else entry.detail,
        )
        for entry in history
    ]
    if not any(entry.action.value == "session_booked" for entry in history):
        moments.append(Moment(session.created_at, "Session booked"))
    if session.ride_status is not None and session.ride_status_at is not None:
        status = session.ride_status.value.replace("_", " ")
        moments.append(Moment(session.ride_status_at, f"Ride {status}", "transport"))
    if session.status is SessionStatus.CANCELLED and session.cancel_note:
        moments.append(
            Moment(session.cancelled_at or session.created_at, "Cancellation note", None, session.cancel_note)
        )
    return sorted(moments, key=lambda moment: moment.at)


def _when(instant: datetime, clinic: Clinic) -> str:
    local = instant.astimezone(clinic.time_zone)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"
