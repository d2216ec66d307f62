"""E-mail over SMTP: the ``email`` channel, with the standard library's smtplib.

``SMTP_URL`` names the server: ``smtp://user:pass@host:587?starttls=true`` (STARTTLS), ``smtps://user:pass@host``
(TLS from the first byte, port 465 by default) or ``smtp://host:1025`` (plain, no login: a mail catcher). TLS
always verifies the server's certificate.

SMTP has no idempotency key: a crash after the server took a message and before our record of it sends it again.
Every message carries ``Message-ID: <message id@clinic-services>``, the same on a resend, so the receiving side can
tell the copy.

No address, subject or text is ever logged or put in a failure's reason: a server's reply often quotes the
recipient, so only its code and the exception's type are kept.
"""

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import formatdate, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from shared.redaction import describe

from ..domain.outgoing import EMAIL, Attachment, DeliveryFailed, Outgoing, Receipt, ReceiptStatus

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "clinic-services"
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_MESSAGE_ID_LOCAL_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class InvalidSmtpUrl(ValueError):
    """The SMTP_URL cannot be used; the text never repeats the URL, which may hold a password."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise InvalidSmtpUrl("not a URL with a valid port") from None
        if parts.scheme not in DEFAULT_PORTS:
            raise InvalidSmtpUrl("the scheme must be smtp:// or smtps://")
        if not parts.hostname:
            raise InvalidSmtpUrl("names no host")
        if parts.path not in ("", "/") or parts.fragment:
            raise InvalidSmtpUrl("takes no path or fragment, only ?starttls=true|false")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - {"starttls"}
        if unknown:
            raise InvalidSmtpUrl(f"unknown parameters: {', '.join(sorted(unknown))}")
        starttls = _flag(query.get("starttls", ["false"])[-1])
        if starttls and parts.scheme == "smtps":
            raise InvalidSmtpUrl("smtps:// is TLS from the start: starttls=true does not apply")
        if (parts.username is None) != (parts.password is None):
            raise InvalidSmtpUrl("give both a user and a password, or neither")
        return cls(
            host=parts.hostname,
            port=port or DEFAULT_PORTS[parts.scheme],
            implicit_tls=parts.scheme == "smtps",
            starttls=starttls,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def describe(self) -> str:
        """Where mail goes, for a start-up log line: never the credentials."""
        security = "TLS" if self.implicit_tls else "STARTTLS" if self.starttls else "no TLS"
        login = ", with a login" if self.username else ""
        return f"{self.host}:{self.port} ({security}{login})"


def _flag(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise InvalidSmtpUrl("starttls must be true or false")


def envelope_sender(sender: str) -> str:
    """The address of ``SMTP_FROM`` (``clinic@example.org`` or ``Clinic <clinic@example.org>``), or ValueError."""
    _, address = parseaddr(sender)
    if not address or "@" not in address or any(char in sender for char in "\r\n"):
        raise ValueError("must be an e-mail address, optionally with a display name: Clinic <clinic@example.org>")
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        raise ValueError(
            "must be an e-mail address, optionally with a display name: Clinic <clinic@example.org>"
        ) from None
    return address


class SmtpChannel:
    name = EMAIL

    def __init__(
        self,
        url: str,
        sender: str,
        *,
        timeout: float = 10,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.server = SmtpServer.from_url(url)
        self.sender = sender
        self._envelope_sender = envelope_sender(sender)
        self.timeout = timeout
        # A default context verifies the certificate and the host name; tests pass one that trusts their own CA.
        self._ssl_context = ssl_context or ssl.create_default_context()

    def send(self, outgoing: Outgoing) -> Receipt:
        message = self._message(outgoing)
        client = self._connect()
        try:
            self._transaction(client, message, outgoing.to)
        finally:
            _close(client)
        log.info("message %s handed to the SMTP server (%s)", outgoing.message_id, self.name)
        return Receipt(ReceiptStatus.SENT)

    def _message(self, outgoing: Outgoing) -> EmailMessage:
        if not _MESSAGE_ID_LOCAL_PART.fullmatch(outgoing.message_id):
            # Our own ids are safe in a Message-ID; anything else is a bug upstream, not a delivery problem.
            raise ValueError("the message id cannot be used in a Message-ID header")
        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = outgoing.to
            message["Subject"] = outgoing.subject or ""
            message["Date"] = formatdate(localtime=False, usegmt=True)
            message["Message-ID"] = f"<{outgoing.message_id}@{MESSAGE_ID_DOMAIN}>"
            # RFC 3834: out-of-office replies and other robots do not answer a message that says this.
            message["Auto-Submitted"] = "auto-generated"
            message.set_content(outgoing.body)
            for attachment in outgoing.attachments:
                _attach(message, attachment)
        except (ValueError, TypeError, IndexError) as failure:
            # The email package's messages quote the offending header value: the address.
            raise DeliveryFailed(f"the e-mail could not be built ({type(failure).__name__})", permanent=True) from None
        if not parseaddr(str(message["To"]))[1]:
            raise DeliveryFailed("no usable recipient address", permanent=True)
        return message

    def _connect(self) -> smtplib.SMTP:
        """An open session, secured and logged in as SMTP_URL asks; any failure here is ours or the network's."""
        client: smtplib.SMTP | None = None
        try:
            if self.server.implicit_tls:
                client = smtplib.SMTP_SSL(
                    self.server.host, self.server.port, timeout=self.timeout, context=self._ssl_context
                )
            else:
                client = smtplib.SMTP(self.server.host, self.server.port, timeout=self.timeout)
            client.ehlo()
            if self.server.starttls:
                client.starttls(context=self._ssl_context)
                client.ehlo()
            if self.server.username is not None and self.server.password is not None:
                client.login(self.server.username, self.server.password)
            return client
        except smtplib.SMTPAuthenticationError as failure:
            _close(client)
            raise DeliveryFailed(f"the SMTP server refused our login ({failure.smtp_code})", permanent=False) from None
        except smtplib.SMTPResponseException as failure:
            _close(client)
            raise DeliveryFailed(
                f"the SMTP server answered {failure.smtp_code} before sending ({type(failure).__name__})",
                permanent=False,
            ) from None
        except (smtplib.SMTPException, OSError) as failure:
            # Refused, timed out, TLS not offered or not trusted: none of it is the recipient's doing.
            _close(client)
            raise DeliveryFailed(
                f"the SMTP session could not be opened ({describe(failure)})", permanent=False
            ) from None

    def _transaction(self, client: smtplib.SMTP, message: EmailMessage, recipient: str) -> None:
        try:
            client.send_message(message, from_addr=self._envelope_sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as failure:
            codes = [code for code, _ in failure.recipients.values()]
            code = codes[0] if codes else 0
            raise DeliveryFailed(
                f"the SMTP server refused the recipient ({code}, SMTPRecipientsRefused)", permanent=_is_permanent(code)
            ) from None
        except smtplib.SMTPDataError as failure:
            raise DeliveryFailed(
                f"the SMTP server refused the message ({failure.smtp_code}, SMTPDataError)",
                permanent=_is_permanent(failure.smtp_code),
            ) from None
        except smtplib.SMTPSenderRefused as failure:
            # Our SMTP_FROM is refused: every message would be, and none is the recipient's fault.
            raise DeliveryFailed(
                f"the SMTP server refused our sender ({failure.smtp_code}, SMTPSenderRefused)", permanent=False
            ) from None
        except smtplib.SMTPNotSupportedError:
            # An address that needs SMTPUTF8, at a server without it: this address cannot be reached this way.
            raise DeliveryFailed(
                "the SMTP server cannot take this address (SMTPNotSupportedError)", permanent=True
            ) from None
        except smtplib.SMTPResponseException as failure:
            raise DeliveryFailed(
                f"the SMTP server answered {failure.smtp_code} ({type(failure).__name__})", permanent=False
            ) from None
        except (smtplib.SMTPException, OSError) as failure:
            raise DeliveryFailed(f"the SMTP session failed ({describe(failure)})", permanent=False) from None


def _is_permanent(code: int) -> bool:
    return 500 <= code <= 599


def _attach(message: EmailMessage, attachment: Attachment) -> None:
    header = Message()
    header["Content-Type"] = attachment.content_type
    # The first pair is the type itself (e.g. text/calendar; method=PUBLISH gives method as the one parameter).
    params = dict((header.get_params() or [])[1:])
    message.add_attachment(
        attachment.data,
        maintype=header.get_content_maintype(),
        subtype=header.get_content_subtype(),
        filename=attachment.filename,
        params=params,
    )


def _close(client: smtplib.SMTP | None) -> None:
    """QUIT politely, then close: once the message is taken, a failing QUIT must not turn into a resend."""
    if client is None:
        return
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()
