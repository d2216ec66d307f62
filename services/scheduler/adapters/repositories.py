"""Patients and sessions in the scheduler's database."""
import zlib
from datetime import datetime

from sqlalchemy import Connection, insert, select, text, update

from ..domain.patients import ContactChannel, Patient
from ..domain.sessions import RideHome, RideHomeMode, Session, SessionStatus
from .tables import patients, sessions


class SqlPatientRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, patient: Patient) -> None:
        self._connection.execute(
            insert(patients).values(
                id=patient.id,
                full_name=patient.full_name,
                phone=patient.phone,
                email=patient.email,
                preferred_channel=patient.preferred_channel.value,
                created_at=patient.created_at,
            )
        )

    def get(self, patient_id: str) -> Patient | None:
        row = self._connection.execute(select(patients).where(patients.c.id == patient_id)).first()
        if row is None:
            return None
        return Patient(
            id=row.id,
            full_name=row.full_name,
            phone=row.phone,
            email=row.email,
            preferred_channel=ContactChannel(row.preferred_channel),
            created_at=row.created_at,
        )


class SqlSessionRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def lock_chairs(self, chair_ids: tuple[str, ...]) -> None:
        """Serialize bookings that compete for these chairs until the transaction ends.

        SQLite transactions are already serialized writers (BEGIN IMMEDIATE); PostgreSQL takes advisory locks.
        """
        if self._connection.dialect.name != "postgresql":
            return
        for chair in sorted(chair_ids):
            self._connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(f"chair:{chair}".encode())})

    def add(self, session: Session) -> None:
        self._connection.execute(insert(sessions).values(**_row_of(session)))

    def save(self, session: Session) -> None:
        self._connection.execute(update(sessions).where(sessions.c.id == session.id).values(**_row_of(session)))

    def get(self, session_id: str) -> Session | None:
        row = self._connection.execute(select(sessions).where(sessions.c.id == session_id)).first()
        return _session_of(row) if row else None

    def overlapping(self, starts_at: datetime, ends_at: datetime) -> list[Session]:
        rows = self._connection.execute(
            select(sessions).where(
                sessions.c.status == SessionStatus.BOOKED.value,
                sessions.c.starts_at < ends_at,
                sessions.c.recovery_ends_at > starts_at,
            )
        )
        return [_session_of(row) for row in rows]


def _row_of(session: Session) -> dict:
    return {
        "id": session.id,
        "patient_id": session.patient_id,
        "treatment_type": session.treatment_type,
        "chair_id": session.chair_id,
        "starts_at": session.starts_at,
        "treatment_ends_at": session.treatment_ends_at,
        "recovery_ends_at": session.recovery_ends_at,
        "status": session.status.value,
        "ride_home_mode": session.ride_home.mode.value,
        "escort_name": session.ride_home.escort_name,
        "escort_phone": session.ride_home.escort_phone,
        "created_at": session.created_at,
        "cancelled_at": session.cancelled_at,
        "cancel_reason": session.cancel_reason,
    }


def _session_of(row) -> Session:
    return Session(
        id=row.id,
        patient_id=row.patient_id,
        treatment_type=row.treatment_type,
        chair_id=row.chair_id,
        starts_at=row.starts_at,
        treatment_ends_at=row.treatment_ends_at,
        recovery_ends_at=row.recovery_ends_at,
        ride_home=RideHome(RideHomeMode(row.ride_home_mode), row.escort_name, row.escort_phone),
        status=SessionStatus(row.status),
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
    )
