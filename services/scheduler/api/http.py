"""Routes of the scheduler's JSON API."""
from datetime import datetime
from typing import Callable

from flask import Blueprint, jsonify, request

from shared.web import error_body, field_errors, json_body, refusal

from .. import handlers
from ..domain.clinic import Clinic
from ..domain.errors import InvalidRequest, NotFound, Refused
from ..domain.patients import Patient
from ..domain.sessions import NO_RIDE, BookingRequest, RideHome, RideHomeMode, Session
from .fields import local_time
from .schemas import CancelIn, PatientIn, SessionIn


def create_api(*, uow_factory: Callable, clinic: Clinic, clock: Callable[[], datetime]) -> Blueprint:
    api = Blueprint("scheduler_api", __name__)

    @api.errorhandler(InvalidRequest)
    def _invalid(exc: InvalidRequest):
        return field_errors(exc.errors)

    @api.errorhandler(Refused)
    def _refused(exc: Refused):
        return refusal(409, exc.reason, exc.message)

    @api.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return jsonify(error_body("_request", f"No {exc.what} has this id.")), 404

    @api.get("/clinic")
    def show_clinic():
        return jsonify(
            {
                "name": clinic.name,
                "time_zone": clinic.time_zone.key,
                "chairs": list(clinic.chairs),
                "treatment_types": [
                    {
                        "id": t.id,
                        "label": t.label,
                        "treatment_minutes": t.treatment_minutes,
                        "recovery_minutes": t.recovery_minutes,
                        "ride_home_required": t.ride_home_required,
                    }
                    for t in clinic.treatment_types.values()
                ],
            }
        )

    @api.post("/patients")
    def register_patient():
        body = json_body(PatientIn())
        patient = handlers.register_patient(
            full_name=body["name"],
            phone=body["phone"],
            email=body["email"],
            preferred_channel=body["preferred_channel"],
            uow=uow_factory(),
            now=clock(),
        )
        return jsonify(_patient_json(patient)), 201, {"Location": f"/api/patients/{patient.id}"}

    @api.get("/patients/<patient_id>")
    def show_patient(patient_id: str):
        return jsonify(_patient_json(handlers.get_patient(patient_id, uow=uow_factory())))

    @api.post("/sessions")
    def book_session():
        body = json_body(SessionIn())
        ride = body["ride_home"]
        booking = BookingRequest(
            session_id=handlers.new_id(),
            patient_id=body["patient_id"],
            treatment_type=body["treatment_type"],
            starts_at=body["starts_at"],
            chair_id=body["chair_id"],
            ride_home=RideHome(RideHomeMode(ride["mode"]), ride["escort_name"], ride["escort_phone"]) if ride else NO_RIDE,
        )
        session = handlers.book_session(booking, uow=uow_factory(), clinic=clinic, now=clock())
        return jsonify(_session_json(session, clinic)), 201, {"Location": f"/api/sessions/{session.id}"}

    @api.get("/sessions/<session_id>")
    def show_session(session_id: str):
        return jsonify(_session_json(handlers.get_session(session_id, uow=uow_factory()), clinic))

    @api.post("/sessions/<session_id>/cancel")
    def cancel_session(session_id: str):
        body = json_body(CancelIn()) if request.content_length else {"reason": None}
        session = handlers.cancel_session(session_id, reason=body["reason"], uow=uow_factory(), now=clock())
        return jsonify(_session_json(session, clinic))

    return api


def _patient_json(patient: Patient) -> dict:
    return {
        "id": patient.id,
        "name": patient.full_name,
        "phone": patient.phone,
        "email": patient.email,
        "preferred_channel": patient.preferred_channel.value,
    }


def _session_json(session: Session, clinic: Clinic) -> dict:
    tz = clinic.time_zone
    return {
        "id": session.id,
        "status": session.status.value,
        "patient_id": session.patient_id,
        "treatment_type": session.treatment_type,
        "chair_id": session.chair_id,
        "starts_at": local_time(session.starts_at, tz),
        "treatment_ends_at": local_time(session.treatment_ends_at, tz),
        "recovery_ends_at": local_time(session.recovery_ends_at, tz),
        "ride_home": {
            "mode": session.ride_home.mode.value,
            "escort_name": session.ride_home.escort_name,
            "escort_phone": session.ride_home.escort_phone,
        },
        "cancelled_at": local_time(session.cancelled_at, tz) if session.cancelled_at else None,
        "cancel_reason": session.cancel_reason,
    }
