"""What the creditor claims, in figures (CPC 1407: "le décompte des différents éléments de la créance
ainsi que le fondement de celle-ci"), and what happened with the debtor besides the reminders.

Amounts stay `Decimal` until a template formats them. A business owes L441-10 penalties at each
semester's rate (with the rate's source) and the 40 EUR indemnity; a consumer owes neither, only
legal-rate interest from the formal notice, which is stated as a ground, not quantified here.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from activities.rendering import business_claim, penalty_policy
from domain import penalties
from domain.delivery import HandoverRequest
from domain.ladder import Channel
from domain.models import ActionStatus, CustomerKind, SentMessage
from domain.money import to_cents
from domain.penalties import RECOVERY_INDEMNITY
from domain.rates import MissingRate

ZERO = Decimal("0.00")
# The case's own records of disputes, promises and plans (domain.case_events), as the trail names them.
EVENT_STEPS = {
    "dispute_opened": "Contestation",
    "dispute_resolved": "Contestation tranchée",
    "promise_to_pay": "Promesse de paiement",
    "installment_plan_agreed": "Échéancier accordé",
}
FORMAL_NOTICE = "formal_notice"


@dataclass(frozen=True)
class RateSegment:
    first_day: date
    last_day: date
    days: int
    principal: Decimal
    rate_percent: Decimal
    interest: Decimal  # to the cent, for display; the total is rounded once from the exact segments
    source: str


@dataclass(frozen=True)
class Claim:
    business: bool
    principal: Decimal
    penalties: Decimal | None  # None: not owed (consumer) or not quantified (rate missing)
    indemnity: Decimal
    segments: tuple[RateSegment, ...]
    penalties_from: date
    grounds: tuple[str, ...]
    missing_rate: str | None = None
    notice_sent_on: date | None = None

    @property
    def total(self) -> Decimal:
        """What the requête asks for in figures; unquantified penalties are claimed "à parfaire"."""
        return self.principal + (self.penalties or ZERO) + self.indemnity


@dataclass(frozen=True)
class CaseEvent:
    at: datetime
    kind: str
    detail: str


def claim_of(handover: HandoverRequest) -> Claim:
    request = handover.message
    notice = _formal_notice(handover.messages)
    notice_on = notice.sent_at.date() if notice else None
    since = request.due_on + timedelta(days=1)
    grounds = ["Code civil, art. 1103 et 1231-1 (force obligatoire du contrat, facture impayée)"]
    if request.customer.kind is not CustomerKind.BUSINESS:
        grounds.append("Code civil, art. 1231-6 et 1344-1 (intérêts au taux légal à compter de la mise en demeure)")
        return Claim(False, request.balance, None, ZERO, (), since, tuple(grounds), notice_sent_on=notice_on)
    grounds += [
        "Code de commerce, art. L441-10 II (pénalités de retard, taux BCE majoré de 10 points)",
        "Code de commerce, art. D441-5 (indemnité forfaitaire pour frais de recouvrement de 40 euros)",
    ]
    policy = penalty_policy()
    try:
        computed = penalties.late_penalties(business_claim(request), policy)
        segments = tuple(
            RateSegment(
                s.first_day,
                s.last_day,
                s.days,
                s.principal,
                s.rate_percent,
                to_cents(s.interest),
                policy.rates.on(s.first_day).source,
            )
            for s in computed.segments
        )
    except MissingRate as err:
        return Claim(True, request.balance, None, RECOVERY_INDEMNITY, (), since, tuple(grounds), str(err), notice_on)
    # With interest first (Code civil 1343-1) partial payments settled penalties before principal:
    # what is claimed is the principal still due and the penalties not yet paid.
    return Claim(
        True,
        computed.principal_due,
        computed.interest - computed.interest_paid,
        computed.indemnity,
        segments,
        since,
        tuple(grounds),
        notice_sent_on=notice_on,
    )


def _formal_notice(messages: list[SentMessage]) -> SentMessage | None:
    sent = [m for m in messages if m.step == FORMAL_NOTICE and m.status is ActionStatus.SENT]
    return sent[0] if sent else None


def case_events(handover: HandoverRequest) -> list[CaseEvent]:
    """Disputes, promises, plans and what the calls found, in the order they happened."""
    events = []
    for action in handover.actions:
        if action.step in EVENT_STEPS:
            events.append(CaseEvent(action.at, EVENT_STEPS[action.step], action.detail or ""))
        elif action.channel == Channel.CALL.value and action.status is ActionStatus.DONE:
            events.append(CaseEvent(action.at, f"Appel ({action.step})", action.detail or ""))
    return sorted(events, key=lambda e: e.at)
