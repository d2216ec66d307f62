"""The clinic's wording: every kind in English and Spanish, right for the treatment, dates in the clinic's zone and
the message's language; texts short; a broken template refused at start with its file and line."""

import importlib.util
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.notifications.adapters.templates import (
    CHANNELS_OF,
    TEMPLATES_DIR,
    TemplateLibrary,
    TemplateProblem,
)
from services.notifications.domain.outgoing import EMAIL, SMS
from services.notifications.domain.wording import (
    ESCORT_PATIENT_READY,
    ESCORT_RIDE_REQUEST,
    FOLLOW_UP,
    KINDS,
    PREPARATION_INSTRUCTIONS,
    REMINDER,
    RIDE_AT_RISK,
    RIDE_CONFIRMATION,
    SESSION_CANCELLED,
    SESSION_RESCHEDULED,
    MessageContext,
    Rendered,
)

CLINIC_ZONE = ZoneInfo("America/New_York")
# Booked as an instant in UTC; the message must say 9:00 in the clinic, not 14:00.
STARTS_AT = datetime(2027, 1, 5, 14, 0, tzinfo=UTC).astimezone(CLINIC_ZONE)
TREATMENTS = {
    "iv_infusion": ("IV ketamine infusion", 45, 45),
    "esketamine_nasal_spray": ("Esketamine nasal spray", 15, 120),
}
LINK = "https://rides.example.org/escort/rides/ride-7?token=abc.def"
PATIENT_KINDS = (PREPARATION_INSTRUCTIONS, REMINDER, SESSION_RESCHEDULED, SESSION_CANCELLED, RIDE_CONFIRMATION)
SMS_LIMIT = 320
PREPARATION_SMS_LIMIT = 480


def context(treatment_type="iv_infusion", **changes) -> MessageContext:
    label, treatment, recovery = TREATMENTS[treatment_type]
    return replace(
        MessageContext(
            clinic_name="Riverside Ketamine Clinic",
            clinic_address="1200 Riverside Avenue, Suite 300, Jacksonville, FL 32204",
            treatment_type=treatment_type,
            treatment_label=label,
            patient_first_name="Ann",
            starts_at=STARTS_AT,
            arrive_by=STARTS_AT - timedelta(minutes=15),
            treatment_minutes=treatment,
            recovery_minutes=recovery,
            pickup_at=STARTS_AT + timedelta(minutes=treatment + recovery),
            previous_starts_at=STARTS_AT - timedelta(days=1, hours=1),
            ride_mode="escort",
            escort_first_name="Bo",
            link=LINK,
            link_expires_at=STARTS_AT - timedelta(hours=1),
            hours_before=48,
            at_risk="24h",
            session_id="session-42",
        ),
        **changes,
    )


@pytest.fixture(scope="module")
def library() -> TemplateLibrary:
    return TemplateLibrary()


def render(library, kind, *, channel=EMAIL, language="en", treatment_type="iv_infusion", **changes) -> Rendered:
    return library.render(
        kind,
        channel=channel,
        language=language,
        treatment_type=treatment_type,
        context=context(treatment_type, **changes),
    )


def copied_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    return folder


# Every kind, every language, both treatments.

DATES = {"en": ("Jan 5", "January 5, 2027"), "es": ("5 ene", "5 de enero de 2027")}
ENGLISH_ONLY = re.compile(r"\b(Tuesday|January|Tue|Jan|AM|PM|Hello)\b")


@pytest.mark.parametrize("treatment_type", TREATMENTS)
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_in_each_language_for_each_treatment_with_its_dates_in_the_clinics_zone(
    library, kind, language, treatment_type
):
    for channel in CHANNELS_OF[kind]:
        message = render(library, kind, channel=channel, language=language, treatment_type=treatment_type)

        assert message.body.strip() and "None" not in message.body
        assert (message.subject is not None) == (channel == EMAIL)
        if kind not in (ESCORT_PATIENT_READY, FOLLOW_UP):
            assert any(date in message.body for date in DATES[language])
            assert "9:00" in message.body or "10:30" in message.body or "11:15" in message.body
            assert "14:00" not in message.body
        if language == "es":
            assert not ENGLISH_ONLY.search(f"{message.subject or ''} {message.body}")


def test_dates_are_written_in_spanish_for_a_spanish_message(library):
    message = render(library, PREPARATION_INSTRUCTIONS, language="es")

    assert "martes, 5 de enero de 2027" in message.subject
    assert "a las 9:00" in message.body and "antes de las 8:45" in message.body


def test_times_are_written_with_plain_spaces_so_a_text_stays_in_the_sms_alphabet(library):
    message = render(library, REMINDER, channel=SMS)

    assert "9:00 AM" in message.body
    assert "\u202f" not in message.body and "\u00a0" not in message.body


def test_a_language_without_templates_falls_back_to_english(library):
    message = render(library, REMINDER, channel=SMS, language="fr")

    assert message.body.startswith("Reminder from Riverside Ketamine Clinic")
    assert "Tue, Jan 5 at 9:00 AM" in message.body


def test_a_treatment_without_its_own_wording_gets_the_general_one(library):
    intake = replace(
        context(),
        treatment_type="intake_assessment",
        treatment_label="Intake assessment",
        treatment_minutes=60,
        recovery_minutes=0,
        ride_mode=None,
        escort_first_name=None,
    )

    message = library.render(
        PREPARATION_INSTRUCTIONS, channel=EMAIL, language="en", treatment_type="intake_assessment", context=intake
    )

    assert message.subject == "Your intake assessment at Riverside Ketamine Clinic on Tuesday, January 5, 2027"
    assert "takes about 1 hour." in message.body
    assert "medications" in message.body
    assert "drive" not in message.body and "light meal" not in message.body


# Preparation: right for the treatment.


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_esketamine_instructions_say_no_food_for_2_hours_no_liquids_for_30_minutes_and_2_hours_of_monitoring(
    library, channel
):
    body = render(library, PREPARATION_INSTRUCTIONS, channel=channel, treatment_type="esketamine_nasal_spray").body

    assert "no food for 2 hours" in body.lower()
    assert "no liquids for 30 minutes" in body.lower()
    assert "at least 2 hours" in body
    assert "blood pressure" in body and "before" in body and "after" in body
    assert "light meal" not in body


def test_esketamine_email_says_until_when_to_eat_and_drink(library):
    body = render(library, PREPARATION_INSTRUCTIONS, treatment_type="esketamine_nasal_spray").body

    assert "nothing to eat after 7:00 AM" in body
    assert "nothing to drink after 8:30 AM" in body


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_iv_instructions_say_a_light_meal_and_how_long_the_infusion_and_recovery_last(library, channel):
    body = render(library, PREPARATION_INSTRUCTIONS, channel=channel, treatment_type="iv_infusion").body

    assert "light meal" in body
    assert "No food for 2 hours" not in body
    if channel == EMAIL:
        assert "The infusion takes about 45 minutes" in body and "for about 45 minutes" in body
    else:
        assert "about 1 hour and 30 minutes" in body


@pytest.mark.parametrize("treatment_type", TREATMENTS)
@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_preparation_says_when_to_arrive_what_to_wear_and_bring_no_driving_until_the_next_day_and_the_pickup(
    library, treatment_type, channel
):
    body = render(library, PREPARATION_INSTRUCTIONS, channel=channel, treatment_type=treatment_type).body
    pickup = {"iv_infusion": "10:30 AM", "esketamine_nasal_spray": "11:15 AM"}[treatment_type]

    assert "arrive by 8:45 AM" in body
    assert "comfortable" in body and "medications" in body
    assert "until the next day" in body and "night's sleep" in body
    assert f"Bo will pick you up at {pickup}" in body or f"Bo picks you up at {pickup}" in body


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_preparation_names_the_booked_ride_or_asks_for_someone_when_there_is_no_escort(library, channel):
    booked = render(library, PREPARATION_INSTRUCTIONS, channel=channel, ride_mode="provider", escort_first_name=None)
    unarranged = render(library, PREPARATION_INSTRUCTIONS, channel=channel, ride_mode=None, escort_first_name=None)

    assert "ride" in booked.body and "10:30 AM" in booked.body
    assert "pick you up at 10:30 AM" in unarranged.body
    assert "until the next day" in booked.body and "until the next day" in unarranged.body


def test_spanish_esketamine_instructions_carry_the_same_fasting_and_monitoring(library):
    body = render(
        library, PREPARATION_INSTRUCTIONS, language="es", treatment_type="esketamine_nasal_spray", channel=SMS
    ).body

    assert "Nada de comida 2 horas antes ni de líquidos 30 minutos antes" in body
    assert "al menos 2 horas" in body
    assert "No conduzca hasta el día siguiente" in body and "Bo le recoge a las 11:15" in body


def test_without_a_first_name_the_greeting_still_reads_well(library):
    body = render(library, PREPARATION_INSTRUCTIONS, patient_first_name=None, escort_first_name=None).body

    assert body.startswith("Hello,\n")
    assert "Your escort will pick you up at 10:30 AM" in body


# The other kinds.


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_a_reminder_repeats_the_time_the_arrival_the_fasting_and_the_ride_home(library, channel):
    body = render(library, REMINDER, channel=channel, treatment_type="esketamine_nasal_spray").body

    assert "9:00 AM" in body and "arrive by 8:45 AM" in body
    assert "No food for 2 hours" in body and "no liquids for 30 minutes" in body
    assert "until the next day" in body and "11:15 AM" in body


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_a_reschedule_gives_the_new_time_and_the_old_one(library, channel):
    message = render(library, SESSION_RESCHEDULED, channel=channel)

    assert "9:00 AM" in message.body and "8:00 AM" in message.body
    assert "arrive by 8:45 AM" in message.body and "10:30 AM" in message.body
    if channel == EMAIL:
        assert "Tuesday, January 5, 2027 at 9:00 AM" in message.subject
        assert "instead of Monday, January 4, 2027 at 8:00 AM" in message.body


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_a_cancellation_names_the_session_and_how_to_book_again(library, channel):
    body = render(library, SESSION_CANCELLED, channel=channel).body

    assert "IV ketamine infusion" in body and "9:00 AM" in body and "cancelled" in body
    assert "To book a new time" in body and "call us" in body
    assert "Bo" in body


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_a_ride_confirmation_says_who_picks_the_patient_up_and_when(library, channel):
    by_escort = render(library, RIDE_CONFIRMATION, channel=channel).body
    by_service = render(library, RIDE_CONFIRMATION, channel=channel, ride_mode="provider", escort_first_name=None).body

    assert "Bo" in by_escort and "10:30 AM" in by_escort
    assert "ride service" in by_service and "10:30 AM" in by_service


def test_the_escort_text_carries_the_clinic_the_pickup_and_the_link_until_when_it_works(library):
    body = render(library, ESCORT_RIDE_REQUEST, channel=SMS).body

    assert body.startswith("Hello Bo, Riverside Ketamine Clinic here.")
    assert "Pickup: Tue, Jan 5 at 10:30 AM, 1200 Riverside Avenue" in body
    assert "(until Tue, Jan 5 8:00 AM)" in body
    assert body.endswith(LINK)
    assert "Ann" not in body


def test_the_escort_email_carries_the_link_on_its_own_line(library):
    message = render(library, ESCORT_RIDE_REQUEST)

    assert LINK in message.body.splitlines()
    assert "The link works until Tuesday, January 5, 2027 at 8:00 AM." in message.body


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_the_patient_ready_message_asks_the_escort_to_come_now_to_the_clinics_address(library, channel):
    body = render(library, ESCORT_PATIENT_READY, channel=channel).body

    assert "come" in body and "now" in body
    assert "1200 Riverside Avenue, Suite 300, Jacksonville, FL 32204" in body
    assert "Ann" not in body


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("at_risk", ["24h", "2h", "declined"])
def test_the_front_desks_alert_names_the_session_the_ride_and_the_threshold_but_never_the_patient(
    library, language, at_risk
):
    message = render(library, RIDE_AT_RISK, language=language, at_risk=at_risk, ride_mode="provider")

    assert "session-42" in message.subject and at_risk in message.subject
    assert "session-42" in message.body and at_risk in message.body
    assert "ride service" in message.body or "servicio de transporte" in message.body
    assert "Ann" not in f"{message.subject} {message.body}"


def test_the_front_desks_alert_goes_by_email_only(library):
    assert CHANNELS_OF[RIDE_AT_RISK] == (EMAIL,)
    with pytest.raises(TemplateProblem, match="no template for ride_at_risk by sms"):
        render(library, RIDE_AT_RISK, channel=SMS)


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_the_follow_up_asks_how_they_feel_and_to_call_with_concerns(library, channel):
    body = render(library, FOLLOW_UP, channel=channel).body

    assert body.startswith("Hello Ann")
    assert "feeling" in body and "call us" in body


@pytest.mark.parametrize("treatment_type", TREATMENTS)
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("ride_mode", ["escort", "provider", None])
def test_texts_stay_short_and_the_preparation_text_not_much_longer(library, treatment_type, language, ride_mode):
    for kind in KINDS:
        if SMS not in CHANNELS_OF[kind]:
            continue
        body = render(
            library, kind, channel=SMS, language=language, treatment_type=treatment_type, ride_mode=ride_mode
        ).body
        limit = PREPARATION_SMS_LIMIT if kind == PREPARATION_INSTRUCTIONS else SMS_LIMIT
        assert len(body) <= limit, (kind, len(body))
        assert "\n" not in body


def test_emails_say_more_than_their_texts(library):
    for kind in PATIENT_KINDS:
        assert len(render(library, kind).body) > len(render(library, kind, channel=SMS).body)


# Checked at start.

BREAKAGES = {
    "a syntax error": ("es/reminder.sms.j2", 4, "{%- elif", "{%- elsif", "unknown tag 'elsif'"),
    "an unknown variable in a branch the samples never take": (
        "en/session_cancelled.email.j2",
        8,
        "Please let",
        "{{ patient_surname }} please let",
        "unknown variable 'patient_surname'",
    ),
    "an unknown filter": ("en/follow_up.sms.j2", 2, "yesterday", "{{ starts_at|weekday }}", "unknown filter 'weekday'"),
    "a value the message does not have": (
        "en/follow_up.sms.j2",
        2,
        "yesterday",
        "{{ link }}",
        "prints a value this message does not have",
    ),
    "an e-mail without its subject": (
        "es/follow_up.email.j2",
        2,
        "Subject: ",
        "Asunto: ",
        "first line must be 'Subject: ...'",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_template_is_refused_at_start_naming_its_file_and_line(tmp_path, breakage):
    name, line, old, new, message = BREAKAGES[breakage]
    folder = copied_templates(tmp_path)
    path = folder / name
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines))

    with pytest.raises(TemplateProblem) as refused:
        TemplateLibrary(folder)

    assert str(refused.value).startswith(f"{path}:")
    assert message in str(refused.value)
    if breakage != "an e-mail without its subject":
        assert str(refused.value).startswith(f"{path}:{line}: ")
    assert refused.value.file == str(path)


def test_a_mistake_in_a_shared_piece_is_reported_in_that_piece(tmp_path):
    folder = copied_templates(tmp_path)
    piece = folder / "en" / "_ride_home.email.j2"
    piece.write_text(piece.read_text().replace("{{ pickup_at|clock }}", "{{ pickup_at|clok }}", 1))

    with pytest.raises(TemplateProblem, match=rf"^{re.escape(str(piece))}:\d+: unknown filter 'clok'"):
        TemplateLibrary(folder)


def test_a_kind_missing_in_english_is_refused_at_start(tmp_path):
    folder = copied_templates(tmp_path)
    (folder / "en" / "follow_up.sms.j2").unlink()

    with pytest.raises(TemplateProblem, match=r"en/follow_up\.sms\.j2: missing"):
        TemplateLibrary(folder)


def test_a_kind_missing_in_spanish_falls_back_to_english(tmp_path):
    folder = copied_templates(tmp_path)
    (folder / "es" / "follow_up.sms.j2").unlink()

    message = render(TemplateLibrary(folder), FOLLOW_UP, channel=SMS, language="es")

    assert message.body.startswith("Hello Ann, thank you for coming")


def test_a_file_named_for_no_kind_is_refused_rather_than_silently_never_used(tmp_path):
    folder = copied_templates(tmp_path)
    (folder / "en" / "remnder.sms.j2").write_text("Reminder")

    with pytest.raises(TemplateProblem, match=r"remnder\.sms\.j2: not a template's name"):
        TemplateLibrary(folder)


def test_a_folder_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(TemplateProblem, match="no such folder"):
        TemplateLibrary(tmp_path / "nowhere")


def test_the_clinics_own_folder_is_used_with_the_file_it_changed(tmp_path):
    folder = copied_templates(tmp_path)
    (folder / "en" / "follow_up.sms.j2").write_text(
        "Hi {{ patient_first_name }}, it's {{ clinic_name }}: we are thinking of you today. Call 904-555-0100.\n"
    )

    library = TemplateLibrary.from_environment({"NOTIFICATION_TEMPLATES_DIR": str(folder)})

    assert library.directory == folder.resolve()
    assert render(library, FOLLOW_UP, channel=SMS).body == (
        "Hi Ann, it's Riverside Ketamine Clinic: we are thinking of you today. Call 904-555-0100."
    )
    assert render(library, REMINDER, channel=SMS).body.startswith("Reminder from Riverside Ketamine Clinic")


def test_without_the_setting_the_shipped_templates_are_used():
    assert TemplateLibrary.from_environment({}).directory == TEMPLATES_DIR.resolve()


def test_a_treatment_variant_in_english_wins_over_the_general_spanish_wording(tmp_path):
    folder = copied_templates(tmp_path)
    (folder / "es" / "preparation_instructions.esketamine_nasal_spray.sms.j2").unlink()

    body = render(
        TemplateLibrary(folder),
        PREPARATION_INSTRUCTIONS,
        channel=SMS,
        language="es",
        treatment_type="esketamine_nasal_spray",
    ).body

    assert "No food for 2 hours and no liquids for 30 minutes" in body


# The README's examples.


def test_the_rendered_preparation_emails_in_the_docs_match_the_templates(library):
    script = Path(__file__).resolve().parents[2] / "docs" / "messages" / "render.py"
    spec = importlib.util.spec_from_file_location("render_messages", script)
    render_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_script)

    for treatment_type in render_script.TREATMENT_TYPES:
        shown = render_script.path_for(treatment_type).read_text(encoding="utf-8")
        assert shown == render_script.preparation_email(library, treatment_type), (
            "run .venv/bin/python docs/messages/render.py"
        )
        assert shown.startswith("Subject: Preparing for your ")


def test_a_file_edited_while_the_service_runs_waits_for_the_restart_that_checks_it(tmp_path):
    folder = copied_templates(tmp_path)
    library = TemplateLibrary(folder)
    before = render(library, FOLLOW_UP, channel=SMS).body

    (folder / "en" / "follow_up.sms.j2").write_text("{{ no_such_field }}")

    assert render(library, FOLLOW_UP, channel=SMS).body == before
