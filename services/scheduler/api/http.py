"""Routes of the scheduler's JSON API: translate HTTP to use cases and back, nothing more."""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError

from shared.web import error_body, field_errors, json_body, query_args
from shared.web.auth import api_caller
from shared.web.openapi import operation

from .. import handlers
from ..domain.clinic import END_OF_DAY, WEEKDAYS, Clinic, WeeklyHours
from ..domain.errors import ConcurrentChange, InvalidRequest, NotFound, Refused
from ..domain.series import SeriesRequest
from ..domain.sessions import NO_RIDE, BookingRequest, RideHome, RideHomeMode, Session
from . import schemas
from .calendar import session_calendar
from .fields import CLINIC_ZONE
from .openapi import BOOKED_HEADERS, CREATED_HEADERS, IDEMPOTENCY_KEY, SCHEDULING_RULES

REFUSED = {"409": "Refused"}
SESSION_STEP = {"ok": (200, schemas.SessionOut), "errors": (404, 422), "responses": REFUSED}

IDEMPOTENCY_KEY_LENGTH = 255


def create_api(*, uow_factory: Callable, clinic: Clinic, clock: Callable[[], datetime]) -> Blueprint:
    api = Blueprint("scheduler_api", __name__)

    def dump(schema_class, value) -> dict:
        token = CLINIC_ZONE.set(clinic.time_zone)
        try:
            return schema_class().dump(value)
        finally:
            CLINIC_ZONE.reset(token)

    def session_documents(sessions: list[Session]) -> list[dict]:
        """Each session with its checkpoints, their statuses judged now, and its earliest discharge."""
        checkpoints = handlers.checkpoints_of(sessions, uow=uow_factory(), clinic=clinic, now=clock())
        return [
            {**vars(s), "earliest_discharge_at": s.earliest_discharge(clinic), "checkpoints": checkpoints[s.id]}
            for s in sessions
        ]

    def session_reply(session: Session, status: int = 200, **headers):
        [document] = session_documents([session])
        return jsonify(dump(schemas.SessionOut, document)), status, headers

    @api.errorhandler(InvalidRequest)
    def _invalid(exc: InvalidRequest):
        return field_errors(exc.errors)

    @api.errorhandler(Refused)
    def _refused(exc: Refused):
        if exc.details:
            body = dump(schemas.SeriesRefusalOut, {"reason": exc.reason, "message": exc.message, **exc.details})
            return jsonify(body), 409
        return jsonify({"reason": exc.reason, "message": exc.message}), 409

    @api.errorhandler(ConcurrentChange)
    def _concurrent(_exc: ConcurrentChange):
        message = "The schedule changed while this request was handled, again and again; please try once more."
        return jsonify({"reason": "concurrent_change", "message": message}), 409

    @api.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return jsonify(error_body("_request", f"No {exc.what} has this id.")), 404

    @api.get("/clinic")
    @operation("The configuration in force", ok=(200, schemas.ClinicOut))
    def show_clinic():
        return jsonify(dump(schemas.ClinicOut, _clinic_document(clinic)))

    @api.post("/patients")
    @operation("Register a patient", ok=(201, schemas.PatientOut), body=schemas.PatientIn, ok_headers=CREATED_HEADERS)
    def register_patient():
        body = json_body(schemas.PatientIn())
        patient = handlers.register_patient(
            full_name=body["name"],
            phone=body["phone"],
            email=body["email"],
            preferred_channel=body["preferred_channel"],
            language=body["language"],
            reminders_opt_out=body["reminders_opt_out"],
            uow=uow_factory(),
            now=clock(),
        )
        return (
            jsonify(dump(schemas.PatientOut, _patient_document(patient, None))),
            201,
            {"Location": f"/api/patients/{patient.id}"},
        )

    @api.get("/patients/<id:patient_id>")
    @operation("A patient and their intake", ok=(200, schemas.PatientOut), errors=(404,))
    def show_patient(patient_id: str):
        patient, intake = handlers.get_patient(patient_id, uow=uow_factory())
        return jsonify(dump(schemas.PatientOut, _patient_document(patient, intake)))

    @api.patch("/patients/<id:patient_id>")
    @operation(
        "Change how a patient is reached",
        description="Changes only the fields given, at least one. A patient whose preferred_channel is then email "
        "needs an e-mail address (422 on `email`). Reminders and the follow-up respect `reminders_opt_out`; safety "
        "messages (preparation with the no-driving rule, the ride home) are sent regardless.",
        ok=(200, schemas.PatientOut),
        body=schemas.PatientChangesIn,
        errors=(404,),
    )
    def change_patient(patient_id: str):
        changes = json_body(schemas.PatientChangesIn())
        patient, intake = handlers.change_contact_preferences(patient_id, changes, uow=uow_factory())
        return jsonify(dump(schemas.PatientOut, _patient_document(patient, intake)))

    @api.post("/patients/<id:patient_id>/intake")
    @operation(
        "Record an intake assessment done elsewhere",
        description="`completed_at` must not be ahead of now (422).",
        ok=(201, schemas.IntakeOut),
        body=schemas.IntakeIn,
        errors=(404,),
    )
    def record_intake(patient_id: str):
        body = json_body(schemas.IntakeIn())
        intake = handlers.record_intake(
            patient_id,
            completed_at=body["completed_at"],
            recorded_by=body["recorded_by"],
            uow=uow_factory(),
            now=clock(),
        )
        return jsonify(dump(schemas.IntakeOut, intake)), 201

    @api.get("/availability")
    @operation(
        "Start times a booking would accept",
        description="`to` must be after `from`, at most 62 days later (422). " + SCHEDULING_RULES,
        ok=(200, schemas.AvailabilityOut),
        query=schemas.AvailabilityQuery,
        errors=(422,),
    )
    def availability():
        query = query_args(schemas.AvailabilityQuery())
        placements = handlers.availability(
            query["treatment_type"],
            window_from=query["from_"],
            window_to=query["to"],
            patient_id=query["patient_id"],
            chair_id=query["chair_id"],
            clinician_id=query["clinician_id"],
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
        )
        document = {"treatment_type": query["treatment_type"], "time_zone": clinic.time_zone.key, "slots": placements}
        return jsonify(dump(schemas.AvailabilityOut, document))

    @api.get("/sessions")
    @operation(
        "Sessions starting in a window",
        description="`to` must be after `from`, at most 62 days later (422).",
        ok=(200, schemas.SessionListOut),
        query=schemas.WindowQuery,
        errors=(422,),
    )
    def list_sessions():
        query = query_args(schemas.WindowQuery())
        sessions = handlers.list_sessions(window_from=query["from_"], window_to=query["to"], uow=uow_factory())
        return jsonify(dump(schemas.SessionListOut, {"sessions": session_documents(sessions)}))

    @api.post("/sessions")
    @operation(
        "Book a session",
        description=SCHEDULING_RULES,
        ok=(201, schemas.SessionOut),
        body=schemas.SessionIn,
        headers=(IDEMPOTENCY_KEY,),
        ok_headers=BOOKED_HEADERS,
        responses=REFUSED,
    )
    def book_session():
        body = json_body(schemas.SessionIn())
        booking = BookingRequest(
            session_id=handlers.new_id(),
            patient_id=body["patient_id"],
            treatment_type=body["treatment_type"],
            starts_at=body["starts_at"],
            chair_id=body["chair_id"],
            clinician_id=body["clinician_id"],
            ride_home=_ride_home(body["ride_home"]),
        )
        session, replayed = handlers.book_session(
            booking, uow=uow_factory(), clinic=clinic, now=clock(), idempotency=_idempotency_key(), actor=api_caller()
        )
        return session_reply(session, 201, **_created(f"/api/sessions/{session.id}", replayed))

    @api.get("/sessions/<id:session_id>")
    @operation("A session", ok=(200, schemas.SessionOut), errors=(404,))
    def show_session(session_id: str):
        return session_reply(handlers.get_session(session_id, uow=uow_factory()))

    @api.get("/sessions/<id:session_id>.ics")
    @operation(
        "The patient's calendar entry, from arrival to pickup",
        ok=(200, {"text/calendar": {"schema": {"type": "string"}}}),
        errors=(404,),
    )
    def session_ics(session_id: str):
        session = handlers.get_session(session_id, uow=uow_factory())
        return Response(
            session_calendar(session, clinic),
            mimetype="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="session-{session.id}.ics"'},
        )

    @api.post("/sessions/<id:session_id>/reschedule")
    @operation("Move the session", description=SCHEDULING_RULES, body=schemas.RescheduleIn, **SESSION_STEP)
    def reschedule_session(session_id: str):
        body = json_body(schemas.RescheduleIn())
        session = handlers.reschedule_session(
            session_id,
            starts_at=body["starts_at"],
            chair_id=body["chair_id"],
            clinician_id=body["clinician_id"],
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
            actor=api_caller(),
        )
        return session_reply(session)

    @api.post("/sessions/<id:session_id>/cancel")
    @operation("Cancel, with a reason", body=schemas.CancelIn, **SESSION_STEP)
    def cancel_session(session_id: str):
        body = json_body(schemas.CancelIn())
        session = handlers.cancel_session(
            session_id,
            reason=body["reason"],
            note=body["note"],
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
            actor=api_caller(),
        )
        return session_reply(session)

    @api.post("/sessions/<id:session_id>/check-in")
    @operation(
        "The patient arrived",
        description="Refused (409, `ride_not_confirmed`) while the treatment needs a ride home and transport has not "
        "reported it confirmed, unless `override_reason` says why the patient is checked in anyway.",
        body=schemas.CheckInIn,
        body_required=False,
        **SESSION_STEP,
    )
    def check_in(session_id: str):
        body = json_body(schemas.CheckInIn()) if request.content_length else {"override_reason": None}
        session = handlers.check_in(
            session_id,
            override_reason=body["override_reason"],
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
            actor=api_caller(),
        )
        return session_reply(session)

    @api.post("/sessions/<id:session_id>/start-treatment")
    @operation(
        "Treatment started",
        description="Refused (409) before check-in (`transition_not_allowed`), more than the clinic's "
        "`earliest_start_minutes_before` before the booked start (`too_early_to_start`), while a checkpoint before "
        "treatment is open unless `override_reason` says why (`checkpoint_open`), or when the times the actual start "
        "moves the session to take the chair (with its turnover) or the clinician from another session "
        "(`chair_busy_if_started_now`, `clinician_busy_if_started_now`). Treatment end, recovery end (the pickup) and "
        "the chair's turnover follow the actual start; `booked_starts_at` keeps the booked one.",
        body=schemas.StartTreatmentIn,
        body_required=False,
        **SESSION_STEP,
    )
    def start_treatment(session_id: str):
        body = json_body(schemas.StartTreatmentIn()) if request.content_length else {"override_reason": None}
        session = handlers.start_treatment(
            session_id,
            override_reason=body["override_reason"],
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
            actor=api_caller(),
        )
        return session_reply(session)

    @api.post("/sessions/<id:session_id>/checkpoints/<id:checkpoint_id>")
    @operation(
        "A clinician did a monitoring checkpoint",
        description="Marks the checkpoint done now, recording who. 404 for a checkpoint the session's treatment does "
        "not have. Refused (409) when already done (`checkpoint_already_done`), out of its step "
        "(`checkpoint_not_now`: one before treatment while checked in, the others during treatment) or more than 10 "
        "minutes before it is due (`checkpoint_not_due`).",
        **SESSION_STEP,
    )
    def mark_checkpoint(session_id: str, checkpoint_id: str):
        session = handlers.mark_checkpoint(
            session_id, checkpoint_id, uow=uow_factory(), clinic=clinic, now=clock(), actor=api_caller()
        )
        return session_reply(session)

    @api.post("/sessions/<id:session_id>/discharge")
    @operation(
        "The clinician released the patient",
        description="`discharged_at` must not be ahead of now nor before treatment started (422). Refused (409) "
        "before the treatment's minimum monitoring after the treatment is over (`monitoring_not_complete`) or while a "
        "checkpoint is open (`checkpoint_open`), naming what is missing, unless `override_reason` says why.",
        body=schemas.DischargeIn,
        body_required=False,
        **SESSION_STEP,
    )
    def discharge(session_id: str):
        body = (
            json_body(schemas.DischargeIn())
            if request.content_length
            else {"discharged_at": None, "override_reason": None}
        )
        session = handlers.discharge(
            session_id,
            at=body["discharged_at"],
            override_reason=body["override_reason"],
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
            actor=api_caller(),
        )
        return session_reply(session)

    @api.post("/sessions/<id:session_id>/no-show")
    @operation("The patient did not come", **SESSION_STEP)
    def record_no_show(session_id: str):
        return session_reply(handlers.record_no_show(session_id, uow=uow_factory(), now=clock(), actor=api_caller()))

    @api.post("/series")
    @operation(
        "Book an induction series, all or nothing",
        description="`count` must not exceed `within_days` (422). " + SCHEDULING_RULES,
        ok=(201, schemas.SeriesOut),
        body=schemas.SeriesIn,
        headers=(IDEMPOTENCY_KEY,),
        ok_headers=BOOKED_HEADERS,
        responses={
            "409": {
                "description": "Not booked: a clinic rule refused, or (`series_not_placeable`) not every session "
                "fits; then the sessions that fit and the nearest alternatives for the rest.",
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/RefusalOut"},
                                {"$ref": "#/components/schemas/SeriesRefusalOut"},
                            ]
                        }
                    }
                },
            }
        },
    )
    def book_series():
        body = json_body(schemas.SeriesIn())
        series_id, sessions, replayed = handlers.book_series(
            SeriesRequest(body["treatment_type"], body["first_starts_at"], body["count"], body["within_days"]),
            patient_id=body["patient_id"],
            ride_home=_ride_home(body["ride_home"]),
            uow=uow_factory(),
            clinic=clinic,
            now=clock(),
            idempotency=_idempotency_key(),
            actor=api_caller(),
        )
        document = dump(schemas.SeriesOut, {"id": series_id, "sessions": session_documents(sessions)})
        return jsonify(document), 201, _created(f"/api/series/{series_id}", replayed)

    @api.get("/series/<id:series_id>")
    @operation("A series and its sessions", ok=(200, schemas.SeriesOut), errors=(404,))
    def show_series(series_id: str):
        sessions = handlers.get_series(series_id, uow=uow_factory())
        return jsonify(dump(schemas.SeriesOut, {"id": series_id, "sessions": session_documents(sessions)}))

    return api


def _ride_home(body: dict | None) -> RideHome:
    if not body:
        return NO_RIDE
    return RideHome(
        RideHomeMode(body["mode"]),
        escort_name=body.get("escort_name"),
        escort_phone=body.get("escort_phone"),
        dropoff_address=body.get("dropoff_address"),
    )


def _idempotency_key() -> handlers.IdempotencyKey | None:
    """The request's Idempotency-Key with a fingerprint of its body, so a reused key cannot book something else."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError({"Idempotency-Key": [f"Use 1 to {IDEMPOTENCY_KEY_LENGTH} printable ASCII characters."]})
    canonical = json.dumps(request.get_json(silent=True), sort_keys=True, separators=(",", ":"))
    return handlers.IdempotencyKey(key, hashlib.sha256(canonical.encode()).hexdigest())


def _created(location: str, replayed: bool) -> dict:
    headers = {"Location": location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


def _patient_document(patient, intake) -> dict:
    return {**patient.__dict__, "intake": intake}


def _clinic_document(clinic: Clinic) -> dict:
    return {
        "name": clinic.name,
        "address": clinic.address,
        "time_zone": clinic.time_zone.key,
        "slot_minutes": clinic.slot_minutes,
        "late_cancellation_hours": clinic.late_cancellation_hours,
        "arrival_minutes_before": clinic.arrival_minutes_before,
        "chairs": list(clinic.chairs),
        "opening_hours": _hours_document(clinic.opening_hours),
        "closed_on": sorted(clinic.closed_on),
        "clinicians": [
            {"id": c.id, "name": c.name, "working_hours": _hours_document(c.working_hours)} for c in clinic.clinicians
        ],
        "treatment_types": list(clinic.treatment_types.values()),
    }


def _hours_document(hours: WeeklyHours) -> dict[str, list[str]]:
    return {
        day: [f"{opens:%H:%M}-{'24:00' if closes == END_OF_DAY else f'{closes:%H:%M}'}" for opens, closes in intervals]
        for day, intervals in zip(WEEKDAYS, hours.days, strict=False)
    }
