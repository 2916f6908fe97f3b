"""The parts a case is made of beside its own fields, and the fixed periods of its rules."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from domain.ladder import Channel
from domain.models import ActionStatus, CustomerKind, LetterStatus, Stage

ZERO = Decimal("0.00")
REVERSAL_WATCH = timedelta(days=14)
# Steps with legal effect: they must really happen before the ladder goes on.
LEGAL_STAGES = frozenset({Stage.FORMAL_NOTICE, Stage.LITIGATION})
# What the trail counts as a step that happened, for the hand-over and for what messages may say.
HAPPENED = frozenset({ActionStatus.SENT, ActionStatus.DONE})
# The trail's channel column also holds "bank", "billing", "customer", "law": these are the channels.
CHANNEL_NAMES = frozenset(c.value for c in Channel)
# A notice refused or left unclaimed was still presented: the deadline it gives runs from then.
# A registered letter is presented the business day after it was posted at the soonest: a lower bound
# of the day the notice's deadline starts, when the provider never reports the presentation.
POSTAL_DELAY_BUSINESS_DAYS = 1
NOTICE_PRESENTED = frozenset({LetterStatus.DELIVERED, LetterStatus.REFUSED, LetterStatus.UNCLAIMED})
# Limitation of the claim, from the due date or the debtor's last acknowledgement of the debt (a
# payment, a promise, a plan: Code civil 2240): 5 years between traders or a trader and a
# non-trader (Code de commerce L110-4), 2 years for a professional against a consumer (Code de la
# consommation L218-2). A person is warned in time to file a claim (2241), which interrupts it.
LIMITATION_YEARS = {CustomerKind.BUSINESS: 5, CustomerKind.CONSUMER: 2}
LIMITATION_WARNING = timedelta(days=90)
LIMITATION_TASK = "limitation"
# Reports about messages the case has not recorded yet, kept until it does (domain.case_deliveries).
MAX_EARLY_EVENTS = 20
# Call tasks opened when a provider reports an address or number unusable, by channel.
UNUSABLE_TASK = {
    Channel.EMAIL: "email_bounced",
    Channel.SMS: "sms_undelivered",
    Channel.REGISTERED_LETTER: "postal_address",
}


class PaymentRecord(BaseModel):
    payment_id: str
    amount: Decimal
    received_on: date
    reference: str | None = None
    reversed: bool = False


class CallTask(BaseModel):
    step: str
    opened_at: datetime


class Hold(BaseModel):
    """A formal notice or hand-over that did not certainly happen: the ladder waits for it."""

    index: int
    # The next attempt after a failure; None after an unconfirmed send, which only a person can settle
    # (the sent-ledger never sends an in-doubt message again).
    retry_at: datetime | None
