"""The names other systems and saved histories know an InvoiceDunning case by, each named once.

Renaming any of these breaks running cases (their histories name them) and every client: add, never
rename. Clients in Python use typed handles (`handle.signal(InvoiceDunning.payment_received, ...)`);
these strings are for the ones that cannot (the CLI of another team, the web UI, the ingress events).
"""

from enum import StrEnum

WORKFLOW_TYPE = "InvoiceDunning"
STATUS_QUERY = "status"
# Memo of a case started with its quiet hours off (`false`): it sends at any hour. Absent: on.
QUIET_HOURS_MEMO = "quiet_hours"


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


class ActivityName(StrEnum):
    SEND_EMAIL = "send_email"
    SEND_SMS = "send_sms"
    SEND_REGISTERED_LETTER = "send_registered_letter"
    HAND_OVER_TO_LITIGATION = "hand_over_to_litigation"
    TRACK_LETTER = "track_letter"
