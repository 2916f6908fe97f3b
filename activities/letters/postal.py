"""Posting a registered letter: the one postal interface, and its outbox implementation.

A real provider adapter (printing and posting on paper, or an electronic registered letter) plugs in
behind the same `ChannelAdapter[Letter]`; the outbox is the default, for development and tests.
"""

from dataclasses import dataclass, field
from pathlib import Path

from activities.delivery import Receipt
from activities.outbox import Outbox
from domain.models import PostalAddress


@dataclass(frozen=True)
class Letter:
    message_id: str
    recipient: str
    address: PostalAddress
    html: str
    # What is printed and posted (or sent as an LRE); the case file keeps the same bytes.
    pdf: bytes
    # The recipient's e-mail, for an electronic registered letter (LRE) where one is allowed.
    email: str
    # A business may get an LRE; a consumer only after consenting to electronic delivery (CPCE L100).
    electronic_allowed: bool
    registered: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def sent_to(self) -> str:
        a = self.address
        return ", ".join([self.recipient, *a.lines, f"{a.postcode} {a.city}", a.country])

    @property
    def sent_content(self) -> bytes:
        return self.pdf

    @property
    def document(self) -> bytes:
        return self.pdf


class OutboxLetters:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self._outbox = Outbox(root, "letters")

    def send(self, message: Letter) -> Receipt:
        self._outbox.write(
            message.message_id,
            {
                "message_id": message.message_id,
                "recipient": message.recipient,
                "address": message.address.model_dump(),
                "registered": message.registered,
            },
            {"letter.html": message.html, "letter.pdf": message.pdf},
        )
        return Receipt(provider=self.name, provider_message_id=message.message_id)
