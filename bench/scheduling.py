"""How fast the scheduler answers availability and takes bookings, next to baselines measured in the same run.

    .venv/bin/python bench/scheduling.py [--quick] [--profile]

Needs the local PostgreSQL (127.0.0.1:5432, trust, user postgres); a throw-away database bench_scheduling_<pid> is
created and dropped. The clinic is built in code: America/New_York, 20 chairs, 10 clinicians on staggered shifts,
Mon-Sat 07:00-21:00, with 5,000 sessions booked over the coming 13 weeks (written straight into the scheduler's
tables, placed by the scheduler's own ``Schedule`` so they obey every rule). The clock is fixed.

1. Availability: GET /api/availability for 4-week windows of iv_infusion through the real Flask app (test client),
   on SQLite and on PostgreSQL, next to
   - baseline: a deliberately naive answer (for each grid start, scan every session linearly), in memory;
   - the SQL fetch of the window's blocks alone (the repository call the handler makes);
   - the domain alone: ``Schedule(...).open_starts`` on blocks already in memory.
   The issue's target is p95 < 20 ms; the script says whether it is met and never fails on it.
2. Booking on PostgreSQL: the real HTTP server (waitress, in a process of its own, memory:// broker) and 1, 4, 8, 16
   client threads (requests.Session) booking distinct patients at free starts that do not overlap one another;
   then 16 clients racing for the same few starts (201 vs 409). Baseline: psycopg INSERTs of the same session rows,
   one transaction each, on one connection.
"""

import argparse
import cProfile
import io
import logging
import multiprocessing
import os
import platform
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from infrastructure import POSTGRES_ADMIN_DB, POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, ensure_postgres  # noqa: E402
from sqlalchemy import delete, insert  # noqa: E402

from services.scheduler import SERVICE_NAME  # noqa: E402
from services.scheduler.adapters import tables  # noqa: E402
from services.scheduler.adapters.repositories import _row_of  # noqa: E402
from services.scheduler.adapters.unit_of_work import SchedulerUnitOfWork  # noqa: E402
from services.scheduler.bootstrap import bootstrap  # noqa: E402
from services.scheduler.domain.clinic import Clinic, Clinician, TreatmentType, WeeklyHours  # noqa: E402
from services.scheduler.domain.errors import InvalidRequest, Refused  # noqa: E402
from services.scheduler.domain.schedule import PatientRecord, Schedule  # noqa: E402
from services.scheduler.domain.sessions import BookingRequest, RideHome, RideHomeMode, book  # noqa: E402
from shared.persistence import create_database_engine  # noqa: E402
from shared.runtime import settle_startup_objects  # noqa: E402
from shared.settings import Settings  # noqa: E402

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZONE = ZoneInfo("America/New_York")
NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York
SEEDED_DAYS = 91
SEEDED_SESSIONS = 5000
SEEDED_PATIENTS = 1500
WINDOW = timedelta(days=28)
TARGET_P95_MS = 20.0
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
ESCORT_RIDE = RideHome(RideHomeMode.ESCORT, "Bo Lee", "+14155550124")


# The clinic


def hours(days: set[int], opens: int, closes: int) -> WeeklyHours:
    return WeeklyHours(tuple(((wall(opens), wall(closes)),) if d in days else () for d in range(7)))


def build_clinic() -> Clinic:
    shifts = [(7, 15), (10, 18), (13, 21)]
    clinicians = tuple(
        # Five days of Monday-Saturday each (the day off rotates), on early, middle and late shifts.
        Clinician(f"clinician-{i + 1:02}", f"Clinician {i + 1}", hours(set(range(6)) - {i % 6}, *shifts[i % 3]))
        for i in range(10)
    )
    treatments = {
        "iv_infusion": TreatmentType(
            "iv_infusion",
            "IV ketamine infusion",
            45,
            45,
            15,
            ride_home_required=True,
            intake_required=True,
            minimum_notice_minutes=60,
            booking_horizon_days=120,
            minimum_spacing_hours=20,
        ),
        "esketamine_nasal_spray": TreatmentType(
            "esketamine_nasal_spray",
            "Esketamine nasal spray",
            15,
            120,
            15,
            ride_home_required=True,
            intake_required=True,
            minimum_notice_minutes=60,
            booking_horizon_days=120,
            minimum_spacing_hours=20,
        ),
        "intake_assessment": TreatmentType(
            "intake_assessment",
            "Intake assessment",
            60,
            0,
            0,
            counts_as_intake=True,
            minimum_notice_minutes=60,
            booking_horizon_days=120,
        ),
    }
    return Clinic(
        name="Bench Clinic",
        time_zone=ZONE,
        chairs=tuple(f"chair-{i + 1:02}" for i in range(20)),
        treatment_types=treatments,
        opening_hours=hours(set(range(6)), 7, 21),
        clinicians=clinicians,
        closed_on=frozenset({date(2027, 2, 15)}),
    )


def settings(database_url: str) -> Settings:
    return Settings(
        service=SERVICE_NAME,
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:0",
    )


# Seeding: 5,000 sessions placed by the scheduler's own rules, written in bulk


def seed_rows(clinic: Clinic, rng: random.Random) -> tuple[list[dict], list[dict], list[dict]]:
    schedule = Schedule(clinic, [], now=NOW)
    patients = [PatientRecord(str(uuid.UUID(int=rng.getrandbits(128))), True, []) for _ in range(SEEDED_PATIENTS)]
    first_day = clinic.local_day(NOW)
    grid = []  # every grid start of the seeded days
    for offset in range(SEEDED_DAYS):
        for opens, closes in clinic.opening_on(first_day + timedelta(days=offset)):
            start = opens
            while start < closes:
                grid.append(start)
                start += clinic.slot
    kinds = [clinic.treatment_types[k] for k in ("iv_infusion", "esketamine_nasal_spray", "intake_assessment")]
    sessions = []
    while len(sessions) < SEEDED_SESSIONS:
        treatment = rng.choices(kinds, weights=(70, 20, 10))[0]
        patient = rng.choice(patients)
        try:
            placement = schedule.place(treatment, rng.choice(grid), patient=patient)
        except (Refused, InvalidRequest):
            continue
        schedule.hold(placement, patient)
        request = BookingRequest(
            str(uuid.UUID(int=rng.getrandbits(128))), patient.patient_id, treatment.id, placement.starts_at, ESCORT_RIDE
        )
        sessions.append(_row_of(book(request, placement, clinic=clinic, now=NOW)[0]))
    return [patient_row(p.patient_id) for p in patients], [intake_row(p.patient_id) for p in patients], sessions


def patient_row(patient_id: str) -> dict:
    return {
        "id": patient_id,
        "full_name": "Bench Patient",
        "phone": "+14155550123",
        "email": None,
        "preferred_channel": "sms",
        "created_at": NOW - timedelta(days=30),
    }


def intake_row(patient_id: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "patient_id": patient_id,
        "completed_at": NOW - timedelta(days=7),
        "recorded_by": "Dr. Bench",
        "recorded_at": NOW - timedelta(days=7),
        "session_id": None,
    }


def write_rows(engine, patients: list[dict], intakes: list[dict], sessions: list[dict]) -> None:
    with engine.begin() as connection:
        if patients:
            connection.execute(insert(tables.patients), patients)
            connection.execute(insert(tables.intake_assessments), intakes)
        if sessions:
            connection.execute(insert(tables.sessions), sessions)


def settle(engine) -> None:
    """Bring a freshly loaded database to a steady state (statistics gathered, WAL written back), so that the
    database's own background work after a bulk load does not share the two cores with the measurements."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")
        return
    connection = sqlite3.connect(engine.url.database, isolation_level=None)  # outside the engine's write transactions
    connection.execute("ANALYZE")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


# Part 1: availability


def windows(rng: random.Random, count: int) -> list[tuple[datetime, datetime]]:
    """4-week windows from a local midnight within the seeded weeks, so each one is fully booked-into."""
    first_day = NOW.astimezone(ZONE).date()
    result = []
    for _ in range(count):
        start = datetime.combine(first_day + timedelta(days=rng.randint(0, SEEDED_DAYS - 28)), wall(0), tzinfo=ZONE)
        result.append((start, start + WINDOW))
    return result


def naive_open_starts(clinic: Clinic, treatment: TreatmentType, every_block, window_from, window_to) -> list:
    """For each grid start, scan every session: the answer without any index."""
    earliest = max(window_from, NOW + treatment.minimum_notice)
    latest = min(window_to, NOW + treatment.booking_horizon + timedelta(microseconds=1))
    starts = []
    day, last_day = clinic.local_day(earliest), clinic.local_day(latest)
    while day <= last_day:
        for opens, closes in clinic.opening_on(day):
            candidate = opens  # opening times are on the 15-minute grid in this clinic
            while candidate + treatment.in_chair <= closes:
                if earliest <= candidate < latest:
                    chair_until, clinician_until = candidate + treatment.chair_hold, candidate + treatment.treatment
                    busy_chairs, busy_clinicians = set(), set()
                    for block in every_block:
                        if block.starts_at < chair_until and candidate < block.chair_free_at:
                            busy_chairs.add(block.chair_id)
                        if block.starts_at < clinician_until and candidate < block.treatment_ends_at:
                            busy_clinicians.add(block.clinician_id)
                    if len(busy_chairs) < len(clinic.chairs) and any(
                        c.id not in busy_clinicians
                        and c.working_hours.covers(candidate, clinician_until, clinic.time_zone)
                        for c in clinic.clinicians
                    ):
                        starts.append(candidate)
                candidate += clinic.slot
        day += timedelta(days=1)
    return starts


def fetch_blocks(engine, window_from, window_to, treatment):
    with SchedulerUnitOfWork(engine, tables.messaging, SERVICE_NAME) as uow:
        return uow.sessions.occupancy_between(window_from, window_to + treatment.chair_hold)


def availability_query(window_from, window_to) -> dict:
    return {"treatment_type": "iv_infusion", "from": window_from.isoformat(), "to": window_to.isoformat()}


def timed(function, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - started) * 1000, result


def measure_availability(databases: dict[str, str], clinic: Clinic, spans, profile: bool) -> dict:
    """Per window, in turn: each database's SQL fetch and GET, then the domain on the blocks just fetched.

    Interleaving keeps the comparison fair when something else loads the machine for part of the run.
    """
    treatment = clinic.treatment_types["iv_infusion"]
    clients = {
        name: bootstrap(settings(url), clinic=clinic, clock=lambda: NOW).app.test_client()
        for name, url in databases.items()
    }
    engines = {name: create_database_engine(url, schema=SERVICE_NAME) for name, url in databases.items()}
    settle_startup_objects()  # as a service's process does once it is built, before it serves
    results = {name: {"fetch": [], "blocks": [], "http": [], "slots": []} for name in databases}
    results["domain"] = {"time": [], "slots": []}

    def get(name, span):
        return clients[name].get("/api/availability", query_string=availability_query(*span), headers=AUTH)

    for span in spans[:5]:  # warm up connections, caches and the code paths
        for name in databases:
            get(name, span)
            fetch_blocks(engines[name], *span, treatment)
    for span in spans:
        for name in databases:
            elapsed, blocks = timed(fetch_blocks, engines[name], *span, treatment)
            results[name]["fetch"].append(elapsed)
            results[name]["blocks"].append(len(blocks))
            elapsed, response = timed(get, name, span)
            assert response.status_code == 200, response.get_json()
            results[name]["http"].append(elapsed)
            results[name]["slots"].append(len(response.get_json()["slots"]))
        elapsed, found = timed(lambda b, s: Schedule(clinic, b, now=NOW).open_starts(treatment, *s), blocks, span)
        results["domain"]["time"].append(elapsed)
        results["domain"]["slots"].append(len(found))
    if profile:
        name = next(iter(databases))
        profiler = cProfile.Profile()
        profiler.enable()
        for span in spans[:20]:
            get(name, span)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(12)
        stats.sort_stats("cumulative").print_stats(
            r"open_starts|occupancy_between|_outcomes|_first_with_room|"
            r"Schedule.*__init__|_grid|schema\.py.*\(dump\)|jsonify"
        )
        print(f"--- cProfile: 20 GET /api/availability on {name} ---")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip() and "Ordered" not in line))
    for engine in engines.values():
        engine.dispose()
    return results


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), q[94], q[98]


# Part 2: booking over HTTP on PostgreSQL


def serve(database_url: str, pipe) -> None:
    """The scheduler's real server, in a process of its own so that the clients do not share its GIL."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" is expected at 16 clients
    runtime = bootstrap(settings(database_url), clinic=build_clinic(), clock=lambda: NOW)
    settle_startup_objects()
    runtime.start()
    pipe.send(runtime.port)
    pipe.recv()
    runtime.stop(timeout=5)


def disjoint_starts(slots: list[datetime], treatment: TreatmentType) -> list[datetime]:
    """Free starts far enough apart that no two bookings share a chair, a clinician or each other's time."""
    picked: list[datetime] = []
    for start in sorted(slots):
        if not picked or start >= picked[-1] + treatment.chair_hold:
            picked.append(start)
    return picked


def client_run(base: str, jobs: list[list[dict]]) -> tuple[float, list[float], Counter]:
    """Each thread posts its own list of bookings; returns wall seconds, latencies and status/reason counts."""
    latencies: list[float] = []
    outcomes: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs) + 1)

    def work(bodies: list[dict]) -> None:
        import requests

        with requests.Session() as http:
            http.headers.update(AUTH)
            http.get(f"{base}/api/clinic")  # open the keep-alive connection before the clock starts
            barrier.wait()
            for body in bodies:
                started = time.perf_counter()
                response = http.post(f"{base}/api/sessions", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                outcome = str(response.status_code)
                if response.status_code == 409:
                    outcome += " " + response.json().get("reason", "?")
                with lock:
                    latencies.append(elapsed)
                    outcomes[outcome] += 1

    threads = [threading.Thread(target=work, args=(bodies,)) for bodies in jobs]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, outcomes


def booking_body(patient_id: str, starts_at: datetime, chair_id: str | None = None) -> dict:
    body = {
        "patient_id": patient_id,
        "treatment_type": "iv_infusion",
        "starts_at": starts_at.isoformat(),
        "ride_home": ESCORT,
    }
    if chair_id:
        body["chair_id"] = chair_id
    return body


def raw_insert_baseline(database_name: str, engine, clinic: Clinic, starts: list[datetime], patients: list[str]):
    """The same session rows the API would write, INSERTed with psycopg, one transaction each; then removed."""
    import psycopg

    treatment = clinic.treatment_types["iv_infusion"]
    rows = []
    for patient_id, start in zip(patients, starts, strict=False):
        schedule = Schedule(clinic, fetch_blocks(engine, start, start, treatment), now=NOW)
        placement = schedule.place(treatment, start)
        request = BookingRequest(str(uuid.uuid4()), patient_id, treatment.id, start, ESCORT_RIDE)
        rows.append(_row_of(book(request, placement, clinic=clinic, now=NOW)[0]))
    columns = list(rows[0])
    statement = f"INSERT INTO sessions ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    latencies = []
    with psycopg.connect(
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        user=POSTGRES_USER,
        dbname=database_name,
        options=f"-csearch_path={SERVICE_NAME}",
    ) as connection:
        started = time.perf_counter()
        for row in rows:
            t0 = time.perf_counter()
            connection.execute(statement, [row[c] for c in columns])
            connection.commit()
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(delete(tables.sessions).where(tables.sessions.c.id.in_([r["id"] for r in rows])))
    return len(rows) / elapsed, latencies


def capacity_at(engine, clinic: Clinic, start: datetime, limit: int) -> int:
    """How many more iv_infusions the rules let start at ``start`` (for distinct patients)."""
    treatment = clinic.treatment_types["iv_infusion"]
    schedule = Schedule(clinic, fetch_blocks(engine, start, start, treatment), now=NOW)
    count = 0
    while count < limit:
        try:
            schedule.hold(schedule.place(treatment, start))
        except Refused:
            break
        count += 1
    return count


def measure_booking(database_name: str, database_url: str, clinic: Clinic, per_level: int, rounds: int):
    treatment = clinic.treatment_types["iv_infusion"]
    engine = create_database_engine(database_url, schema=SERVICE_NAME)
    levels = (1, 4, 8, 16)
    racers = 16
    needed_patients = per_level * len(levels) + 2 * rounds * racers
    new_patients = [str(uuid.uuid4()) for _ in range(needed_patients)]
    write_rows(engine, [patient_row(p) for p in new_patients], [intake_row(p) for p in new_patients], [])
    patients = iter(new_patients)

    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    server = context.Process(target=serve, args=(database_url, child_end), daemon=True)
    server.start()
    try:
        if not parent_end.poll(60):
            raise RuntimeError("the scheduler server did not start within 60 s")
        base = f"http://127.0.0.1:{parent_end.recv()}"
        import requests

        free = []
        horizon_end = NOW + treatment.booking_horizon
        span_from = NOW
        while span_from < horizon_end:  # the API lists at most 62 days at a time
            span_to = min(span_from + timedelta(days=60), horizon_end)
            reply = requests.get(
                f"{base}/api/availability",
                headers=AUTH,
                timeout=60,
                params={"treatment_type": treatment.id, "from": span_from.isoformat(), "to": span_to.isoformat()},
            )
            reply.raise_for_status()
            free += [datetime.fromisoformat(s["starts_at"]) for s in reply.json()["slots"]]
            span_from = span_to
        starts = disjoint_starts(free, treatment)
        if len(starts) < per_level * len(levels) + 2 * rounds:
            raise RuntimeError(f"only {len(starts)} disjoint free starts; lower the booking counts")
        race_starts = starts[-2 * rounds :]
        starts = iter(starts)

        rows = []
        level_starts = [[next(starts) for _ in range(per_level)] for _ in levels]
        level_patients = [[next(patients) for _ in range(per_level)] for _ in levels]
        rate, latencies = raw_insert_baseline(database_name, engine, clinic, level_starts[0], level_patients[0])
        rows.append(("baseline: psycopg INSERT, 1 tx each, 1 conn", rate, *percentiles(latencies)[:2], ""))
        for level, level_start, level_patient in zip(levels, level_starts, level_patients, strict=False):
            bodies = [booking_body(p, s) for p, s in zip(level_patient, level_start, strict=False)]
            jobs = [bodies[i::level] for i in range(level)]
            elapsed, latencies, outcomes = client_run(base, jobs)
            rows.append(
                (
                    f"POST /api/sessions, {level:2} client(s)",
                    per_level / elapsed,
                    *percentiles(latencies)[:2],
                    ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())),
                )
            )

        races = []
        for pinned in (True, False):
            expected, outcomes, latencies = 0, Counter(), []
            for start in race_starts[rounds:] if pinned else race_starts[:rounds]:
                schedule = Schedule(clinic, fetch_blocks(engine, start, start, treatment), now=NOW)
                chair = schedule.place(treatment, start).chair_id if pinned else None
                expected += 1 if pinned else capacity_at(engine, clinic, start, racers)
                jobs = [[booking_body(next(patients), start, chair)] for _ in range(racers)]
                _, round_latencies, round_outcomes = client_run(base, jobs)
                outcomes += round_outcomes
                latencies += round_latencies
            races.append((pinned, expected, outcomes, latencies))
    finally:
        parent_end.send("stop")
        server.join(15)
        if server.is_alive():
            server.terminate()
            server.join(5)
        engine.dispose()
    return rows, races


# The run


class ThrowawayDatabase:
    def __init__(self):
        self.name = f"bench_scheduling_{os.getpid()}"

    def _admin(self):
        import psycopg

        return psycopg.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=POSTGRES_ADMIN_DB, autocommit=True
        )

    def __enter__(self) -> "ThrowawayDatabase":
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{self.name}"')
            self.server_version = connection.execute("SHOW server_version").fetchone()[0].split()[0]
        return self

    def __exit__(self, *exc_info):
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{self.name}"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    return f"{models[0] if models else platform.processor()}, {len(models) or os.cpu_count()} cores"


def row(name: str, values: list[float], *extra) -> str:
    p50, p95, p99 = percentiles(values)
    return f"{name:52} {p50:8.2f} {p95:8.2f} {p99:8.2f} " + " ".join(f"{e:>7}" for e in extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer requests: under a minute")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of availability on SQLite")
    options = parser.parse_args()
    windows_count, naive_count = (40, 1) if options.quick else (200, 3)
    per_level, rounds = (25, 2) if options.quick else (100, 5)
    ensure_postgres()
    began, load_before = time.perf_counter(), os.getloadavg()[0]
    clinic = build_clinic()
    treatment = clinic.treatment_types["iv_infusion"]
    rng = random.Random(20270104)
    patients, intakes, sessions = seed_rows(clinic, rng)
    spans = windows(rng, windows_count)

    with tempfile.TemporaryDirectory() as tmp, ThrowawayDatabase() as database:
        databases = {"SQLite": f"sqlite:///{tmp}/scheduler.sqlite3", "PostgreSQL": database.url}
        for url in databases.values():
            bootstrap(settings(url), clinic=clinic, clock=lambda: NOW)  # migrates
            engine = create_database_engine(url, schema=SERVICE_NAME)
            write_rows(engine, patients, intakes, sessions)
            settle(engine)
            engine.dispose()
        results = measure_availability(databases, clinic, spans, options.profile)
        domain_ms, domain_slots = results.pop("domain").values()
        every_block = fetch_blocks_all(sessions)
        naive_ms, naive_agrees = [], True
        for span, expected in zip(spans[:naive_count], domain_slots, strict=False):
            elapsed, found = timed(naive_open_starts, clinic, treatment, every_block, *span)
            naive_ms.append(elapsed)
            naive_agrees &= len(found) == expected

        booking_rows, races = measure_booking(database.name, database.url, clinic, per_level, rounds)
        postgres_version = database.server_version

    print(
        f"{datetime.now():%Y-%m-%d %H:%M}, {machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {postgres_version}" + (" (--quick)" if options.quick else "")
    )
    print(
        f"Clinic: 20 chairs, 10 clinicians, Mon-Sat 07-21 America/New_York; {len(sessions):,} sessions over "
        f"{SEEDED_DAYS} days; {len(spans)} GETs of iv_infusion over varied 4-week windows "
        f"(fixed clock {NOW:%Y-%m-%d})"
    )
    print(f"{'availability, 4-week window':52} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'slots':>7} {'blocks':>7}")
    median_blocks = int(statistics.median(results["SQLite"]["blocks"]))
    print(
        row(
            f"baseline: naive scan of every session ({naive_count} window(s))",
            naive_ms,
            int(statistics.median(domain_slots[:naive_count])),
            len(every_block),
        )
    )
    print(
        row(
            "domain: Schedule(...).open_starts, blocks in memory",
            domain_ms,
            int(statistics.median(domain_slots)),
            median_blocks,
        )
    )
    for name, result in results.items():
        print(
            row(
                f"{name}: SQL fetch of the blocks (repository)",
                result["fetch"],
                "",
                int(statistics.median(result["blocks"])),
            )
        )
        print(
            row(
                f"{name}: GET /api/availability (Flask test client)",
                result["http"],
                int(statistics.median(result["slots"])),
                "",
            )
        )
    agree = all(r["slots"] == domain_slots for r in results.values())
    print(
        f"slot counts: HTTP on both databases {'equal' if agree else 'DIFFER from'} the domain's; "
        f"naive {'agrees' if naive_agrees else 'DISAGREES'}"
    )
    for name, result in results.items():
        p95 = percentiles(result["http"])[1]
        print(
            f"target p95 < {TARGET_P95_MS:.0f} ms on {name}: {'met' if p95 < TARGET_P95_MS else 'NOT met'} "
            f"({p95:.1f} ms)"
        )
    print()
    print(
        f"Booking iv_infusion on PostgreSQL over HTTP (waitress, 8 threads, own process), {per_level} per row, "
        f"disjoint free starts, distinct patients"
    )
    print(f"{'':52} {'book/s':>8} {'p50 ms':>8} {'p95 ms':>8}  outcomes")
    for name, rate, p50, p95, outcomes in booking_rows:
        print(f"{name:52} {rate:8.0f} {p50:8.2f} {p95:8.2f}  {outcomes}")
    for pinned, expected, outcomes, latencies in races:
        label = "same chair named" if pinned else "no chair named"
        won = outcomes.get("201", 0)
        lost = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()) if k != "201")
        p50, p95, _ = percentiles(latencies)
        print(
            f"race, {label}: {rounds} starts x 16 clients: 201: {won} (rules allow {expected}); {lost}; "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )
    print(
        f"(whole run {time.perf_counter() - began:.0f} s; 1-minute load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after: above ~1 something else shared the {os.cpu_count()} cores)"
    )


def fetch_blocks_all(rows: list[dict]):
    """Every seeded session as a block, for the naive scan."""
    from services.scheduler.domain.schedule import BookedBlock

    return [
        BookedBlock(
            r["id"],
            r["patient_id"],
            r["treatment_type"],
            r["chair_id"],
            r["clinician_id"],
            r["starts_at"],
            r["treatment_ends_at"],
            r["recovery_ends_at"],
            r["chair_free_at"],
        )
        for r in rows
    ]


if __name__ == "__main__":
    main()
