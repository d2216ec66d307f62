"""Monitoring checkpoints: when each of a treatment's checkpoints is due for one session, and where it stands now.

A checkpoint is open until a clinician marks it done. It is due at a moment of the session (before treatment: the
start; before discharge: the end of the minimum monitoring) or some minutes after treatment started, and counts as
due from ``DUE_WINDOW`` before that time until ``DUE_WINDOW`` after it; later it is overdue. A mark records when and
by whom (a staff member's username, or the service), never anything about the patient.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from .clinic import Checkpoint, CheckpointMoment, TreatmentType

DUE_WINDOW = timedelta(minutes=10)


class CheckpointStatus(StrEnum):
    PENDING = "pending"  # not due yet
    DUE = "due"  # within DUE_WINDOW of its time
    OVERDUE = "overdue"  # past its time and the window, still open
    DONE = "done"
    SKIPPED = "skipped"  # passed open: the step it gated was overridden, or the session was cancelled or a no-show


@dataclass(frozen=True)
class CheckpointMark:
    session_id: str
    checkpoint_id: str
    done_at: datetime
    done_by: str


@dataclass(frozen=True)
class CheckpointState:
    id: str
    label: str
    due_at: datetime
    status: CheckpointStatus
    done_at: datetime | None = None
    done_by: str | None = None


class TimedSession(Protocol):
    """What the checkpoints need to know of a session: its times, as booked or as moved by the actual start."""

    @property
    def starts_at(self) -> datetime: ...
    @property
    def treatment_ends_at(self) -> datetime: ...
    @property
    def recovery_ends_at(self) -> datetime: ...
    @property
    def treatment_started_at(self) -> datetime | None: ...


def monitoring_ends_at(session: TimedSession, treatment: TreatmentType | None) -> datetime:
    """The earliest discharge: the treatment's end plus its minimum monitoring (a session whose treatment type is no
    longer configured keeps the recovery it was booked with)."""
    if treatment is None:
        return session.recovery_ends_at
    return session.treatment_ends_at + treatment.minimum_monitoring


def due_at(checkpoint: Checkpoint, session: TimedSession, treatment: TreatmentType | None) -> datetime:
    if checkpoint.moment is CheckpointMoment.BEFORE_TREATMENT:
        return session.starts_at
    if checkpoint.moment is CheckpointMoment.BEFORE_DISCHARGE:
        return monitoring_ends_at(session, treatment)
    started = session.treatment_started_at or session.starts_at
    return started + timedelta(minutes=checkpoint.minutes_after_start or 0)


def checkpoint_states(
    session: TimedSession,
    treatment: TreatmentType | None,
    marks: Mapping[str, CheckpointMark],
    *,
    now: datetime,
    ended: bool = False,
) -> list[CheckpointState]:
    """Each of the treatment's checkpoints for ``session``, in the configured order, with its status at ``now``."""
    if treatment is None:
        return []
    states = []
    for checkpoint in treatment.checkpoints:
        due = due_at(checkpoint, session, treatment)
        mark = marks.get(checkpoint.id)
        if mark is not None:
            states.append(
                CheckpointState(checkpoint.id, checkpoint.label, due, CheckpointStatus.DONE, mark.done_at, mark.done_by)
            )
        else:
            # A checkpoint before treatment gated the start; once treatment started (with an override) it is passed.
            passed = ended or (
                checkpoint.moment is CheckpointMoment.BEFORE_TREATMENT and session.treatment_started_at is not None
            )
            states.append(CheckpointState(checkpoint.id, checkpoint.label, due, _open_status(due, now, passed)))
    return states


def _open_status(due: datetime, now: datetime, ended: bool) -> CheckpointStatus:
    if ended:
        return CheckpointStatus.SKIPPED
    if now < due - DUE_WINDOW:
        return CheckpointStatus.PENDING
    if now <= due + DUE_WINDOW:
        return CheckpointStatus.DUE
    return CheckpointStatus.OVERDUE


def open_checkpoints(
    treatment: TreatmentType | None, marks: Mapping[str, CheckpointMark], moment: CheckpointMoment | None = None
) -> list[Checkpoint]:
    """The treatment's checkpoints not marked done; with ``moment``, only those tied to it."""
    if treatment is None:
        return []
    return [c for c in treatment.checkpoints if c.id not in marks and (moment is None or c.moment is moment)]


def labels(checkpoints: Iterable[Checkpoint]) -> str:
    return "; ".join(c.label for c in checkpoints)
