"""Decide which invoice each bank line pays: pure, no I/O, rules of bank-statements.md "Matching".

Lines are taken in file order and invoice balances move as allocations and reversals are made, so a
later line in the same file sees what earlier ones did (a payment, then its reversal, then a new
payment that now overpays).

Rules, each tried only on what the previous ones left:

1. ``structured_reference``: a valid RF (ISO 11649) in ``CdtrRefInf/Ref`` equal to an invoice's reference.
2. ``reference_in_text``: known RF references in the free text, spaces removed.
3. ``invoice_number``: invoice numbers in the free text, whatever the separators (``F-2026-0042``,
   ``F20260042``, ``f 2026 0042``).
4. ``payer_and_amount``: the payer is known (IBAN already seen for that customer, or the same name once
   case, accents, civility words, legal forms and word order are ignored) and exactly one open invoice
   of that customer has exactly the paid amount.
5. Otherwise the line goes to the unmatched queue, with the reason.

One invoice found takes the whole amount. Several found are paid their balances when these add up to
the amount, otherwise oldest due date first; money left once all are settled is recorded as excess on
the last of them, never spread over other invoices.

``invoices`` may include settled invoices (balance 0): a second payment quoting one then shows up as an
overpayment on it instead of going to the queue, and a late reversal can reopen it.
"""

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from stdnum import iso11649

from starter.bank.lines import BankLine

Rule = Literal["structured_reference", "reference_in_text", "invoice_number", "payer_and_amount", "manual"]
Outcome = Literal["paid", "partially_paid", "overpaid"]

_ZERO = Decimal(0)
_RF_START = re.compile(r"RF\d\d")
_REFERENCE_MAX = 25  # ISO 11649: RF, two check digits, at most 21 characters
_NUMBER_CHAIN = re.compile(r"[A-Z0-9]+(?:[ \-_./]+[A-Z0-9]+)*")
_TOKEN = re.compile(r"[A-Z0-9]+")
_CIVILITIES = ("M", "MR", "MME", "MRS", "MS", "MLLE", "MISS", "MONSIEUR", "MADAME", "MADEMOISELLE", "DR", "ME")
_LEGAL_FORMS = ("SARL", "SAS", "SASU", "SA", "EURL", "SCI", "SNC", "SCP", "SELARL", "EI", "EIRL")
# Payers' banks add or drop these at will, so they say nothing about who paid.
_NAME_NOISE = frozenset(_CIVILITIES + _LEGAL_FORMS)


class OpenInvoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    invoice_id: str
    customer_id: str
    customer_name: str
    payment_reference: str | None = Field(description="compact RF reference printed on the invoice")
    balance: Decimal
    currency: str
    due_on: date


class Allocation(BaseModel):
    """Money of one bank line put on one invoice: what a `payment_received` signal carries."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["allocation"] = "allocation"
    payment_id: str = Field(description="the line's id, or '<line id>:<invoice id>' when the line is split")
    line_id: str
    invoice_id: str
    customer_id: str
    amount: Decimal
    currency: str
    received_on: date = Field(description="booking date of the line")
    reference: str = Field(description="what the payer wrote: structured reference or remittance text")
    rule: Rule
    outcome: Outcome
    excess: Decimal = Field(description="amount paid beyond the balance; 0 unless overpaid")


class Reversal(BaseModel):
    """A bank reversal cancelling an earlier payment: what a `payment_reversed` signal carries."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["reversal"] = "reversal"
    payment_id: str = Field(description="the cancelled allocation, or the cancelled line if never allocated")
    line_id: str = Field(description="the cancelled line")
    invoice_id: str | None = Field(description="None: the cancelled line was in the unmatched queue")
    amount: Decimal
    currency: str
    reversed_on: date
    reversal_line_id: str
    reason: str


Signal = Annotated[Allocation | Reversal, Field(discriminator="kind")]


class LineReason(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: BankLine
    reason: str


class PriorPayment(BaseModel):
    """A payment from an earlier import that a reversal may cancel, with what it paid."""

    model_config = ConfigDict(frozen=True)

    line: BankLine
    allocations: tuple[Allocation, ...]


class Tally(BaseModel):
    count: int = 0
    total: dict[str, Decimal] = Field(default_factory=dict, description="per currency")

    def add(self, amount: Decimal, currency: str) -> None:
        self.count += 1
        self.total[currency] = self.total.get(currency, _ZERO) + amount


class ReconciliationReport(BaseModel):
    paid: Tally
    partially_paid: Tally
    overpaid: Tally
    excess: dict[str, Decimal] = Field(description="per currency, the part of `overpaid` beyond balances")
    reversed: Tally
    unmatched: Tally
    ignored: Tally
    duplicates: Tally
    id_collisions: int = Field(description="lines whose hashed id collided: check them by hand")


class ReconciliationPlan(BaseModel):
    """What one import will do. `signals` keeps bank order so a reversal follows the payment it undoes."""

    lines: list[BankLine] = Field(description="every line considered (duplicates excluded), file order")
    signals: list[Signal]
    unmatched: list[LineReason]
    ignored: list[LineReason]
    duplicates: list[LineReason] = Field(default_factory=list)

    @property
    def allocations(self) -> list[Allocation]:
        return [signal for signal in self.signals if isinstance(signal, Allocation)]

    @property
    def reversals(self) -> list[Reversal]:
        return [signal for signal in self.signals if isinstance(signal, Reversal)]

    def report(self) -> ReconciliationReport:
        tallies: dict[str, Tally] = defaultdict(Tally)
        excess: dict[str, Decimal] = {}
        for signal in self.signals:
            if isinstance(signal, Allocation):
                tallies[signal.outcome].add(signal.amount, signal.currency)
                if signal.excess:
                    excess[signal.currency] = excess.get(signal.currency, _ZERO) + signal.excess
            else:
                tallies["reversed"].add(signal.amount, signal.currency)
        for name, noted in (("unmatched", self.unmatched), ("ignored", self.ignored), ("duplicates", self.duplicates)):
            for item in noted:
                tallies[name].add(item.line.amount, item.line.currency)
        return ReconciliationReport(
            paid=tallies["paid"],
            partially_paid=tallies["partially_paid"],
            overpaid=tallies["overpaid"],
            excess=excess,
            reversed=tallies["reversed"],
            unmatched=tallies["unmatched"],
            ignored=tallies["ignored"],
            duplicates=tallies["duplicates"],
            id_collisions=sum(line.id_kind == "hash_collision" for line in self.lines),
        )


def match_lines(
    lines: Iterable[BankLine],
    invoices: Sequence[OpenInvoice],
    *,
    known_payer_ibans: Mapping[str, str],
    prior_payments: Sequence[PriorPayment],
) -> ReconciliationPlan:
    """Match lines not imported before; `prior_payments` are the not yet reversed earlier payments a
    reversal in `lines` may cancel, `known_payer_ibans` maps payer IBAN to customer id."""
    return _Matcher(invoices, known_payer_ibans, prior_payments).run(lines)


def make_allocation(
    line: BankLine,
    invoice: OpenInvoice,
    *,
    amount: Decimal,
    balance: Decimal,
    rule: Rule,
    payment_id: str,
) -> Allocation:
    """Allocation of `amount` from `line` to `invoice`, whose balance before it is `balance`."""
    if amount < balance:
        outcome: Outcome = "partially_paid"
    elif amount == balance:
        outcome = "paid"
    else:
        outcome = "overpaid"
    return Allocation(
        payment_id=payment_id,
        line_id=line.payment_id,
        invoice_id=invoice.invoice_id,
        customer_id=invoice.customer_id,
        amount=amount,
        currency=line.currency,
        received_on=line.booked_on,
        reference=line.structured_reference or line.remittance_text,
        rule=rule,
        outcome=outcome,
        excess=amount - max(balance, _ZERO) if outcome == "overpaid" else _ZERO,
    )


def normalise_name(name: str) -> tuple[str, ...]:
    """Name as a sorted tuple of words: no case, accents, punctuation, civility words or legal forms."""
    plain = unicodedata.normalize("NFKD", name.upper())
    plain = "".join(ch if ch.isalnum() else " " for ch in plain if not unicodedata.combining(ch))
    return tuple(sorted(word for word in plain.split() if word not in _NAME_NOISE))


def _compact(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


class _Matcher:
    def __init__(
        self,
        invoices: Sequence[OpenInvoice],
        known_payer_ibans: Mapping[str, str],
        prior_payments: Sequence[PriorPayment],
    ) -> None:
        self.balances = {invoice.invoice_id: invoice.balance for invoice in invoices}
        self.by_reference = {_compact(i.payment_reference): i for i in invoices if i.payment_reference}
        self.by_number = {_compact(invoice.invoice_id): invoice for invoice in invoices}
        self.number_max = max((len(number) for number in self.by_number), default=0)
        self.by_customer: dict[str, list[OpenInvoice]] = defaultdict(list)
        self.customers_by_name: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for invoice in invoices:
            self.by_customer[invoice.customer_id].append(invoice)
            name = normalise_name(invoice.customer_name)
            if name:
                self.customers_by_name[name].add(invoice.customer_id)
        self.customers_by_iban: dict[str, set[str]] = defaultdict(set)
        for iban, customer_id in known_payer_ibans.items():
            self.customers_by_iban[iban].add(customer_id)
        self.payments = list(prior_payments)
        self.reversed: set[str] = set()
        self.lines: list[BankLine] = []
        self.signals: list[Allocation | Reversal] = []
        self.unmatched: list[LineReason] = []
        self.ignored: list[LineReason] = []

    def run(self, lines: Iterable[BankLine]) -> ReconciliationPlan:
        for line in lines:
            self.lines.append(line)
            if line.status != "booked":
                self.ignored.append(LineReason(line=line, reason=f"{line.status}: not booked, not a payment yet"))
            elif line.direction == "debit" and line.reversal:
                self.reverse(line)
            elif line.reversal:
                self.ignored.append(LineReason(line=line, reason="reversal of a debit: not a customer payment"))
            elif line.direction == "debit":
                self.ignored.append(LineReason(line=line, reason="debit without reversal indicator"))
            elif line.amount == 0:
                self.ignored.append(LineReason(line=line, reason="zero amount"))
            else:
                self.allocate(line)
        return ReconciliationPlan(
            lines=self.lines, signals=self.signals, unmatched=self.unmatched, ignored=self.ignored
        )

    def allocate(self, line: BankLine) -> None:
        rule, invoices, reason = self.find(line)
        allocations: tuple[Allocation, ...] = ()
        if rule is None:
            self.unmatched.append(LineReason(line=line, reason=reason))
        else:
            allocations = tuple(self.split(line, invoices, rule))
            self.signals.extend(allocations)
            if line.payer_iban:
                self.customers_by_iban[line.payer_iban].update(a.customer_id for a in allocations)
        self.payments.append(PriorPayment(line=line, allocations=allocations))

    def find(self, line: BankLine) -> tuple[Rule | None, list[OpenInvoice], str]:
        hints = []
        reference = line.structured_reference
        text = line.remittance_text
        if reference and iso11649.is_valid(reference):
            found = self.usable(line, [self.by_reference.get(iso11649.compact(reference))])
            if found:
                return "structured_reference", found, ""
            hints.append(f"structured reference {reference} matches no open invoice in {line.currency}")
        elif reference:
            text = f"{text} {reference}"  # not an RF: some payers put the invoice number there
        found = self.usable(line, self.references_in(text))
        if found:
            return "reference_in_text", found, ""
        found = self.usable(line, self.numbers_in(text))
        if found:
            return "invoice_number", found, ""
        found = self.same_payer(line)
        if found:
            return "payer_and_amount", found, ""
        hints.append(
            f"no invoice reference or number in the text; no known payer with exactly one open invoice "
            f"of {line.amount} {line.currency}"
        )
        return None, [], "; ".join(hints)

    def usable(self, line: BankLine, invoices: Iterable[OpenInvoice | None]) -> list[OpenInvoice]:
        usable: list[OpenInvoice] = []
        for invoice in invoices:
            if invoice is not None and invoice.currency == line.currency and invoice not in usable:
                usable.append(invoice)
        return usable

    def references_in(self, text: str) -> Iterable[OpenInvoice]:
        compact = "".join(text.upper().split())
        for start in _RF_START.finditer(compact):
            # Longest known reference first: "RF20F202600512" must not be read as RF20F20260051 if both
            # exist, and the text after a reference may carry on without a space.
            for end in range(min(len(compact), start.start() + _REFERENCE_MAX), start.start() + 4, -1):
                invoice = self.by_reference.get(compact[start.start() : end])
                if invoice is not None:
                    yield invoice
                    break

    def numbers_in(self, text: str) -> Iterable[OpenInvoice]:
        # Invoice numbers are read as runs of consecutive words joined by separators, so "F 2026 0042"
        # and "F-2026-0042" are found but "F-2026-00421" is not mistaken for F-2026-0042.
        for chain in _NUMBER_CHAIN.findall(text.upper()):
            tokens = _TOKEN.findall(chain)
            for first in range(len(tokens)):
                candidate = ""
                for token in tokens[first:]:
                    candidate += token
                    if len(candidate) > self.number_max:
                        break
                    invoice = self.by_number.get(candidate)
                    if invoice is not None:
                        yield invoice

    def same_payer(self, line: BankLine) -> list[OpenInvoice]:
        customers: set[str] = set()
        if line.payer_iban:
            known = self.customers_by_iban.get(line.payer_iban, set())
            if len(known) == 1:  # an IBAN that paid for several customers identifies none
                customers |= known
        if line.payer_name:
            customers |= self.customers_by_name.get(normalise_name(line.payer_name), set())
        exact = [
            invoice
            for customer in customers
            for invoice in self.by_customer[customer]
            if invoice.currency == line.currency and self.balances[invoice.invoice_id] == line.amount
        ]
        return exact if len(exact) == 1 else []

    def split(self, line: BankLine, invoices: list[OpenInvoice], rule: Rule) -> Iterable[Allocation]:
        shares: dict[str, Decimal] = {}
        open_balances = {i.invoice_id: max(self.balances[i.invoice_id], _ZERO) for i in invoices}
        if len(invoices) == 1:
            shares[invoices[0].invoice_id] = line.amount
        elif sum(open_balances.values()) == line.amount:
            shares = {invoice_id: share for invoice_id, share in open_balances.items() if share}
        else:
            oldest_first = sorted(invoices, key=lambda invoice: (invoice.due_on, invoice.invoice_id))
            remaining = line.amount
            for invoice in oldest_first:
                share = min(open_balances[invoice.invoice_id], remaining)
                if share:
                    shares[invoice.invoice_id] = share
                    remaining -= share
            if remaining:
                last = oldest_first[-1].invoice_id
                shares[last] = shares.get(last, _ZERO) + remaining
        by_id = {invoice.invoice_id: invoice for invoice in invoices}
        for invoice_id, share in shares.items():
            balance = self.balances[invoice_id]
            self.balances[invoice_id] = balance - share
            payment_id = line.payment_id if len(shares) == 1 else f"{line.payment_id}:{invoice_id}"
            yield make_allocation(
                line, by_id[invoice_id], amount=share, balance=balance, rule=rule, payment_id=payment_id
            )

    def reverse(self, line: BankLine) -> None:
        if not line.tx_id and not line.given_end_to_end_id:
            self.unmatched.append(
                LineReason(line=line, reason="reversal without TxId or EndToEndId to find the payment it cancels")
            )
            return
        cancelled = [p for p in self.payments if p.line.payment_id not in self.reversed and _cancels(line, p.line)]
        if len(cancelled) != 1:
            found = "no recorded payment" if not cancelled else f"{len(cancelled)} recorded payments"
            self.unmatched.append(
                LineReason(
                    line=line,
                    reason=f"reversal: {found} with TxId {line.tx_id} / EndToEndId {line.end_to_end_id}, "
                    f"amount {line.amount} {line.currency} and payer IBAN {line.payer_iban}",
                )
            )
            return
        payment = cancelled[0]
        self.reversed.add(payment.line.payment_id)
        reason = f"reversed by {line.payment_id}" + (
            f", return reason {line.return_reason}" if line.return_reason else ""
        )
        undone: list[tuple[str, str | None, Decimal]] = [
            (a.payment_id, a.invoice_id, a.amount) for a in payment.allocations
        ]
        for payment_id, invoice_id, amount in undone or [(payment.line.payment_id, None, line.amount)]:
            if invoice_id in self.balances:
                self.balances[invoice_id] += amount
            self.signals.append(
                Reversal(
                    payment_id=payment_id,
                    line_id=payment.line.payment_id,
                    invoice_id=invoice_id,
                    amount=amount,
                    currency=line.currency,
                    reversed_on=line.booked_on,
                    reversal_line_id=line.payment_id,
                    reason=reason,
                )
            )


def _cancels(reversal: BankLine, payment: BankLine) -> bool:
    same_reference = (reversal.tx_id is not None and reversal.tx_id == payment.tx_id) or (
        reversal.given_end_to_end_id is not None and reversal.given_end_to_end_id == payment.given_end_to_end_id
    )
    return (
        same_reference
        and payment.direction == "credit"
        and not payment.reversal
        and payment.account_iban == reversal.account_iban
        and payment.amount == reversal.amount
        and payment.currency == reversal.currency
        and (reversal.payer_iban is None or reversal.payer_iban == payment.payer_iban)
    )
