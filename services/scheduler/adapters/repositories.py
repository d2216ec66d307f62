"""Patients, sessions, their checkpoints, series and idempotency keys in the scheduler's database."""

import zlib
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import date, datetime

from sqlalchemy import Connection, exists, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from shared.redaction import describe

from ..domain.checkpoints import CheckpointMark
from ..domain.clinic import LONGEST_BLOCK
from ..domain.errors import ConcurrentChange
from ..domain.patients import ContactChannel, IntakeAssessment, Language, Patient
from ..domain.rides import RideStatus
from ..domain.schedule import BookedBlock, Occupancy
from ..domain.sessions import HOLDING_STATUSES, CancelReason, RideHome, RideHomeMode, Session, SessionStatus
from .tables import idempotency_keys, intake_assessments, patients, series, session_checkpoints, sessions

HOLDING = [status.value for status in HOLDING_STATUSES]
# Advisory locks on clinic days use the two-key form, whose key space is apart from the patients' one-key locks.
DAY_LOCKS = 0x5C4D


class SqlPatientRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, patient: Patient) -> None:
        self._connection.execute(insert(patients).values(**_patient_row(patient)))

    def save(self, patient: Patient) -> None:
        self._connection.execute(update(patients).where(patients.c.id == patient.id).values(**_patient_row(patient)))

    def get(self, patient_id: str) -> Patient | None:
        row = self._connection.execute(select(patients).where(patients.c.id == patient_id)).first()
        return _patient_of(row) if row else None

    def get_for_update(self, patient_id: str) -> Patient | None:
        """The patient, their row locked until the transaction ends, so that two changes to them run one after the
        other and neither undoes the other's fields (PostgreSQL; SQLite's writers are serialized already).

        FOR NO KEY UPDATE: a booking's foreign-key check on the patient (FOR KEY SHARE) does not wait for it.
        """
        query = select(patients).where(patients.c.id == patient_id).with_for_update(key_share=True)
        row = self._connection.execute(query).first()
        return _patient_of(row) if row else None

    def lock(self, patient_id: str) -> None:
        """Serialize changes to one patient's sessions (the spacing and intake rules) until the transaction ends.

        SQLite transactions are already serialized writers (BEGIN IMMEDIATE); PostgreSQL takes an advisory lock.
        """
        if self._connection.dialect.name == "postgresql":
            key = zlib.crc32(f"patient:{patient_id}".encode())
            self._connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def add_intake(self, intake: IntakeAssessment) -> None:
        self._connection.execute(insert(intake_assessments).values(**intake.__dict__))

    def intake_completed(self, patient_id: str, *, by: datetime) -> bool:
        query = select(
            exists().where(intake_assessments.c.patient_id == patient_id, intake_assessments.c.completed_at <= by)
        )
        return bool(self._connection.execute(query).scalar())

    def latest_intake(self, patient_id: str) -> IntakeAssessment | None:
        row = self._connection.execute(
            select(intake_assessments)
            .where(intake_assessments.c.patient_id == patient_id)
            .order_by(intake_assessments.c.completed_at.desc())
            .limit(1)
        ).first()
        return IntakeAssessment(**row._mapping) if row else None

    # The front desk's pages: finding a patient by name or phone, and the names behind a board's initials.

    def search(self, wanted: str, *, limit: int) -> list[Patient]:
        """Patients whose name or phone contains ``wanted``, ignoring case (and, for a phone, spaces and hyphens)."""
        from sqlalchemy import func, or_

        digits = "".join(c for c in wanted if c.isdigit())
        bare_phone = func.replace(func.replace(patients.c.phone, " ", ""), "-", "")
        matches = [func.lower(patients.c.full_name).contains(wanted.lower(), autoescape=True)]
        matches.append(patients.c.phone.contains(wanted, autoescape=True))
        if digits:
            matches.append(bare_phone.contains(digits, autoescape=True))
        query = select(patients).where(or_(*matches)).order_by(patients.c.full_name, patients.c.id).limit(limit)
        return [_patient_of(row) for row in self._connection.execute(query)]

    def names(self, patient_ids: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(patient_ids))
        if not wanted:
            return {}
        query = select(patients.c.id, patients.c.full_name).where(patients.c.id.in_(wanted))
        return {row.id: row.full_name for row in self._connection.execute(query)}


class SqlSessionRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, session: Session) -> None:
        with _conflicts_as_concurrent_change():
            self._connection.execute(insert(sessions).values(**_row_of(session)))

    def save(self, session: Session) -> None:
        with _conflicts_as_concurrent_change():
            self._connection.execute(update(sessions).where(sessions.c.id == session.id).values(**_row_of(session)))

    def get(self, session_id: str) -> Session | None:
        row = self._connection.execute(select(sessions).where(sessions.c.id == session_id)).first()
        return _session_of(row) if row else None

    def get_for_update(self, session_id: str) -> Session | None:
        """The session, its row locked until the transaction ends: changes to one session run one after another.

        Without the lock, two changes under PostgreSQL's READ COMMITTED both read the same state and the later
        write wins (a cancel overwritten by a reschedule). With it, the second waits here and then reads what the
        first stored, so the transition table judges it against that. SQLite needs no lock (its writers are
        serialized by BEGIN IMMEDIATE) and SQLAlchemy writes no FOR UPDATE there. Take this lock before the
        patient's and the days' advisory locks, always in that order, so that no two changes deadlock.
        """
        query = select(sessions).where(sessions.c.id == session_id).with_for_update()
        row = self._connection.execute(query).first()
        return _session_of(row) if row else None

    def lock_days(self, days: Iterable[date]) -> None:
        """Serialize bookings on the same clinic days until the transaction ends (PostgreSQL; SQLite's writers
        are serialized already).

        The exclusion constraints remain the guarantee. Without this lock, concurrent bookings of one start each
        read the same free chair, then wait on, deadlock with and run again after one another. Days are locked in
        order, so two series cannot deadlock on them.
        """
        if self._connection.dialect.name != "postgresql":
            return
        for day in sorted(set(days)):
            self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:space, :day)"), {"space": DAY_LOCKS, "day": day.toordinal()}
            )

    def occupancy_between(self, starts_at: datetime, ends_at: datetime) -> list[Occupancy]:
        """What holding sessions occupy between two instants: the input of a ``Schedule``."""
        query = select(*_OCCUPANCY_COLUMNS).where(
            sessions.c.status.in_(HOLDING),
            sessions.c.starts_at < ends_at,
            sessions.c.starts_at > starts_at - LONGEST_BLOCK,
            sessions.c.chair_free_at > starts_at,
        )
        return list(map(Occupancy._make, self._connection.execute(query).all()))

    def blocks_of_patient(self, patient_id: str) -> list[BookedBlock]:
        query = select(*_BLOCK_COLUMNS).where(sessions.c.patient_id == patient_id, sessions.c.status.in_(HOLDING))
        return list(map(BookedBlock._make, self._connection.execute(query).all()))

    def of_patient(self, patient_id: str) -> list[Session]:
        rows = self._connection.execute(
            select(sessions).where(sessions.c.patient_id == patient_id).order_by(sessions.c.starts_at)
        )
        return [_session_of(row) for row in rows]

    def between(self, starts_at: datetime, ends_at: datetime) -> list[Session]:
        rows = self._connection.execute(
            select(sessions)
            .where(sessions.c.starts_at >= starts_at, sessions.c.starts_at < ends_at)
            .order_by(sessions.c.starts_at, sessions.c.chair_id)
        )
        return [_session_of(row) for row in rows]

    # The front desk's session page: what was done to the session, by whom, from the audit trail.

    def history(self, session_id: str, *, limit: int) -> list:
        """The audit trail's entries about this session, oldest first."""
        from ..domain.audit import AuditAction, AuditEntry
        from ..domain.staff import Actor
        from .tables import audit_entries

        query = (
            select(audit_entries)
            .where(audit_entries.c.subject_id == session_id)
            .order_by(audit_entries.c.at, audit_entries.c.id)
            .limit(limit)
        )
        return [
            AuditEntry(
                at=row.at,
                actor=Actor(id=row.actor_id, name=row.actor_name),
                action=AuditAction(row.action),
                subject_id=row.subject_id,
                detail=row.detail,
            )
            for row in self._connection.execute(query)
        ]


class SqlCheckpointRepository:
    """The monitoring checkpoints marked done, per session."""

    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, mark: CheckpointMark) -> None:
        with _conflicts_as_concurrent_change():
            self._connection.execute(insert(session_checkpoints).values(**mark.__dict__))

    def done(self, session_id: str) -> dict[str, CheckpointMark]:
        """The session's checkpoints marked done, by checkpoint id."""
        return self.done_for([session_id]).get(session_id, {})

    def done_for(self, session_ids: Iterable[str]) -> dict[str, dict[str, CheckpointMark]]:
        """The checkpoints marked done of each of the sessions, by session id, then checkpoint id."""
        ids = list(set(session_ids))
        marks: dict[str, dict[str, CheckpointMark]] = {}
        # In chunks: a day's board is a few dozen sessions, but a listing may hold more ids than a statement takes.
        for chunk in (ids[index : index + 500] for index in range(0, len(ids), 500)):
            rows = self._connection.execute(
                select(session_checkpoints).where(session_checkpoints.c.session_id.in_(chunk))
            )
            for row in rows:
                marks.setdefault(row.session_id, {})[row.checkpoint_id] = CheckpointMark(**row._mapping)
        return marks


class SqlSeriesRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, *, series_id: str, patient_id: str, treatment_type: str, count: int, within_days: int, now: datetime):
        self._connection.execute(
            insert(series).values(
                id=series_id,
                patient_id=patient_id,
                treatment_type=treatment_type,
                session_count=count,
                within_days=within_days,
                created_at=now,
            )
        )

    def sessions_of(self, series_id: str) -> list[Session] | None:
        if self._connection.execute(select(series.c.id).where(series.c.id == series_id)).first() is None:
            return None
        rows = self._connection.execute(
            select(sessions).where(sessions.c.series_id == series_id).order_by(sessions.c.starts_at)
        )
        return [_session_of(row) for row in rows]


class SqlIdempotencyKeys:
    """Keys of requests already carried out, claimed in the same transaction as their effect."""

    def __init__(self, connection: Connection):
        self._connection = connection

    def find(self, operation: str, key: str) -> tuple[str, str | None] | None:
        """(fingerprint, resource id) of the request first made with this key, if any."""
        row = self._connection.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.resource_id).where(
                idempotency_keys.c.operation == operation, idempotency_keys.c.key == key
            )
        ).first()
        return (row.fingerprint, row.resource_id) if row else None

    def claim(self, operation: str, key: str, fingerprint: str, now: datetime) -> None:
        """Claim the key first, so that a concurrent duplicate waits for this transaction and then finds it."""
        with _conflicts_as_concurrent_change():
            self._connection.execute(
                insert(idempotency_keys).values(operation=operation, key=key, fingerprint=fingerprint, created_at=now)
            )

    def settle(self, operation: str, key: str, resource_id: str) -> None:
        self._connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.operation == operation, idempotency_keys.c.key == key)
            .values(resource_id=resource_id)
        )


# unique violation, exclusion violation, deadlock, serialization failure
LOST_RACE_STATES = {"23505", "23P01", "40P01", "40001"}


@contextmanager
def _conflicts_as_concurrent_change():
    """A write refused because another transaction won the race; the use case may run again.

    Two bookings that each insert first and then wait on the other's row under a different constraint (chair and
    clinician) deadlock; PostgreSQL aborts one of them, and that one simply runs again.
    """
    try:
        yield
    except DBAPIError as exc:
        lost_race = getattr(exc.orig, "sqlstate", None) in LOST_RACE_STATES
        sqlite_trigger = isinstance(exc, IntegrityError) and "not_double_booked" in str(exc.orig)
        if lost_race or sqlite_trigger:
            # PostgreSQL's message carries the conflicting row's values (DETAIL): name the failure only.
            raise ConcurrentChange(describe(exc)) from exc
        raise


_OCCUPANCY_COLUMNS = tuple(sessions.c[name] if name != "session_id" else sessions.c.id for name in Occupancy._fields)
_BLOCK_COLUMNS = (
    sessions.c.id,
    sessions.c.patient_id,
    sessions.c.treatment_type,
    sessions.c.chair_id,
    sessions.c.clinician_id,
    sessions.c.starts_at,
    sessions.c.treatment_ends_at,
    sessions.c.recovery_ends_at,
    sessions.c.chair_free_at,
)


def _patient_row(patient: Patient) -> dict:
    return {
        "id": patient.id,
        "full_name": patient.full_name,
        "phone": patient.phone,
        "email": patient.email,
        "preferred_channel": patient.preferred_channel.value,
        "created_at": patient.created_at,
        "language": patient.language.value,
        "reminders_opt_out": patient.reminders_opt_out,
    }


def _patient_of(row) -> Patient:
    return Patient(
        id=row.id,
        full_name=row.full_name,
        phone=row.phone,
        email=row.email,
        preferred_channel=ContactChannel(row.preferred_channel),
        created_at=row.created_at,
        language=Language(row.language),
        reminders_opt_out=bool(row.reminders_opt_out),
    )


def _row_of(session: Session) -> dict:
    return {
        "id": session.id,
        "patient_id": session.patient_id,
        "treatment_type": session.treatment_type,
        "chair_id": session.chair_id,
        "clinician_id": session.clinician_id,
        "starts_at": session.starts_at,
        "treatment_ends_at": session.treatment_ends_at,
        "recovery_ends_at": session.recovery_ends_at,
        "chair_free_at": session.chair_free_at,
        "status": session.status.value,
        "ride_home_mode": session.ride_home.mode.value,
        "escort_name": session.ride_home.escort_name,
        "escort_phone": session.ride_home.escort_phone,
        "dropoff_address": session.ride_home.dropoff_address,
        "series_id": session.series_id,
        "created_at": session.created_at,
        "checked_in_at": session.checked_in_at,
        "treatment_started_at": session.treatment_started_at,
        "discharged_at": session.discharged_at,
        "no_show_recorded_at": session.no_show_recorded_at,
        "cancelled_at": session.cancelled_at,
        "cancel_reason": session.cancel_reason.value if session.cancel_reason else None,
        "cancel_note": session.cancel_note,
        "late_cancellation": session.late_cancellation,
        "ride_status": session.ride_status.value if session.ride_status else None,
        "ride_status_at": session.ride_status_at,
        "check_in_override_reason": session.check_in_override_reason,
        "booked_starts_at": session.booked_starts_at,
        "start_override_reason": session.start_override_reason,
        "discharge_override_reason": session.discharge_override_reason,
    }


def _session_of(row) -> Session:
    return Session(
        id=row.id,
        patient_id=row.patient_id,
        treatment_type=row.treatment_type,
        chair_id=row.chair_id,
        clinician_id=row.clinician_id,
        starts_at=row.starts_at,
        treatment_ends_at=row.treatment_ends_at,
        recovery_ends_at=row.recovery_ends_at,
        chair_free_at=row.chair_free_at,
        ride_home=RideHome(RideHomeMode(row.ride_home_mode), row.escort_name, row.escort_phone, row.dropoff_address),
        status=SessionStatus(row.status),
        created_at=row.created_at,
        series_id=row.series_id,
        checked_in_at=row.checked_in_at,
        treatment_started_at=row.treatment_started_at,
        discharged_at=row.discharged_at,
        no_show_recorded_at=row.no_show_recorded_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=_cancel_reason(row.cancel_reason),
        cancel_note=row.cancel_note,
        late_cancellation=row.late_cancellation,
        ride_status=RideStatus(row.ride_status) if row.ride_status else None,
        ride_status_at=row.ride_status_at,
        check_in_override_reason=row.check_in_override_reason,
        booked_starts_at=row.booked_starts_at,
        start_override_reason=row.start_override_reason,
        discharge_override_reason=row.discharge_override_reason,
    )


def _cancel_reason(stored: str | None) -> CancelReason | None:
    if stored is None:
        return None
    try:
        return CancelReason(stored)
    except ValueError:  # free text written before reasons became codes
        return CancelReason.OTHER
