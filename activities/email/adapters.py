"""E-mail adapters: SendGrid v3 Mail Send (real) and the local outbox, one contract."""

import base64
import html
import http.client
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment, CustomArg, Disposition, FileContent, FileName, FileType, From, Mail, To

from activities.delivery import InDoubtDeliveryError, PermanentDeliveryError, Receipt, TransientDeliveryError
from activities.outbox import Outbox
from dunning.tracking_ref import CASE_REF_ARG, TrackingRefs

HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class PdfAttachment:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Email:
    message_id: str
    # Ours only: SendGrid gets the opaque case reference instead (it keeps custom args forever).
    workflow_id: str
    to_email: str
    to_name: str
    subject: str
    text: str
    # Tracking fields SendGrid keeps long-term and cannot erase: opaque ids only, never personal data.
    custom_args: dict[str, str]
    notes: tuple[str, ...] = field(default=())
    attachment: PdfAttachment | None = None

    @property
    def sent_to(self) -> str:
        return self.to_email

    @property
    def sent_content(self) -> bytes:
        return self.text.encode()

    @property
    def document(self) -> bytes | None:
        return self.attachment.content if self.attachment else None

    @property
    def html(self) -> str:
        paragraphs = (p.strip() for p in self.text.split("\n\n"))
        return "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs if p)


class SendGridEmail:
    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        host: str,
        from_email: str,
        from_name: str,
        refs: TrackingRefs,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self._api_key = api_key
        self._refs = refs
        self._host = host.rstrip("/")
        self._from = From(from_email, from_name)
        self._timeout = timeout

    def send(self, message: Email) -> Receipt:
        mail = Mail(
            from_email=self._from,
            to_emails=To(message.to_email, message.to_name),
            subject=message.subject,
            plain_text_content=message.text,
            html_content=message.html,
        )
        for key, value in message.custom_args.items():
            mail.add_custom_arg(CustomArg(key, value))
        if message.attachment:
            mail.add_attachment(
                Attachment(
                    FileContent(base64.b64encode(message.attachment.content).decode("ascii")),
                    FileName(message.attachment.filename),
                    FileType("application/pdf"),
                    Disposition("attachment"),
                )
            )
        # Comes back in every event: how the ingress finds the case (starter/webhooks.py).
        mail.add_custom_arg(CustomArg(CASE_REF_ARG, self._refs.ref(message.workflow_id)))
        client = SendGridAPIClient(api_key=self._api_key, host=self._host)
        # The library sets no timeout: without one a stuck connection would hold the activity slot.
        client.client.timeout = self._timeout
        try:
            response = client.send(mail)
        except HTTPError as err:
            status = err.status_code
            body = err.body.decode("utf-8", "replace")[:500] if isinstance(err.body, bytes) else str(err.body)
            if status == 429 or status >= 500:
                raise TransientDeliveryError(f"SendGrid answered {status}: {body}") from err
            raise PermanentDeliveryError(f"SendGrid refused the message ({status}): {body}") from err
        except urllib.error.URLError as err:
            # urllib wraps only what fails while connecting or writing the request (DNS, refused,
            # reset, a timeout): a request not fully written cannot have been accepted.
            raise TransientDeliveryError(f"SendGrid unreachable: {err.reason}") from err
        except (OSError, http.client.HTTPException) as err:
            # Raised while awaiting or reading the answer (a timeout, RemoteDisconnected, a reset, a
            # garbled response): the request may have been received and accepted, only the ledger
            # can stop a resend.
            raise InDoubtDeliveryError(f"SendGrid sent no clear answer ({type(err).__name__}: {err})") from err
        return Receipt(provider=self.name, provider_message_id=response.headers.get("X-Message-Id"))


class OutboxEmail:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self._outbox = Outbox(root, "email")

    def send(self, message: Email) -> Receipt:
        self._outbox.write(
            message.message_id,
            {
                "message_id": message.message_id,
                "to": message.to_email,
                "subject": message.subject,
                "custom_args": message.custom_args,
            },
            {"body.txt": message.text, "body.html": message.html}
            | ({message.attachment.filename: message.attachment.content} if message.attachment else {}),
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)
