"""Which channel carries e-mail and which SMS, decided from the environment at start: the local outbox when nothing
is set, SMTP and the gateway when they are, and a refusal naming the variable (never echoing a password) when a
setting is half there or cannot be used."""

import logging

import pytest

from services.notifications.adapters.channels import ChannelSettingsError, channels_from_environment
from services.notifications.adapters.email_smtp import SmtpChannel, SmtpServer
from services.notifications.adapters.local_outbox import LocalOutboxChannel
from services.notifications.adapters.sms_gateway import SmsGatewayChannel
from services.notifications.domain.outgoing import Outgoing, Receipt, ReceiptStatus

SMTP = {
    "SMTP_URL": "smtp://mailer:s3cr%40t@mail.clinic.example:587?starttls=true",
    "SMTP_FROM": "clinic@clinic.example",
}
SMS = {"SMS_GATEWAY_URL": "https://sms.example/api/", "SMS_GATEWAY_TOKEN": "gateway-token"}


def test_with_nothing_configured_both_channels_keep_their_messages_in_the_local_outbox():
    channels = channels_from_environment({})

    assert {name: type(channel) for name, channel in channels.items()} == {
        "email": LocalOutboxChannel,
        "sms": LocalOutboxChannel,
    }
    assert [channel.name for channel in channels.values()] == ["email", "sms"]


def test_the_local_outbox_says_stored_and_logs_only_the_message_id_and_channel(caplog):
    caplog.set_level(logging.DEBUG)
    outgoing = Outgoing("msg-0001", "sms", "+14155550123", "Philippa, your ride is confirmed")

    receipt = LocalOutboxChannel("sms").send(outgoing)

    assert receipt == Receipt(ReceiptStatus.STORED)
    [line] = [record.getMessage() for record in caplog.records]
    assert "msg-0001" in line and "sms" in line
    assert "+1415" not in line and "Philippa" not in line


def test_empty_settings_count_as_unset():
    channels = channels_from_environment(
        {"SMTP_URL": " ", "SMTP_FROM": "", "SMS_GATEWAY_URL": "", "SMS_GATEWAY_TOKEN": ""}
    )

    assert all(isinstance(channel, LocalOutboxChannel) for channel in channels.values())


def test_smtp_settings_give_the_smtp_channel_for_email_with_the_url_read_apart():
    channels = channels_from_environment(SMTP)

    email = channels["email"]
    assert isinstance(email, SmtpChannel)
    assert email.name == "email"
    assert email.sender == "clinic@clinic.example"
    assert email.server == SmtpServer("mail.clinic.example", 587, starttls=True, username="mailer", password="s3cr@t")
    assert isinstance(channels["sms"], LocalOutboxChannel)


def test_gateway_settings_give_the_gateway_channel_for_sms():
    channels = channels_from_environment(SMS)

    sms = channels["sms"]
    assert isinstance(sms, SmsGatewayChannel)
    assert (sms.name, sms.url) == ("sms", "https://sms.example/api")
    assert isinstance(channels["email"], LocalOutboxChannel)


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://mailpit:1025", SmtpServer("mailpit", 1025)),
        ("smtp://relay.example", SmtpServer("relay.example", 25)),
        ("smtps://u:p@relay.example", SmtpServer("relay.example", 465, implicit_tls=True, username="u", password="p")),
        ("smtp://relay.example:587?starttls=false", SmtpServer("relay.example", 587)),
        ("smtp://relay.example:587?starttls=1", SmtpServer("relay.example", 587, starttls=True)),
    ],
)
def test_smtp_urls_are_read_with_their_default_ports_and_security(url, server):
    assert SmtpServer.from_url(url) == server


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://mailer:hunter2@relay.example", "scheme"),
        ("smtp://mailer:hunter2@:587", "host"),
        ("smtp://mailer:hunter2@relay.example:port", "port"),
        ("smtp://mailer:hunter2@relay.example:587?starttls=maybe", "starttls"),
        ("smtps://mailer:hunter2@relay.example?starttls=true", "starttls"),
        ("smtp://mailer:hunter2@relay.example?tls=true", "unknown parameters: tls"),
        ("smtp://mailer:hunter2@relay.example/inbox", "path"),
        ("smtp://mailer@relay.example", "both a user and a password"),
    ],
)
def test_an_smtp_url_that_cannot_be_used_stops_the_start_naming_smtp_url_without_its_password(url, said):
    with pytest.raises(ChannelSettingsError) as refused:
        channels_from_environment({"SMTP_URL": url, "SMTP_FROM": "clinic@clinic.example"})

    assert str(refused.value).startswith("SMTP_URL ")
    assert said in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in repr(refused.value)


@pytest.mark.parametrize("sender", ["not an address", "clinic@", "Clinic <clinic@clinic.example>\r\nBcc: x@y.example"])
def test_an_smtp_from_that_is_not_an_address_stops_the_start_naming_smtp_from(sender):
    with pytest.raises(ChannelSettingsError, match="^SMTP_FROM "):
        channels_from_environment({**SMTP, "SMTP_FROM": sender})


def test_a_display_name_is_allowed_in_smtp_from():
    channels = channels_from_environment({**SMTP, "SMTP_FROM": "Lakeside Clinic <clinic@clinic.example>"})

    assert channels["email"].sender == "Lakeside Clinic <clinic@clinic.example>"


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({"SMTP_URL": SMTP["SMTP_URL"]}, "SMTP_FROM"),
        ({"SMTP_FROM": SMTP["SMTP_FROM"]}, "SMTP_URL"),
        ({"SMS_GATEWAY_URL": SMS["SMS_GATEWAY_URL"]}, "SMS_GATEWAY_TOKEN"),
        ({"SMS_GATEWAY_TOKEN": SMS["SMS_GATEWAY_TOKEN"]}, "SMS_GATEWAY_URL"),
    ],
)
def test_half_a_channel_s_settings_stops_the_start_naming_the_one_missing(environ, missing):
    with pytest.raises(ChannelSettingsError, match=f"^{missing} is not set"):
        channels_from_environment(environ)


@pytest.mark.parametrize(
    "url", ["sms.example", "ftp://sms.example", "https://", "https://sms.example:x", "https://user:pw@sms.example"]
)
def test_a_gateway_url_that_cannot_be_used_stops_the_start_naming_sms_gateway_url(url):
    with pytest.raises(ChannelSettingsError, match="^SMS_GATEWAY_URL ") as refused:
        channels_from_environment({**SMS, "SMS_GATEWAY_URL": url})

    assert "pw" not in str(refused.value)


def test_the_start_up_log_names_where_messages_go_but_no_password_or_token(caplog):
    caplog.set_level(logging.DEBUG)

    channels_from_environment({**SMTP, **SMS})

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "mail.clinic.example:587 (STARTTLS, with a login)" in logged
    assert "https://sms.example" in logged
    assert "s3cr" not in logged and "mailer" not in logged and "gateway-token" not in logged
