"""The segment the ingress gives a new case whose billing event names none, from the customer's record.

"Names none": the `invoice.created` data has no `customer.segment` key (a CSV import with the column
empty or absent, a JSON event without the key). `InvoiceInput` defaults it to `standard`, so the
default cannot tell; the parsed event can, by the fields it was given. A segment given explicitly,
`standard` included, is always kept; `strategic` is only ever given, never derived.

The rules are the policy's (`Policy.segments`), applied to what the ingress store has seen of the
customer (`IngressStore.customer_history`), as of the day the invoice arrives:
- `bad_payer`: at least `bad_payer_late_invoices` of its other invoices, due within the last
  `late_window_months`, were paid late (a payment reached us after the due date) or are unpaid past
  due (not cancelled, the payments recorded short of the amount and the last balance read above 0);
- `new`: its first invoice (the earliest issue date seen, this one included) is younger than
  `new_for_months`.
bad_payer wins over new. The store knows only what reached it: a customer billed before the service
ran looks new until an older invoice of theirs arrives, and money that reached a case by another way
than the ingress (the web UI) counts only once a bank import has read the balance back.
"""

from calendar import monthrange
from datetime import date
from decimal import Decimal

from domain.models import Customer, InvoiceInput, Segment, SegmentChanged
from domain.policy import SegmentRules
from starter.store import PastInvoice


def segment_given(customer: Customer) -> bool:
    """Whether the billing event set the segment, from a customer model parsed from that event."""
    return "segment" in customer.model_fields_set


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier, the month's last day when it has no such day."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def derive_segment(
    invoice: InvoiceInput, history: list[PastInvoice], rules: SegmentRules, today: date
) -> SegmentChanged | None:
    """The change to start the case with, or None to keep `standard`. Its event id is the case's, so
    a repeated `invoice.created` (signal-with-start reaching the running case) changes nothing."""
    others = [past for past in history if past.invoice.invoice_id != invoice.invoice_id]
    since = months_before(today, rules.late_window_months)
    late = sorted(p.invoice.due_on for p in others if since <= p.invoice.due_on < today and _late(p, today))
    event_id = f"segment-derived:{invoice.workflow_id}"
    if len(late) >= rules.bad_payer_late_invoices:
        reason = f"derived: {len(late)} late invoices since {late[0]:%Y-%m}"
        return SegmentChanged(segment=Segment.BAD_PAYER, reason=reason, event_id=event_id)
    first = min([invoice.issued_on, *(p.invoice.issued_on for p in others)])
    if first > months_before(today, rules.new_for_months):
        return SegmentChanged(segment=Segment.NEW, reason=f"derived: first invoice {first:%Y-%m}", event_id=event_id)
    return None


def _late(past: PastInvoice, today: date) -> bool:
    if past.cancelled:
        return False
    due = past.invoice.due_on
    if any(received_on > due for received_on, _ in past.payments):
        return True
    paid = sum((amount for _, amount in past.payments), start=Decimal(0))
    return due < today and paid < past.invoice.amount and past.balance > 0
