"""The names other systems and saved histories know an InvoiceDunning case by, each named once.

Renaming any of these breaks running cases (their histories name them) and every client: add, never
rename. Clients in Python use typed handles (`handle.signal(InvoiceDunning.payment_received, ...)`);
these strings are for the ones that cannot (the CLI of another team, the web UI, the ingress events).
"""

from enum import StrEnum

WORKFLOW_TYPE = "InvoiceDunning"
STATUS_QUERY = "status"
# One per customer whose policy has `digest = true` (workflow id `customer-<customer id>`).
DIGEST_WORKFLOW_TYPE = "CustomerDigest"


class SignalName(StrEnum):
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_REVERSED = "payment_reversed"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_RESOLVED = "dispute_resolved"
    INSTALLMENT_PLAN_AGREED = "installment_plan_agreed"
    PROMISE_TO_PAY = "promise_to_pay"
    CALL_LOGGED = "call_logged"
    INVOICE_UPDATED = "invoice_updated"
    INVOICE_CANCELLED = "invoice_cancelled"
    LETTER_STATUS = "letter_status"
    MESSAGE_EVENT = "message_event"
    SEGMENT_CHANGED = "segment_changed"
    POLICY_CHANGED = "policy_changed"
    ESCALATION_APPROVED = "escalation_approved"
    ESCALATION_HELD = "escalation_held"
    # From the customer's digest: what became of the e-mail the case handed to it (DigestReply).
    DIGEST_SENT = "digest_sent"


class DigestSignal(StrEnum):
    """What a CustomerDigest receives besides `message_event` (provider reports on its e-mails)."""

    ENTRY = "digest_entry"
    WITHDRAWN = "digest_withdrawn"


class ActivityName(StrEnum):
    SEND_EMAIL = "send_email"
    SEND_SMS = "send_sms"
    SEND_REGISTERED_LETTER = "send_registered_letter"
    HAND_OVER_TO_LITIGATION = "hand_over_to_litigation"
    TRACK_LETTER = "track_letter"
    JOIN_DIGEST = "join_digest"
    SEND_DIGEST = "send_digest"
