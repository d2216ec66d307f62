"""Treatment sessions: a treatment followed by a recovery buffer in the same chair, and the events they cause."""
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Iterable

from shared.contract import SESSION_BOOKED, SESSION_CANCELLED, Event, new_event

from .clinic import Clinic, TreatmentType
from .errors import InvalidRequest, Refused


BOOKING_HORIZON = timedelta(days=366)


class SessionStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class RideHomeMode(StrEnum):
    ESCORT = "escort"
    NONE = "none"


@dataclass(frozen=True)
class RideHome:
    mode: RideHomeMode
    escort_name: str | None = None
    escort_phone: str | None = None


NO_RIDE = RideHome(RideHomeMode.NONE)


@dataclass
class Session:
    id: str
    patient_id: str
    treatment_type: str
    chair_id: str
    starts_at: datetime
    treatment_ends_at: datetime
    recovery_ends_at: datetime
    ride_home: RideHome
    status: SessionStatus
    created_at: datetime
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    def holds_chair_during(self, starts_at: datetime, ends_at: datetime) -> bool:
        """The chair is held from the start of treatment to the end of recovery."""
        return self.status is SessionStatus.BOOKED and self.starts_at < ends_at and starts_at < self.recovery_ends_at

    def cancel(self, *, reason: str | None, now: datetime) -> list[Event]:
        if self.status is not SessionStatus.BOOKED:
            raise Refused("not_cancellable", f"The session is {self.status.value} and cannot be cancelled.")
        self.status = SessionStatus.CANCELLED
        self.cancelled_at = now
        self.cancel_reason = reason
        return [
            new_event(
                SESSION_CANCELLED,
                {
                    "session_id": self.id,
                    "patient_id": self.patient_id,
                    "reason": reason,
                    "cancelled_at": now,
                },
                correlation_id=self.id,
            )
        ]


@dataclass(frozen=True)
class BookingRequest:
    session_id: str
    patient_id: str
    treatment_type: str
    starts_at: datetime
    ride_home: RideHome
    chair_id: str | None = None


def chair_block(request: BookingRequest, clinic: Clinic, *, now: datetime) -> tuple[datetime, datetime]:
    """From the start of treatment to the end of recovery: the time the chair is held."""
    treatment = _treatment_of(request, clinic)
    _within_horizon(request.starts_at, now)
    return request.starts_at, request.starts_at + treatment.treatment + treatment.recovery


def book(request: BookingRequest, *, clinic: Clinic, sessions_nearby: Iterable[Session], now: datetime) -> tuple[Session, list[Event]]:
    """Place a session in a free chair, or refuse; ``sessions_nearby`` must hold every session overlapping the block."""
    treatment = _treatment_of(request, clinic)
    ride_home = _ride_home_for(treatment, request.ride_home)
    _within_horizon(request.starts_at, now)
    treatment_ends_at = request.starts_at + treatment.treatment
    recovery_ends_at = treatment_ends_at + treatment.recovery
    chair_id = _free_chair(request, clinic, list(sessions_nearby), request.starts_at, recovery_ends_at)
    session = Session(
        id=request.session_id,
        patient_id=request.patient_id,
        treatment_type=treatment.id,
        chair_id=chair_id,
        starts_at=request.starts_at,
        treatment_ends_at=treatment_ends_at,
        recovery_ends_at=recovery_ends_at,
        ride_home=ride_home,
        status=SessionStatus.BOOKED,
        created_at=now,
    )
    return session, [_booked_event(session)]


def _within_horizon(starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise InvalidRequest({"starts_at": ["Sessions can only be booked in the future."]})
    if starts_at - now > BOOKING_HORIZON:
        raise InvalidRequest({"starts_at": [f"Sessions can be booked at most {BOOKING_HORIZON.days} days ahead."]})


def _treatment_of(request: BookingRequest, clinic: Clinic) -> TreatmentType:
    treatment = clinic.treatment_type(request.treatment_type)
    if treatment is None:
        known = ", ".join(sorted(clinic.treatment_types))
        raise InvalidRequest({"treatment_type": [f"Unknown treatment type; choose one of: {known}."]})
    if request.chair_id is not None and request.chair_id not in clinic.chairs:
        raise InvalidRequest({"chair_id": [f"Unknown chair; the clinic has: {', '.join(clinic.chairs)}."]})
    return treatment


def _ride_home_for(treatment: TreatmentType, ride_home: RideHome) -> RideHome:
    if not treatment.ride_home_required:
        return NO_RIDE
    if ride_home.mode is RideHomeMode.NONE:
        raise InvalidRequest(
            {"ride_home": [f"A {treatment.label} needs a confirmed ride home: nobody may drive after treatment."]}
        )
    return ride_home


def _free_chair(request: BookingRequest, clinic: Clinic, nearby: list[Session], starts_at: datetime, ends_at: datetime) -> str:
    candidates = (request.chair_id,) if request.chair_id else clinic.chairs
    for chair in candidates:
        if not any(s.chair_id == chair and s.holds_chair_during(starts_at, ends_at) for s in nearby):
            return chair
    if request.chair_id:
        raise Refused("chair_unavailable", f"Chair {request.chair_id} is taken for part of that treatment and recovery.")
    raise Refused("no_chair_available", "Every chair is taken for part of that treatment and recovery.")


def _booked_event(session: Session) -> Event:
    return new_event(
        SESSION_BOOKED,
        {
            "session_id": session.id,
            "patient_id": session.patient_id,
            "treatment_type": session.treatment_type,
            "starts_at": session.starts_at,
            "treatment_ends_at": session.treatment_ends_at,
            "recovery_ends_at": session.recovery_ends_at,
            "chair_id": session.chair_id,
            "ride_home_mode": session.ride_home.mode.value,
        },
        correlation_id=session.id,
    )
