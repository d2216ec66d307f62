"""The floor board of one clinic day, as the page draws it: a row per chair with a timeline of the opening hours, and
for each session its blocks (treatment, monitoring, turnover), the patient's initials, the phase, what is due next,
the ride home and the instructions.

Everything here is worked out on the server, positions included (percentages of the day's opening hours), so the
page needs no script and no inline style to draw it.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from ..adapters.notifications_client import SentMessage
from ..domain.checkpoints import CheckpointState, CheckpointStatus
from ..domain.clinic import Clinic
from ..domain.rides import RideStatus
from ..domain.sessions import RideHomeMode, Session, SessionStatus

FALLBACK_HOURS = (time(8), time(18))  # a day the clinic is closed still draws a timeline, should a session be on it
INSTRUCTIONS = "preparation_instructions"


class Phase(StrEnum):
    BOOKED = "booked"
    ARRIVED = "arrived"
    IN_TREATMENT = "in treatment"
    MONITORING = "monitoring"
    READY_TO_LEAVE = "ready to leave"
    LEFT = "left"
    CANCELLED = "cancelled"
    NO_SHOW = "no show"


def phase_of(session: Session, now: datetime) -> Phase:
    """The phase a session is in at ``now``: from its status, and while in the chair from the clock."""
    match session.status:
        case SessionStatus.BOOKED:
            return Phase.BOOKED
        case SessionStatus.CHECKED_IN:
            return Phase.ARRIVED
        case SessionStatus.IN_TREATMENT:
            if now < session.treatment_ends_at:
                return Phase.IN_TREATMENT
            if now < session.recovery_ends_at:
                return Phase.MONITORING
            return Phase.READY_TO_LEAVE
        case SessionStatus.DISCHARGED:
            return Phase.LEFT
        case SessionStatus.CANCELLED:
            return Phase.CANCELLED
    return Phase.NO_SHOW


def initials(full_name: str | None) -> str:
    """ "Ann Marie Lee" -> "A.L.": the first letter of the first and the last word, nothing else of the name."""
    words = [word for word in (full_name or "").split() if any(c.isalpha() for c in word)]
    if not words:
        return "?"
    letters = [next(c for c in word if c.isalpha()).upper() for word in (words[0], words[-1])[: len(words)]]
    return "".join(letter + "." for letter in letters)


@dataclass(frozen=True)
class Due:
    """Something due for a session: what, when, and whether its time has passed."""

    what: str
    at: datetime
    overdue: bool = False


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # good, waiting, warning, bad, quiet


def ride_badge(session: Session, needs_ride: bool) -> Badge:
    if session.ride_home.mode is RideHomeMode.NONE and not needs_ride:
        return Badge("no ride needed", "quiet")
    status = session.ride_status
    if status is None:
        return Badge("ride not requested yet", "waiting")
    tone = {
        RideStatus.REQUESTED: "waiting",
        RideStatus.CONFIRMED: "good",
        RideStatus.DISPATCHED: "good",
        RideStatus.COMPLETED: "good",
        RideStatus.DECLINED: "bad",
        RideStatus.AT_RISK: "warning",
        RideStatus.CANCELLED: "quiet",
    }[status]
    return Badge("ride " + status.value.replace("_", " "), tone)


def instructions_badge(messages: list[SentMessage] | None) -> Badge:
    """The preparation instructions: sent, due, failed, none yet, or unknown when notifications did not answer."""
    if messages is None:
        return Badge("instructions unknown", "quiet")
    statuses = {m.status for m in messages if m.kind == INSTRUCTIONS and m.recipient in ("patient", "")}
    if statuses & {"sent", "delivered"}:
        return Badge("instructions sent", "good")
    if "stored" in statuses:
        return Badge("instructions stored", "good")
    if statuses & {"scheduled", "sending"}:
        return Badge("instructions due", "waiting")
    if "failed" in statuses:
        return Badge("instructions failed", "bad")
    return Badge("no instructions yet", "waiting")


@dataclass(frozen=True)
class Segment:
    """One block of a session on its chair's timeline, as a percentage of the day's span."""

    kind: str  # treatment, recovery, turnover
    x: float
    width: float


@dataclass(frozen=True)
class BoardSession:
    id: str
    initials: str
    treatment: str
    starts_at: datetime
    ends_at: datetime
    phase: Phase
    due: tuple[Due, ...]
    ride: Badge
    instructions: Badge
    segments: tuple[Segment, ...]
    label_x: float
    chair_id: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class ChairRow:
    chair_id: str
    label: str
    sessions: list[BoardSession] = field(default_factory=list)


@dataclass(frozen=True)
class Board:
    day: date
    opens: datetime
    closes: datetime
    open: bool
    ticks: tuple[Tick, ...]
    rows: tuple[ChairRow, ...]
    not_coming: tuple[BoardSession, ...]
    now_x: float | None


def chair_label(chair_id: str) -> str:
    return chair_id.replace("-", " ").replace("_", " ").capitalize()


def build_board(
    day: date,
    sessions: Iterable[Session],
    *,
    clinic: Clinic,
    now: datetime,
    names: Mapping[str, str],
    messages: Callable[[str], list[SentMessage] | None],
    checkpoints: Mapping[str, list[CheckpointState]],
) -> Board:
    zone = clinic.time_zone
    intervals = clinic.opening_on(day)
    if intervals:
        opens, closes = intervals[0][0], intervals[-1][1]
    else:
        opens = datetime.combine(day, FALLBACK_HOURS[0], tzinfo=zone)
        closes = datetime.combine(day, FALLBACK_HOURS[1], tzinfo=zone)
    span = (closes - opens).total_seconds()

    def x_of(instant: datetime) -> float:
        return round(min(max((instant - opens).total_seconds() / span, 0.0), 1.0) * 100, 3)

    rows = {chair: ChairRow(chair, chair_label(chair)) for chair in clinic.chairs}
    not_coming = []
    for session in sorted(sessions, key=lambda s: (s.starts_at, s.chair_id)):
        treatment = clinic.treatment_type(session.treatment_type)
        phase = phase_of(session, now)
        spans = (
            ("treatment", session.starts_at, session.treatment_ends_at),
            ("recovery", session.treatment_ends_at, session.recovery_ends_at),
            ("turnover", session.recovery_ends_at, session.chair_free_at),
        )
        segments = tuple(
            Segment(kind, x_of(start), round(x_of(end) - x_of(start), 3)) for kind, start, end in spans if end > start
        )
        shown = BoardSession(
            id=session.id,
            initials=initials(names.get(session.patient_id)),
            treatment=treatment.label if treatment else session.treatment_type,
            starts_at=session.starts_at,
            ends_at=session.recovery_ends_at,
            phase=phase,
            due=tuple(due_next(session, phase, checkpoints.get(session.id, []), clinic=clinic, now=now)),
            ride=ride_badge(session, bool(treatment and treatment.ride_home_required)),
            instructions=instructions_badge(messages(session.id)),
            segments=segments,
            label_x=x_of(session.starts_at),
            chair_id=session.chair_id,
        )
        if phase in (Phase.CANCELLED, Phase.NO_SHOW):
            not_coming.append(shown)
        else:
            rows.setdefault(session.chair_id, ChairRow(session.chair_id, chair_label(session.chair_id)))
            rows[session.chair_id].sessions.append(shown)
    ticks = []
    hour = opens.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    if hour < opens:
        hour += timedelta(hours=1)
    while hour <= closes:
        ticks.append(Tick(x_of(hour), hour.astimezone(zone).strftime("%H:%M")))
        hour += timedelta(hours=1)
    return Board(
        day=day,
        opens=opens,
        closes=closes,
        open=bool(intervals),
        ticks=tuple(ticks),
        rows=tuple(rows.values()),
        not_coming=tuple(not_coming),
        now_x=x_of(now) if opens <= now <= closes else None,
    )


OPEN = (CheckpointStatus.PENDING, CheckpointStatus.DUE, CheckpointStatus.OVERDUE)


def due_next(
    session: Session, phase: Phase, checkpoints: list[CheckpointState], *, clinic: Clinic, now: datetime
) -> list[Due]:
    """What is due next for the session and when: arrival, the start, the open checkpoints (due or overdue), the
    earliest discharge and the pickup."""

    def due(what: str, at: datetime) -> Due:
        return Due(what, at, overdue=at < now)

    open_ones = [Due(c.label, c.due_at, c.status is CheckpointStatus.OVERDUE) for c in checkpoints if c.status in OPEN]
    match phase:
        case Phase.BOOKED:
            return [due("Arrival", session.starts_at - clinic.arrival_lead)]
        case Phase.ARRIVED:
            return [*open_ones, due("Treatment start", session.starts_at)]
        case Phase.IN_TREATMENT | Phase.MONITORING | Phase.READY_TO_LEAVE:
            items = list(open_ones)
            if phase is Phase.IN_TREATMENT:
                items.append(Due("Treatment ends", session.treatment_ends_at))
            items.append(Due("Earliest discharge", session.earliest_discharge(clinic)))
            items.append(Due("Pickup", session.recovery_ends_at))
            return items
        case Phase.LEFT if session.discharged_at is not None:
            return [Due("Left", session.discharged_at)]
    return []
