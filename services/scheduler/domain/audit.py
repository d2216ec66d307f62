"""The audit trail: who did what to which session, and when.

An entry names its subject by id and carries a short detail in the clinic's codes, never a patient's data: the
trail is read by admins who need to know who acted, not what the patient said.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .staff import Actor

MAX_DETAIL = 200


class AuditAction(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_LOCKED = "sign_in_locked"
    SIGN_OUT = "sign_out"
    SESSION_BOOKED = "session_booked"
    SERIES_BOOKED = "series_booked"
    SESSION_RESCHEDULED = "session_rescheduled"
    SESSION_CANCELLED = "session_cancelled"
    SESSION_CHECKED_IN = "session_checked_in"
    CHECK_IN_GATE_OVERRIDDEN = "check_in_gate_overridden"
    TREATMENT_STARTED = "treatment_started"
    START_GATE_OVERRIDDEN = "start_gate_overridden"
    CHECKPOINT_DONE = "checkpoint_done"
    SESSION_DISCHARGED = "session_discharged"
    DISCHARGE_GATE_OVERRIDDEN = "discharge_gate_overridden"
    NO_SHOW_RECORDED = "no_show_recorded"
    # Ops: a dead letter sent back to its queue, or thrown away with a reason (subject: the event id).
    DEAD_LETTER_REPLAYED = "dead_letter_replayed"
    DEAD_LETTER_DISCARDED = "dead_letter_discarded"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: Actor
    action: AuditAction
    subject_id: str | None = None
    detail: str | None = None
