"""The scheduler's use cases. Each takes its dependencies as arguments and commits one unit of work."""
import uuid
from datetime import datetime

from .domain.clinic import Clinic
from .domain.errors import InvalidRequest, NotFound
from .domain.patients import ContactChannel, Patient
from .domain.sessions import BookingRequest, Session, book, chair_block


def new_id() -> str:
    return str(uuid.uuid4())


def register_patient(
    *, full_name: str, phone: str, email: str | None, preferred_channel: ContactChannel, uow, now: datetime
) -> Patient:
    patient = Patient(
        id=new_id(),
        full_name=full_name,
        phone=phone,
        email=email,
        preferred_channel=preferred_channel,
        created_at=now,
    )
    with uow:
        uow.patients.add(patient)
        uow.commit()
    return patient


def get_patient(patient_id: str, *, uow) -> Patient:
    with uow:
        patient = uow.patients.get(patient_id)
    if patient is None:
        raise NotFound("patient", patient_id)
    return patient


def book_session(request: BookingRequest, *, uow, clinic: Clinic, now: datetime) -> Session:
    starts_at, ends_at = chair_block(request, clinic, now=now)
    with uow:
        if uow.patients.get(request.patient_id) is None:
            raise InvalidRequest({"patient_id": ["No patient has this id."]})
        uow.sessions.lock_chairs((request.chair_id,) if request.chair_id else clinic.chairs)
        session, events = book(request, clinic=clinic, sessions_nearby=uow.sessions.overlapping(starts_at, ends_at), now=now)
        uow.sessions.add(session)
        uow.outbox.add(events)
        uow.commit()
    return session


def cancel_session(session_id: str, *, reason: str | None, uow, now: datetime) -> Session:
    with uow:
        session = uow.sessions.get(session_id)
        if session is None:
            raise NotFound("session", session_id)
        events = session.cancel(reason=reason, now=now)
        uow.sessions.save(session)
        uow.outbox.add(events)
        uow.commit()
    return session


def get_session(session_id: str, *, uow) -> Session:
    with uow:
        session = uow.sessions.get(session_id)
    if session is None:
        raise NotFound("session", session_id)
    return session
