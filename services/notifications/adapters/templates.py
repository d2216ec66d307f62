"""The clinic's wording as Jinja2 files, checked when the service starts.

Layout: ``<directory>/<language>/<kind>.<channel>.j2``, and ``<kind>.<treatment_type>.<channel>.j2`` for a treatment's
own wording; files whose name starts with ``_`` are pieces the others include or import. An e-mail template's first
line is ``Subject: ...``; the rest is the body. Dates and times are written in the message's language by the filters
``day``, ``short_day``, ``clock``, ``duration`` and ``minutes_before`` (see ``templates/README.md``).

Everything is checked before the first message: each file compiles, names only the variables and filters a template
is given, and every kind renders, in every language and for every treatment type, on sample contexts. A problem is a
``TemplateProblem`` saying ``file:line: message``, and the service refuses to start.
"""

import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time
from babel.lists import format_list
from babel.units import format_unit
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateRuntimeError, meta, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..domain.outgoing import CHANNELS, EMAIL
from ..domain.wording import (
    DEFAULT_LANGUAGE,
    ESCORT_PATIENT_READY,
    ESCORT_RIDE_REQUEST,
    KINDS,
    REMINDER,
    RIDE_AT_RISK,
    SESSION_RESCHEDULED,
    MessageContext,
    Rendered,
)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
ENVIRONMENT_VARIABLE = "NOTIFICATION_TEMPLATES_DIR"
# The front desk's alert goes to its mailbox only; every other kind follows its recipient's channel.
CHANNELS_OF = {kind: (EMAIL,) if kind == RIDE_AT_RISK else CHANNELS for kind in KINDS}
SUBJECT = re.compile(r"Subject:[ \t]*(?P<subject>.*\S)[ \t]*$")
_FILE_NAME = re.compile(r"(?P<kind>[a-z_]+)(?:\.(?P<treatment_type>[a-z0-9_]+))?\.(?P<channel>[a-z]+)\.j2")
_CONTEXT_FIELDS = frozenset(field.name for field in fields(MessageContext))


class TemplateProblem(Exception):
    """A template that cannot be used, where it is: ``file:line: message`` (the line left out where none applies)."""

    def __init__(self, file: str | Path, line: int | None, message: str):
        self.file, self.line, self.message = str(file), line, message
        super().__init__(f"{self.file}:{line}: {message}" if line else f"{self.file}: {message}")


class _Unwritable(TemplateRuntimeError):
    """A value a filter or the output cannot write; its message names no value, as it may reach a log line."""


class TemplateLibrary:
    """The ``Templates`` port over a folder of Jinja2 files: the shipped one, or the clinic's own copy of it."""

    def __init__(self, directory: Path | None = None, *, treatment_types: Iterable[str] = ()):
        self.directory = Path(directory or TEMPLATES_DIR).resolve()
        if not self.directory.is_dir():
            raise TemplateProblem(self.directory, None, "no such folder of templates")
        self._environment = _environment(self.directory)
        self._names = {self._check_file(path) for path in sorted(self.directory.rglob("*.j2"))}
        self.languages = tuple(sorted({name.split("/")[0] for name in self._names}))
        self._check_complete()
        self._check_renders(treatment_types)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], **options: Any) -> "TemplateLibrary":
        folder = environ.get(ENVIRONMENT_VARIABLE, "").strip()
        return cls(Path(folder) if folder else None, **options)

    def render(
        self, kind: str, *, channel: str, language: str, treatment_type: str | None, context: MessageContext
    ) -> Rendered:
        name = self._choose(kind, channel, language, treatment_type)
        if name is None:
            raise TemplateProblem(self.directory, None, f"no template for {kind} by {channel}")
        text = self._render_file(name, {**_variables(context), "language": name.split("/")[0]})
        if channel != EMAIL:
            return Rendered(subject=None, body=text)
        first_line, _, body = text.partition("\n")
        subject = SUBJECT.match(first_line)
        if subject is None:
            raise TemplateProblem(self.directory / name, None, "an e-mail's first line must be 'Subject: ...'")
        return Rendered(subject=subject["subject"], body=_tidy(body))

    def _choose(self, kind: str, channel: str, language: str, treatment_type: str | None) -> str | None:
        # The treatment's own wording comes before the patient's language: an English text that says to fast
        # beats a Spanish one that does not.
        languages = dict.fromkeys((language, DEFAULT_LANGUAGE))
        variants = ([f"{kind}.{treatment_type}.{channel}.j2"] if treatment_type else []) + [f"{kind}.{channel}.j2"]
        candidates = (f"{lang}/{variant}" for variant in variants for lang in languages)
        return next((name for name in candidates if name in self._names), None)

    def _render_file(self, name: str, variables: dict[str, Any]) -> str:
        try:
            return _tidy(self._environment.get_template(name).render(variables))
        except TemplateError as exc:
            raise _problem_at(exc, self.directory / name, str(exc)) from None
        except Exception as exc:
            # Only the exception's type: its text could quote a patient's detail into a log line.
            raise _problem_at(exc, self.directory / name, type(exc).__name__) from None

    def _check_file(self, path: Path) -> str:
        name = path.relative_to(self.directory).as_posix()
        language, _, file_name = name.partition("/")
        if not file_name or "/" in file_name:
            raise TemplateProblem(path, None, "a template belongs in a folder named after its language, e.g. en/")
        shape = _FILE_NAME.fullmatch(file_name)
        if not file_name.startswith("_") and not (
            shape and shape["kind"] in KINDS and shape["channel"] in CHANNELS_OF[shape["kind"]]
        ):
            raise TemplateProblem(path, None, "not a template's name: <kind>[.<treatment_type>].<channel>.j2")
        try:
            Locale.parse(language)
        except (ValueError, UnknownLocaleError):
            raise TemplateProblem(path, None, f"{language!r} is not a language") from None
        try:
            tree = self._environment.parse(path.read_text(encoding="utf-8"), name, str(path))
            self._check_names(tree, path)
            self._environment.get_template(name)
        except TemplateError as exc:
            raise _problem_at(exc, path, getattr(exc, "message", None) or str(exc)) from None
        except UnicodeDecodeError:
            raise TemplateProblem(path, None, "not UTF-8 text") from None
        return name

    def _check_names(self, tree: nodes.Template, path: Path) -> None:
        # Jinja only notices these when the line runs: a variable or filter in a branch the samples never take
        # would otherwise wait for a real patient's message to fail.
        for used in tree.find_all((nodes.Filter, nodes.Test)):
            is_filter = isinstance(used, nodes.Filter)
            if used.name not in (self._environment.filters if is_filter else self._environment.tests):
                raise TemplateProblem(path, used.lineno, f"unknown {'filter' if is_filter else 'test'} {used.name!r}")
        known = _CONTEXT_FIELDS | {"language"} | set(self._environment.globals)
        unknown = meta.find_undeclared_variables(tree) - known
        for name in tree.find_all(nodes.Name):
            if name.name in unknown and name.ctx == "load":
                raise TemplateProblem(path, name.lineno, f"unknown variable {name.name!r}")

    def _check_complete(self) -> None:
        for kind, channels in CHANNELS_OF.items():
            for channel in channels:
                name = f"{DEFAULT_LANGUAGE}/{kind}.{channel}.j2"
                if name not in self._names:
                    raise TemplateProblem(
                        self.directory / name, None, f"missing: every language falls back to {DEFAULT_LANGUAGE}"
                    )

    def _check_renders(self, treatment_types: Iterable[str]) -> None:
        variants = {_FILE_NAME.fullmatch(name.split("/")[1]) for name in self._names if "/_" not in name}
        found = {shape["treatment_type"] for shape in variants if shape and shape["treatment_type"]}
        for treatment_type in sorted(found | set(SAMPLE_TREATMENTS) | set(treatment_types)):
            for kind, channels in CHANNELS_OF.items():
                for context in sample_contexts(kind, treatment_type):
                    for channel in channels:
                        for language in self.languages:
                            self.render(
                                kind, channel=channel, language=language, treatment_type=treatment_type, context=context
                            )


def _environment(directory: Path) -> ImmutableSandboxedEnvironment:
    # Sandboxed: whoever edits the wording gets the message's fields, not the service's Python objects.
    environment = ImmutableSandboxedEnvironment(
        # No reloading: a file edited while the service runs waits for the restart that checks it.
        loader=FileSystemLoader(directory, encoding="utf-8"),
        auto_reload=False,
        undefined=StrictUndefined,
        autoescape=False,  # plain text: an apostrophe in a name stays an apostrophe
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_printable,
    )
    environment.filters.update(
        day=_day, short_day=_short_day, clock=_clock, duration=_duration, minutes_before=_minutes_before
    )
    return environment


def _printable(value: Any) -> Any:
    if value is None:
        raise _Unwritable("prints a value this message does not have (guard it with {% if ... %})")
    return value


def _moment(value: Any, filter_name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _Unwritable(f"{filter_name} writes an instant with its time zone, and was given none")
    return value


def _plain(text: str) -> str:
    # CLDR puts narrow no-break spaces in "9:00 AM"; one such character makes a whole SMS go as UCS-2.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@pass_context
def _day(context: Context, value: Any) -> str:
    """``{{ starts_at|day }}``: "Tuesday, January 5, 2027", "martes, 5 de enero de 2027"."""
    return _plain(format_date(_moment(value, "day"), "full", locale=context["language"]))


@pass_context
def _short_day(context: Context, value: Any) -> str:
    """``{{ starts_at|short_day }}``: "Tue, Jan 5", "mar, 5 ene"; for texts."""
    return _plain(format_skeleton("MMMEd", _moment(value, "short_day"), locale=context["language"]))


@pass_context
def _clock(context: Context, value: Any) -> str:
    """``{{ starts_at|clock }}``: "9:00 AM", "9:00"; in the instant's own zone, the clinic's."""
    moment = _moment(value, "clock")
    return _plain(format_time(moment, "short", tzinfo=moment.tzinfo, locale=context["language"]))


@pass_context
def _duration(context: Context, minutes: Any) -> str:
    """``{{ recovery_minutes|duration }}``: "45 minutes", "2 hours", "1 hour and 30 minutes"."""
    if not isinstance(minutes, int) or minutes < 0:
        raise _Unwritable("duration writes a number of minutes, and was given none")
    language = context["language"]
    hours, rest = divmod(minutes, 60)
    parts = [format_unit(hours, "duration-hour", length="long", locale=language)] if hours else []
    if rest or not hours:
        parts.append(format_unit(rest, "duration-minute", length="long", locale=language))
    return _plain(format_list(parts, locale=language))


def _minutes_before(value: Any, minutes: Any) -> datetime:
    """``{{ starts_at|minutes_before(120)|clock }}``: the time that many minutes earlier, e.g. to stop eating."""
    if not isinstance(minutes, int):
        raise _Unwritable("minutes_before takes a number of minutes")
    return _moment(value, "minutes_before") - timedelta(minutes=minutes)


def _tidy(text: str) -> str:
    # Branches that print nothing leave blank lines behind; a message has at most one between paragraphs.
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _problem_at(exc: BaseException, file: Path, message: str) -> TemplateProblem:
    """Where in the templates it went wrong: Jinja's syntax errors carry it, and its runtime errors leave the
    template's file and line in the traceback."""
    line = getattr(exc, "lineno", None)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.endswith(".j2")]
    if frames and not line:
        file, line = Path(frames[-1].filename), frames[-1].lineno
    named = getattr(exc, "filename", None)
    return TemplateProblem(named if named and named.endswith(".j2") else file, line, message)


def _variables(context: MessageContext) -> dict[str, Any]:
    return {name: getattr(context, name) for name in _CONTEXT_FIELDS}


# The samples every template is rendered on at start. Their treatments are the shipped clinic's
# (services/scheduler/clinic.toml); a treatment type the library is told of beyond those gets an hour and an hour.
SAMPLE_TREATMENTS = {
    "iv_infusion": ("IV ketamine infusion", 45, 45),
    "esketamine_nasal_spray": ("Esketamine nasal spray", 15, 120),
    "intake_assessment": ("Intake assessment", 60, 0),
}
SAMPLE_ZONE = ZoneInfo("America/New_York")
SAMPLE_START = datetime(2027, 1, 5, 9, 0, tzinfo=SAMPLE_ZONE)
_ESCORT_KINDS = (ESCORT_RIDE_REQUEST, ESCORT_PATIENT_READY)


def sample_context(kind: str, treatment_type: str | None, *, ride_mode: str | None = "escort") -> MessageContext:
    """A realistic context for this kind, as the service fills it: a Tuesday-morning session at the shipped
    clinic, Ann the patient and Bo her escort; the fields that do not apply to the kind are None."""
    label, treatment, recovery = SAMPLE_TREATMENTS.get(
        treatment_type or "", ((treatment_type or "").replace("_", " ").capitalize() or None, 60, 60)
    )
    pickup_at = SAMPLE_START + timedelta(minutes=treatment + recovery)
    context = MessageContext(
        clinic_name="Riverside Ketamine Clinic",
        clinic_address="1200 Riverside Avenue, Suite 300, Jacksonville, FL 32204",
        treatment_type=treatment_type,
        treatment_label=label,
        # Checked without the patient's name: a message to the escort or the front desk should not need it.
        patient_first_name=None if kind in (*_ESCORT_KINDS, RIDE_AT_RISK) else "Ann",
        starts_at=SAMPLE_START,
        arrive_by=SAMPLE_START - timedelta(minutes=15),
        treatment_minutes=treatment,
        recovery_minutes=recovery,
        pickup_at=pickup_at,
        ride_mode=ride_mode,
        escort_first_name="Bo" if ride_mode == "escort" else None,
    )
    if kind == REMINDER:
        context = replace(context, hours_before=48)
    elif kind == SESSION_RESCHEDULED:
        context = replace(context, previous_starts_at=SAMPLE_START - timedelta(days=1, hours=1))
    elif kind == ESCORT_RIDE_REQUEST:
        link = "https://rides.example.org/escort/rides/ride-1?token=sample"
        context = replace(context, link=link, link_expires_at=pickup_at - timedelta(hours=2))
    elif kind == RIDE_AT_RISK:
        context = replace(context, session_id="session-1", at_risk="24h")
    return context


def sample_contexts(kind: str, treatment_type: str | None) -> list[MessageContext]:
    """Each ride home a session can have, and one with the details that may be missing missing (the escort's first
    name, the clinic's address, the link's expiry), which a template must cope with. A patient always has a name."""
    modes = ("escort",) if kind in _ESCORT_KINDS else ("escort", "provider", None)
    sparse = replace(
        sample_context(kind, treatment_type),
        escort_first_name=None,
        clinic_address=None,
        link_expires_at=None,
    )
    return [sample_context(kind, treatment_type, ride_mode=mode) for mode in modes] + [sparse]
