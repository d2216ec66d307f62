"""Schedule.open_starts against the plain rules: an obvious, slow oracle on many random but repeatable busy schedules.

The oracle below is written straight from the rule statements and shares no code with the schedule's sweep over
free gaps: it walks the window five minutes at a time in UTC, keeps the starts on the clinic's local grid, and for
each one scans every opening interval, every block and every working interval of the start's local day (as
``Clinic.opening_on`` and ``WeeklyHours.on`` give them). The production answer must be the same list of placements,
down to the chair and clinician chosen. Scenarios cross the daylight-saving changes of New York, London and Lord
Howe (whose clocks move by thirty minutes), with opening hours that span the night's change.
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.scheduler.domain.clinic import Clinic, Clinician, TreatmentType, WeeklyHours
from services.scheduler.domain.schedule import BookedBlock, PatientRecord, Placement, Schedule

UTC = UTC
FIVE_MINUTES = timedelta(minutes=5)
CLOSES_AT_MIDNIGHT = time.max  # how WeeklyHours spells a closing time of "24:00"
SEEDS = range(160)

NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # moves its clocks by thirty minutes
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30, no daylight saving
LONDON = ZoneInfo("Europe/London")

# Local days around which the windows fall: (zone, [spring-forward day, fall-back day, an ordinary day]).
ANCHORS = {
    NEW_YORK: [date(2027, 3, 14), date(2027, 11, 7), date(2027, 6, 16)],
    LORD_HOWE: [date(2027, 10, 3), date(2027, 4, 4), date(2027, 7, 14)],
    LONDON: [date(2027, 3, 28), date(2027, 10, 31), date(2027, 5, 19)],
    KOLKATA: [date(2027, 3, 14), date(2027, 11, 7), date(2027, 6, 16)],
}


# --- the oracle: the rules, one candidate at a time --------------------------------------------------------------


@dataclass(frozen=True)
class PatientSpec:
    """A patient's intake status and own sessions; a fresh PatientRecord is made from it for each question."""

    intake_completed: bool
    blocks: tuple[BookedBlock, ...]

    def record(self, extra: tuple[BookedBlock, ...] = ()) -> PatientRecord:
        return PatientRecord("patient-1", intake_completed=self.intake_completed, blocks=[*self.blocks, *extra])


@dataclass(frozen=True)
class Query:
    treatment: TreatmentType
    window_from: datetime
    window_to: datetime
    patient: PatientSpec | None
    chair_id: str | None
    clinician_id: str | None


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def rule_one_candidates(clinic: Clinic, now: datetime, treatment: TreatmentType, window_from, window_to):
    """Every five-minute UTC instant of the window that is on the local grid, in the future, after the notice and
    within the horizon."""
    candidate = window_from.astimezone(UTC).replace(second=0, microsecond=0)
    candidate -= minutes(candidate.minute % 5)
    while candidate < window_to:
        local = candidate.astimezone(clinic.time_zone)
        if (
            local.second == 0
            and local.microsecond == 0
            and (local.hour * 60 + local.minute) % clinic.slot_minutes == 0
            and window_from <= candidate < window_to
            and candidate > now
            and candidate >= now + minutes(treatment.minimum_notice_minutes)
            and candidate <= now + timedelta(days=treatment.booking_horizon_days)
        ):
            yield candidate
        candidate += FIVE_MINUTES


def verdict(
    clinic: Clinic,
    blocks: list[BookedBlock],
    treatment: TreatmentType,
    s: datetime,
    query: Query,
    patient: PatientRecord | None,
):
    """The placement the rules give a start that passed rule 1, or the name of the first rule found to refuse it."""
    treatment_ends = s + minutes(treatment.treatment_minutes)
    recovery_ends = treatment_ends + minutes(treatment.recovery_minutes)
    chair_free = recovery_ends + minutes(treatment.turnover_minutes)
    day = s.astimezone(clinic.time_zone).date()

    if not any(opens <= s and recovery_ends <= closes for opens, closes in clinic.opening_on(day)):
        return "closed"

    if patient is not None:
        if treatment.intake_required and not patient.intake_completed:
            return "intake"
        if any(b.starts_at < recovery_ends and s < b.recovery_ends_at for b in patient.blocks):
            return "patient overlap"
        if treatment.minimum_spacing_hours > 0:
            for b in patient.blocks:
                other = clinic.treatment_types.get(b.treatment_type)
                if other is None or other.minimum_spacing_hours <= 0:
                    continue
                spacing = timedelta(hours=max(treatment.minimum_spacing_hours, other.minimum_spacing_hours))
                if abs(b.starts_at - s) < spacing:
                    return "patient spacing"

    chairs = [query.chair_id] if query.chair_id is not None else list(clinic.chairs)
    chosen_chair = None
    for chair in chairs:
        if not any(b.chair_id == chair and b.starts_at < chair_free and s < b.chair_free_at for b in blocks):
            chosen_chair = chair
            break
    if chosen_chair is None:
        return "chair"

    clinicians = [c for c in clinic.clinicians if query.clinician_id is None or c.id == query.clinician_id]
    chosen_clinician = None
    for clinician in clinicians:
        working = clinician.working_hours.on(day, clinic.time_zone)
        if not any(starts <= s and treatment_ends <= ends for starts, ends in working):
            continue
        if any(
            b.clinician_id == clinician.id and b.starts_at < treatment_ends and s < b.treatment_ends_at for b in blocks
        ):
            continue
        chosen_clinician = clinician
        break
    if chosen_clinician is None:
        return "clinician"

    return Placement(
        treatment_type=treatment.id,
        starts_at=s,
        treatment_ends_at=treatment_ends,
        recovery_ends_at=recovery_ends,
        chair_free_at=chair_free,
        chair_id=chosen_chair,
        clinician_id=chosen_clinician.id,
    )


def oracle(clinic: Clinic, blocks: list[BookedBlock], now: datetime, query: Query, patient: PatientRecord | None):
    """[(start, placement or refusing rule)] for every start that passes rule 1, in time order."""
    return [
        (s, verdict(clinic, blocks, query.treatment, s, query, patient))
        for s in rule_one_candidates(clinic, now, query.treatment, query.window_from, query.window_to)
    ]


def expected_placements(verdicts) -> list[Placement]:
    return [outcome for _, outcome in verdicts if isinstance(outcome, Placement)]


# --- random but repeatable scenarios -----------------------------------------------------------------------------


@dataclass
class Scenario:
    seed: int
    clinic: Clinic
    now: datetime
    blocks: list[BookedBlock]
    patient: PatientSpec | None
    queries: list[Query]

    def describe(self) -> str:
        types = ", ".join(
            f"{t.id}(treat {t.treatment_minutes}, recover {t.recovery_minutes}, turnover {t.turnover_minutes}, "
            f"notice {t.minimum_notice_minutes}m, horizon {t.booking_horizon_days}d, spacing "
            f"{t.minimum_spacing_hours}h, intake {t.intake_required})"
            for t in self.clinic.treatment_types.values()
        )
        return (
            f"seed {self.seed}: zone {self.clinic.time_zone.key}, slot {self.clinic.slot_minutes} min, "
            f"chairs {self.clinic.chairs}, clinicians {[c.id for c in self.clinic.clinicians]}, "
            f"closed_on {sorted(self.clinic.closed_on)}, now {self.now.isoformat()}, {len(self.blocks)} blocks; "
            f"types: {types}"
        )


def wall(minute_of_day: int) -> time:
    return CLOSES_AT_MIDNIGHT if minute_of_day == 24 * 60 else time(minute_of_day // 60, minute_of_day % 60)


def random_day(rng: random.Random, style: str, closed_chance: float) -> tuple[tuple[time, time], ...]:
    """Sorted, non-overlapping local intervals of one day, on five-minute walls (not necessarily the slot grid):
    one interval, or two with a break between them."""
    if rng.random() < closed_chance:
        return ()

    def between(earliest: str, latest: str) -> int:
        low, high = (time.fromisoformat(text) for text in (earliest, latest))
        return 5 * rng.randint((low.hour * 60 + low.minute) // 5, (high.hour * 60 + high.minute) // 5)

    if style == "round the clock" and rng.random() < 0.5:
        return ((time(0), CLOSES_AT_MIDNIGHT),)
    if style == "day":
        opens, closes = between("06:00", "10:00"), between("15:00", "22:00")
    else:  # from around midnight, past the daylight-saving changes at 02:00-03:00, to the evening or midnight
        opens, closes = between("00:00", "01:30"), rng.choice([24 * 60, between("16:00", "23:55")])
    if rng.random() < 0.5:
        return ((wall(opens), wall(closes)),)
    if style == "day":
        pause = between("11:00", "14:00")
    else:  # a break either after the night's clock change or around midday
        pause = rng.choice([between("03:30", "05:00"), between("11:00", "14:00")])
    resumes = pause + 5 * rng.randint(1, 18)
    return (wall(opens), wall(pause)), (wall(resumes), wall(closes))


def random_week(rng: random.Random, style: str, closed_chance: float, open_on: int | None = None) -> WeeklyHours:
    """Seven random days; the weekday ``open_on`` (Monday 0), if given, is never a day off."""
    return WeeklyHours(
        tuple(random_day(rng, style, 0 if weekday == open_on else closed_chance) for weekday in range(7))
    )


def random_type(rng: random.Random, type_id: str, *, long: bool = False) -> TreatmentType:
    return TreatmentType(
        type_id,
        f"Treatment {type_id}",
        treatment_minutes=5 * rng.randint(48, 144) if long else 5 * rng.randint(3, 18),
        recovery_minutes=5 * rng.randint(0, 48) if long else 5 * rng.randint(0, 24),
        turnover_minutes=5 * rng.randint(0, 6),
        intake_required=rng.random() < 0.5,
        minimum_notice_minutes=5 * rng.randint(0, 36) if rng.random() < 0.6 else 0,
        booking_horizon_days=rng.randint(3, 30) if rng.random() < 0.6 else rng.randint(3, 6),
        # Only the long type, which no test asks for, has a spacing other than 20 hours: the larger spacing applies.
        minimum_spacing_hours=rng.choice([0, 20, 36] if long else [0, 20]),
    )


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def random_block(
    rng: random.Random,
    number: int,
    treatment: TreatmentType,
    starts_at: datetime,
    chair: str,
    clinician: str | None,
    patient_id: str,
) -> BookedBlock:
    treatment_ends = starts_at + minutes(treatment.treatment_minutes)
    recovery_ends = treatment_ends + minutes(treatment.recovery_minutes)
    return BookedBlock(
        session_id=f"session-{number}",
        patient_id=patient_id,
        treatment_type=treatment.id,
        chair_id=chair,
        clinician_id=clinician,
        starts_at=starts_at,
        treatment_ends_at=treatment_ends,
        recovery_ends_at=recovery_ends,
        chair_free_at=recovery_ends + minutes(treatment.turnover_minutes),
    )


def scenario(seed: int) -> Scenario:
    rng = random.Random(seed)
    zone = [NEW_YORK, LORD_HOWE, NEW_YORK, LORD_HOWE, KOLKATA, LONDON][seed % 6]
    anchor_kind = (seed // 6) % 3  # spring forward, fall back, an ordinary day
    anchor = ANCHORS[zone][anchor_kind]
    if zone is LORD_HOWE:  # every pairing of the three anchors with a 15-, 20- and 30-minute grid
        slot_minutes = (15, 20, 30)[(seed // 18) % 3]
    else:
        slot_minutes = rng.choice([15, 20, 30])
    if anchor_kind == 2 or zone is KOLKATA:
        style = rng.choice(["day", "day", "night", "round the clock"])
    else:  # mostly open across the night's clock change
        style = rng.choice(["day", "night", "night", "round the clock", "round the clock"])

    # When open at night around a clock change, the clinic and its first clinician work on the day of the change,
    # and the first window takes it in: the starts around the change are what a sweep in UTC most easily gets wrong.
    crosses_change = anchor_kind != 2 and zone is not KOLKATA and style != "day"
    change_weekday = anchor.weekday() if crosses_change else None
    opening = random_week(rng, style, closed_chance=0.15, open_on=change_weekday)
    clinicians = tuple(
        Clinician(
            f"dr-{'abc'[number]}",
            f"Dr. {'ABC'[number]}",
            random_week(rng, style, closed_chance=0.25, open_on=change_weekday)
            if number == 0 or rng.random() < 0.85
            else random_week(rng, "day", closed_chance=0.25),
        )
        for number in range(rng.randint(1, 3))
    )
    chairs = tuple(f"chair-{number + 1}" for number in range(rng.randint(1, 4)))
    asked_types = [random_type(rng, f"type-{number}") for number in range(rng.randint(1, 3))]
    long_type = random_type(rng, "long", long=True)
    closed_on = frozenset(
        anchor + timedelta(days=rng.choice([-2, -1, 1, 2, 3, 4] if crosses_change else [-2, -1, 0, 1, 2, 3, 4]))
        for _ in range(rng.choice([0, 0, 1, 2]))
    )
    clinic = Clinic(
        name="Random Clinic",
        time_zone=zone,
        chairs=chairs,
        treatment_types={t.id: t for t in (*asked_types, long_type)},
        opening_hours=opening,
        clinicians=clinicians,
        slot_minutes=slot_minutes,
        closed_on=closed_on,
    )

    if rng.random() < 0.6:  # on the grid: a start at now itself, or exactly the horizon ahead, would be on it
        now = local_midnight(anchor, zone) - minutes(slot_minutes * rng.randrange(0, 3 * 24 * 60 // slot_minutes))
    else:
        now = local_midnight(anchor, zone) - minutes(5 * rng.randrange(0, 3 * 288))
        if rng.random() < 0.3:
            now += timedelta(seconds=rng.randrange(1, 300))

    def random_window(before_the_change: bool) -> tuple[datetime, datetime]:
        window_from = now.replace(second=0) - minutes(now.minute % 5)
        if before_the_change:
            window_from += FIVE_MINUTES * rng.randint(0, (local_midnight(anchor, zone) - window_from) // FIVE_MINUTES)
        elif rng.random() < 0.75:  # else from now on: a start at now itself is not in the future
            step = rng.choice([5, slot_minutes])  # whole slots keep a window from a grid instant on the grid
            window_from += minutes(step * rng.randint(-6 * 60 // step, 2 * 24 * 60 // step))
        if rng.random() < 0.2:
            window_from += timedelta(minutes=rng.randint(1, 4), seconds=rng.choice([0, 0, 30]))
        # Often whole days long, so that the end, which is not in the window, may fall on a start the rules allow.
        window_to = window_from + timedelta(days=rng.randint(1, 6))
        window_to += minutes(5 * rng.choice([0, 0, rng.randrange(288)]))
        return window_from, window_to

    windows = [random_window(crosses_change and number == 0) for number in range(len(asked_types))]
    busy_from = min(w[0] for w in windows) - timedelta(days=1)
    busy_to = max(w[1] for w in windows)
    busy_steps = int((busy_to - busy_from) / FIVE_MINUTES)
    busy_from = busy_from.replace(second=0) - minutes(busy_from.minute % 5)

    all_types = [*asked_types, long_type]
    blocks = []
    for number in range(rng.randint(0, 60)):
        treatment = long_type if rng.random() < 0.1 else rng.choice(asked_types)
        chair = rng.choice(chairs) if rng.random() < 0.95 else "retired-chair"
        clinician = rng.choice([*(c.id for c in clinicians), None]) if rng.random() < 0.9 else "dr-gone"
        starts_at = busy_from + FIVE_MINUTES * rng.randrange(busy_steps)
        blocks.append(random_block(rng, number, treatment, starts_at, chair, clinician, f"patient-{number % 7 + 2}"))
        if rng.random() < 0.15:  # a second session on top of this one: the database may hold anything
            twin_start = starts_at + FIVE_MINUTES * rng.randint(-6, 6)
            blocks.append(
                random_block(
                    rng,
                    1000 + number,
                    rng.choice(all_types),
                    twin_start,
                    chair,
                    rng.choice([clinician, None]),
                    "patient-overlap",
                )
            )

    patient = None
    if rng.random() < 0.6:
        own = []
        for number in range(rng.randint(0, 3)):
            treatment = rng.choice(all_types)
            starts_at = busy_from + FIVE_MINUTES * rng.randrange(busy_steps)
            own_block = random_block(
                rng,
                2000 + number,
                treatment,
                starts_at,
                rng.choice(chairs),
                rng.choice([c.id for c in clinicians]),
                "patient-1",
            )
            own.append(own_block)
            if rng.random() < 0.7:
                blocks.append(own_block)
        patient = PatientSpec(intake_completed=rng.random() < 0.6, blocks=tuple(own))

    queries = [
        Query(
            treatment=treatment,
            window_from=window_from,
            window_to=window_to,
            patient=patient if rng.random() < 0.7 else None,
            chair_id=rng.choice(chairs) if rng.random() < 0.25 else None,
            clinician_id=rng.choice(clinicians).id if rng.random() < 0.25 else None,
        )
        for treatment, (window_from, window_to) in zip(asked_types, windows, strict=False)
    ]
    rng.shuffle(blocks)
    return Scenario(seed, clinic, now, blocks, patient, queries)


# --- comparing -----------------------------------------------------------------------------------------------------


def describe_query(query: Query, zone: ZoneInfo) -> str:
    return (
        f"{query.treatment.id} in [{query.window_from.astimezone(zone).isoformat()}, "
        f"{query.window_to.astimezone(zone).isoformat()}), patient "
        f"{'none' if query.patient is None else (query.patient.intake_completed, len(query.patient.blocks))}, "
        f"chair_id {query.chair_id}, clinician_id {query.clinician_id}"
    )


def show(placement: Placement | None, zone: ZoneInfo) -> str:
    if placement is None:
        return "nothing"
    local = {
        name: value.astimezone(zone).isoformat()
        for name, value in placement._asdict().items()
        if isinstance(value, datetime)
    }
    return (
        f"{placement.treatment_type} {local['starts_at']} (treatment to {local['treatment_ends_at']}, recovery to "
        f"{local['recovery_ends_at']}, chair free {local['chair_free_at']}) in {placement.chair_id} "
        f"with {placement.clinician_id}"
    )


def disagreement(listed: list[Placement], verdicts, clinic: Clinic) -> str:
    """Empty when open_starts lists exactly the rules' placements; else the first start where they differ."""
    expected = expected_placements(verdicts)
    if listed == expected:
        return ""
    listed_by_start = {p.starts_at: p for p in listed}
    expected_by_start = {p.starts_at: p for p in expected}
    differing = sorted(
        s
        for s in listed_by_start.keys() | expected_by_start.keys()
        if listed_by_start.get(s) != expected_by_start.get(s)
    )
    if not differing:
        return f"same placements, but out of order or repeated: {[p.starts_at.isoformat() for p in listed]}"
    first = differing[0]
    zone, local = clinic.time_zone, first.astimezone(clinic.time_zone)
    rules_say = dict(verdicts).get(first)
    if rules_say is None:
        rules_say = (
            f"not a start under rule 1 (local minute of day {local.hour * 60 + local.minute} on a "
            f"{clinic.slot_minutes}-minute grid; or outside the window, notice or horizon)"
        )
    elif isinstance(rules_say, Placement):
        rules_say = show(rules_say, zone)
    else:
        rules_say = f"refused by the {rules_say} rule"
    return (
        f"{len(differing)} start(s) differ; the first is {first.isoformat()} (local {local.isoformat()}):"
        f"\n  the rules give: {rules_say}\n  open_starts gives: {show(listed_by_start.get(first), zone)}"
        f"\n  differing starts (local): {[s.astimezone(zone).isoformat() for s in differing[:8]]}"
    )


def ask(schedule: Schedule, query: Query, patient: PatientRecord | None) -> list[Placement]:
    return schedule.open_starts(
        query.treatment,
        query.window_from,
        query.window_to,
        patient=patient,
        chair_id=query.chair_id,
        clinician_id=query.clinician_id,
    )


# --- the tests -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_open_starts_lists_exactly_the_starts_the_rules_allow_with_the_first_free_chair_and_clinician(seed):
    the_scenario = scenario(seed)
    zone = the_scenario.clinic.time_zone
    the_schedule = Schedule(the_scenario.clinic, the_scenario.blocks, now=the_scenario.now)

    for query in the_scenario.queries:
        patient = query.patient.record() if query.patient else None
        listed = ask(the_schedule, query, patient)
        verdicts = oracle(
            the_scenario.clinic,
            the_scenario.blocks,
            the_scenario.now,
            query,
            query.patient.record() if query.patient else None,
        )

        difference = disagreement(listed, verdicts, the_scenario.clinic)
        assert not difference, f"{the_scenario.describe()}\nasked: {describe_query(query, zone)}\n{difference}"


@pytest.mark.parametrize("seed", SEEDS)
def test_holding_listed_starts_one_after_another_leaves_open_starts_agreeing_with_the_rules_around_them(seed):
    the_scenario = scenario(seed)
    clinic, zone = the_scenario.clinic, the_scenario.clinic.time_zone
    rng = random.Random(f"hold-{seed}")
    the_schedule = Schedule(clinic, the_scenario.blocks, now=the_scenario.now)
    held_patient = the_scenario.patient.record() if the_scenario.patient else None
    blocks = list(the_scenario.blocks)  # what the oracle knows is booked, held placements included
    held_by_patient: list[BookedBlock] = []
    held = 0

    for step in range(4):
        query = rng.choice(the_scenario.queries)
        patient = held_patient if query.patient else None
        listed = ask(the_schedule, query, patient)
        oracle_patient = the_scenario.patient.record(tuple(held_by_patient)) if query.patient else None
        verdicts = oracle(clinic, blocks, the_scenario.now, query, oracle_patient)

        difference = disagreement(listed, verdicts, the_scenario.clinic)
        assert not difference, (
            f"{the_scenario.describe()}\nafter holding {held} placement(s): {blocks[len(the_scenario.blocks) :]}\n"
            f"asked: {describe_query(query, zone)}\n{difference}"
        )
        if not listed or step == 3:
            continue
        placement = rng.choice(listed)
        for_patient = held_patient is not None and rng.random() < 0.5
        the_schedule.hold(placement, held_patient if for_patient else None)
        held += 1
        held_block = BookedBlock(
            session_id=f"held-{step}",
            patient_id="patient-1" if for_patient else "patient-held",
            treatment_type=placement.treatment_type,
            chair_id=placement.chair_id,
            clinician_id=placement.clinician_id,
            starts_at=placement.starts_at,
            treatment_ends_at=placement.starts_at + minutes(query.treatment.treatment_minutes),
            recovery_ends_at=placement.starts_at
            + minutes(query.treatment.treatment_minutes + query.treatment.recovery_minutes),
            chair_free_at=placement.starts_at
            + minutes(
                query.treatment.treatment_minutes + query.treatment.recovery_minutes + query.treatment.turnover_minutes
            ),
        )
        blocks.append(held_block)
        if for_patient:
            held_by_patient.append(held_block)


def clock_change_kind(instant: datetime, zone: ZoneInfo) -> str | None:
    """Whether a start is in the repeated wall times after a fall-back change, or within the hour after a
    spring-forward one."""
    local = instant.astimezone(zone)
    if local.fold:
        return "the repeated wall times after a fall-back change"
    if (instant - timedelta(hours=1)).astimezone(zone).utcoffset() < local.utcoffset():
        return "the hour after a spring-forward change"
    return None


def test_the_random_scenarios_list_many_starts_and_each_rule_refuses_many():
    """The comparison above would pass on empty schedules; this shows the scenarios exercise every rule."""
    tally = Counter()
    for seed in SEEDS:
        the_scenario = scenario(seed)
        clinic, zone = the_scenario.clinic, the_scenario.clinic.time_zone
        for query in the_scenario.queries:
            patient = query.patient.record() if query.patient else None
            now, treatment = the_scenario.now, query.treatment
            local_now = now.astimezone(zone)
            if (
                query.window_from <= now < query.window_to
                and treatment.minimum_notice_minutes == 0
                and local_now.second == local_now.microsecond == 0
                and (local_now.hour * 60 + local_now.minute) % clinic.slot_minutes == 0
                and isinstance(verdict(clinic, the_scenario.blocks, treatment, now, query, patient), Placement)
            ):
                tally["a start at now that only 'after now' refuses"] += 1
            end, local_end = query.window_to, query.window_to.astimezone(zone)
            if (
                now + minutes(treatment.minimum_notice_minutes) <= end
                and end <= now + timedelta(days=treatment.booking_horizon_days)
                and local_end.second == local_end.microsecond == 0
                and (local_end.hour * 60 + local_end.minute) % clinic.slot_minutes == 0
                and isinstance(verdict(clinic, the_scenario.blocks, treatment, end, query, patient), Placement)
            ):
                tally["a start at the window's end that only the end refuses"] += 1
            for s, outcome in oracle(clinic, the_scenario.blocks, now, query, patient):
                if isinstance(outcome, Placement) and s == now + timedelta(days=treatment.booking_horizon_days):
                    tally["listed exactly at the booking horizon"] += 1
                if isinstance(outcome, Placement) and s == now + minutes(treatment.minimum_notice_minutes) > now:
                    tally["listed exactly at the minimum notice"] += 1
                if not isinstance(outcome, Placement):
                    tally[f"refused: {outcome}"] += 1
                    continue
                tally["listed"] += 1
                if outcome.chair_id != (query.chair_id or clinic.chairs[0]):
                    tally["listed with a later chair"] += 1
                if query.clinician_id is None and outcome.clinician_id != clinic.clinicians[0].id:
                    tally["listed with a later clinician"] += 1
                if query.chair_id or query.clinician_id:
                    tally["listed for a named chair or clinician"] += 1
                if patient is not None:
                    tally["listed for a patient"] += 1
                near_change = clock_change_kind(s, zone)
                if near_change:
                    tally[f"listed in {near_change} in {zone.key}"] += 1
                    tally[f"listed in {near_change} in {zone.key} on a {clinic.slot_minutes}-minute grid"] += 1

    expected_at_least = {
        "listed": 8000,
        "refused: closed": 10000,
        "refused: intake": 1000,
        "refused: patient overlap": 300,
        "refused: patient spacing": 300,
        "refused: chair": 2000,
        "refused: clinician": 2000,
        "listed with a later chair": 1000,
        "listed with a later clinician": 1000,
        "listed for a named chair or clinician": 2000,
        "listed for a patient": 2000,
        "a start at now that only 'after now' refuses": 2,
        "listed exactly at the booking horizon": 3,
        "listed exactly at the minimum notice": 3,
        "a start at the window's end that only the end refuses": 3,
        "listed in the repeated wall times after a fall-back change in America/New_York": 20,
        "listed in the hour after a spring-forward change in America/New_York": 8,
        "listed in the repeated wall times after a fall-back change in Australia/Lord_Howe": 6,
        "listed in the hour after a spring-forward change in Australia/Lord_Howe": 8,
        # Thirty minutes are not a whole number of 20-minute slots: the grid does not just shift with the clock.
        "listed in the repeated wall times after a fall-back change in Australia/Lord_Howe on a 20-minute grid": 2,
        "listed in the hour after a spring-forward change in Australia/Lord_Howe on a 20-minute grid": 2,
    }
    too_few = {name: tally[name] for name, least in expected_at_least.items() if tally[name] < least}
    assert not too_few, f"too few: {too_few}; all counts: {dict(tally)}"
