"""The e-mail channel against a real SMTP server on loopback (aiosmtpd, started here): what the server receives, with
and without a login, over STARTTLS and implicit TLS (certificates from trustme's CA), and how each way of failing is
told apart: a 4xx or an unreachable server waits, a 5xx for the recipient or the message is permanent."""

import email
import email.policy
import logging
import socket
import ssl
import traceback
from dataclasses import dataclass

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.notifications.adapters.email_smtp import SmtpChannel
from services.notifications.domain.outgoing import Attachment, DeliveryFailed, Outgoing, Receipt, ReceiptStatus

SENDER = "Lakeside Clinic <no-reply@clinic.example>"
PATIENT = "philippa.quorndon@patients.example"
SUBJECT = "Preparing for your infusion"
BODY = "Hola Philippa: mañana a las 9:00, no coma nada 4 horas antes."
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Treatment\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
USER, PASSWORD = "clinic", "p@ss word"
SERVER_LOG = "mail.log"  # aiosmtpd's own logger: the server stands for the outside world, and logs what it received


def message(message_id: str = "msg-0001", to: str = PATIENT) -> Outgoing:
    return Outgoing(
        message_id=message_id,
        channel="email",
        to=to,
        body=BODY,
        subject=SUBJECT,
        attachments=(Attachment("session.ics", "text/calendar; method=PUBLISH", ICS),),
    )


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    over_tls: bool
    login: LoginPassword | None

    def parsed(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)  # type: ignore[return-value]


class Recorder:
    """An aiosmtpd handler that keeps what it takes, or answers RCPT or DATA with the reply it is given."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        login = session.auth_data if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.ssl is not None, login)
        )
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """aiosmtpd's controller on a port the system picks: read back before the controller's own first connection."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    # handled=False: aiosmtpd answers the refusal itself (535) instead of leaving the client waiting.
    return AuthResult(success=ok, handled=ok, auth_data=auth_data)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def start_server():
    started: list[Controller] = []

    def start(**options) -> tuple[Recorder, int]:
        recorder = Recorder()
        controller = LoopbackController(recorder, hostname="127.0.0.1", port=0, **options)
        controller.start()
        started.append(controller)
        return recorder, controller.port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def plain_server(start_server):
    return start_server()


def channel(url: str, **options) -> SmtpChannel:
    return SmtpChannel(url, SENDER, **options)


def failure_of(smtp: SmtpChannel, outgoing: Outgoing | None = None) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        smtp.send(outgoing or message())
    return caught.value


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- what the server receives -------------------------------------------------------------------------------------


def test_an_email_reaches_the_server_with_its_headers_its_text_and_the_session_as_a_calendar_attachment(plain_server):
    recorder, port = plain_server

    receipt = channel(f"smtp://127.0.0.1:{port}").send(message())

    assert receipt == Receipt(ReceiptStatus.SENT)
    [received] = recorder.received
    assert (received.mail_from, received.rcpt_tos) == ("no-reply@clinic.example", [PATIENT])
    mail = received.parsed()
    assert mail["From"] == SENDER
    assert mail["To"] == PATIENT
    assert mail["Subject"] == SUBJECT
    assert mail["Message-ID"] == "<msg-0001@clinic-services>"
    assert mail["Date"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == BODY
    [calendar] = list(mail.iter_attachments())
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "PUBLISH"
    assert calendar.get_filename() == "session.ics"
    assert calendar.get_payload(decode=True) == ICS


def test_the_same_message_sent_again_carries_the_same_message_id_so_the_receiving_side_can_tell(plain_server):
    recorder, port = plain_server
    smtp = channel(f"smtp://127.0.0.1:{port}")

    smtp.send(message("msg-0002"))
    smtp.send(message("msg-0002"))
    smtp.send(message("msg-0003"))

    assert [received.parsed()["Message-ID"] for received in recorder.received] == [
        "<msg-0002@clinic-services>",
        "<msg-0002@clinic-services>",
        "<msg-0003@clinic-services>",
    ]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_channel_logs_in_with_the_url_s_user_and_percent_decoded_password(start_server):
    recorder, port = start_server(authenticator=authenticator, auth_required=True, auth_require_tls=False)

    channel(f"smtp://{USER}:p%40ss%20word@127.0.0.1:{port}").send(message())

    [received] = recorder.received
    assert received.login == (USER.encode(), PASSWORD.encode())


def test_starttls_secures_the_session_before_the_login_and_verifies_the_server_s_certificate(
    start_server, server_tls, client_tls
):
    # The server refuses everything before STARTTLS and every login outside TLS.
    recorder, port = start_server(
        tls_context=server_tls, require_starttls=True, authenticator=authenticator, auth_required=True
    )

    channel(f"smtp://{USER}:p%40ss%20word@127.0.0.1:{port}?starttls=true", ssl_context=client_tls).send(message())

    [received] = recorder.received
    assert received.over_tls
    assert received.login == (USER.encode(), PASSWORD.encode())


def test_smtps_speaks_tls_from_the_first_byte(start_server, server_tls, client_tls):
    recorder, port = start_server(ssl_context=server_tls)

    channel(f"smtps://127.0.0.1:{port}", ssl_context=client_tls).send(message())

    assert len(recorder.received) == 1


# --- failures -----------------------------------------------------------------------------------------------------


def test_a_certificate_the_channel_does_not_trust_is_a_temporary_failure_and_nothing_is_sent(start_server, server_tls):
    recorder, port = start_server(tls_context=server_tls, require_starttls=True)

    failure = failure_of(channel(f"smtp://127.0.0.1:{port}?starttls=true"))  # the system's CAs: not trustme's

    assert not failure.permanent
    assert "SSLCertVerificationError" in failure.reason
    assert recorder.received == []


def test_starttls_asked_of_a_server_that_does_not_offer_it_is_a_temporary_failure_and_nothing_is_sent(plain_server):
    recorder, port = plain_server

    failure = failure_of(channel(f"smtp://127.0.0.1:{port}?starttls=true"))

    assert not failure.permanent
    assert recorder.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_is_a_temporary_failure(start_server):
    recorder, port = start_server(authenticator=authenticator, auth_required=True, auth_require_tls=False)

    failure = failure_of(channel(f"smtp://{USER}:wrong@127.0.0.1:{port}"))

    assert not failure.permanent
    assert "535" in failure.reason
    assert recorder.received == []


def test_a_closed_port_is_a_temporary_failure():
    failure = failure_of(channel(f"smtp://127.0.0.1:{closed_port()}"))

    assert not failure.permanent
    assert "ConnectionRefusedError" in failure.reason


def test_a_server_that_never_greets_is_given_up_after_the_timeout_as_a_temporary_failure():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the connection; nobody ever answers on it
        port = silent.getsockname()[1]

        failure = failure_of(channel(f"smtp://127.0.0.1:{port}", timeout=0.5))

    assert not failure.permanent
    assert "TimeoutError" in failure.reason


@pytest.mark.parametrize(
    ("stage", "reply", "permanent"),
    [
        ("rcpt_reply", "451 4.3.0 Try again later", False),
        ("rcpt_reply", "452 4.2.2 Mailbox full", False),
        ("rcpt_reply", "550 5.1.1 No such user here", True),
        ("data_reply", "451 4.7.1 Greylisted, come back later", False),
        ("data_reply", "554 5.7.1 Message refused", True),
    ],
)
def test_a_4xx_reply_is_temporary_and_a_5xx_reply_for_the_recipient_or_the_message_is_permanent(
    plain_server, stage, reply, permanent
):
    recorder, port = plain_server
    setattr(recorder, stage, reply)

    failure = failure_of(channel(f"smtp://127.0.0.1:{port}"))

    assert failure.permanent is permanent
    assert reply[:3] in failure.reason
    assert recorder.received == []


def test_an_address_that_cannot_be_a_header_is_a_permanent_failure_and_nothing_is_sent(plain_server):
    recorder, port = plain_server

    failure = failure_of(channel(f"smtp://127.0.0.1:{port}"), message(to=f"{PATIENT}\r\nBcc: all@example.org"))

    assert failure.permanent
    assert recorder.received == []


def test_an_empty_address_is_a_permanent_failure(plain_server):
    recorder, port = plain_server

    failure = failure_of(channel(f"smtp://127.0.0.1:{port}"), message(to=""))

    assert failure.permanent
    assert recorder.received == []


# --- no patient data ----------------------------------------------------------------------------------------------


def test_no_log_line_failure_reason_or_traceback_holds_the_address_the_subject_or_the_text(
    start_server, caplog, plain_server
):
    caplog.set_level(logging.DEBUG)
    recorder, port = plain_server
    failures = []
    channel(f"smtp://127.0.0.1:{port}").send(message())
    for reply in (
        "451 4.3.0 <philippa.quorndon@patients.example> try later",
        "550 5.1.1 <philippa.quorndon@patients.example> unknown",
    ):
        recorder.rcpt_reply = reply
        failures.append(failure_of(channel(f"smtp://127.0.0.1:{port}")))
    recorder.rcpt_reply = None
    recorder.data_reply = "554 5.7.1 Philippa's message refused"
    failures.append(failure_of(channel(f"smtp://127.0.0.1:{port}")))
    failures.append(failure_of(channel(f"smtp://127.0.0.1:{closed_port()}")))
    failures.append(failure_of(channel(f"smtp://127.0.0.1:{port}"), message(to=f"{PATIENT}\nBcc: x@example.org")))

    texts = [record.getMessage() for record in caplog.records if not record.name.startswith(SERVER_LOG)]
    texts += [line for failure in failures for line in traceback.format_exception(failure)]
    assert any("msg-0001" in text for text in texts), "the channel logs the message id"
    for private in (PATIENT, "philippa", "Philippa", SUBJECT, "mañana", "p@ss"):
        assert not [text for text in texts if private in text], private
