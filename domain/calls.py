"""What a credit controller says and asks on each call task (the seeds' practice, 002 and 000).

The preventive call checks the invoice before it falls due: received and conform, the right person,
a payment date. The level calls look for the reason the invoice is unpaid, since each reason has its
own remedy. Tasks opened when a channel fails say what to find out.
"""

PREVENTIVE = (
    "Has the invoice been received, and is it conform (order, quantities, prices, delivery)?",
    "Is this the right person for payment? Note the contact for accounts payable (--contact).",
    "Ask for a payment date and note it (--outcome promised --promised-on DATE).",
    "Anything in dispute? Report it now so it is corrected before the due date (--outcome disputed).",
)
LEVEL = (
    "The invoice is overdue: confirm it was received (--outcome invoice_not_received sends a copy).",
    "Ask why it is unpaid (--reason): short of funds, wrong bank details, direct-debit mandate missing"
    " or revoked, card expired, or a dispute.",
    "Agree a payment date (--outcome promised --promised-on DATE [--promised-amount A]) or a plan.",
    "Note the person you spoke to if it is a new contact (--contact).",
)
SCRIPTS: dict[str, tuple[str, ...]] = {
    "preventive_call": PREVENTIVE,
    "level1_call": LEVEL,
    "level3_call": (
        *LEVEL,
        "Say that a formal notice (mise en demeure) follows if nothing is paid; no threat, facts only.",
    ),
    "email_bounced": (
        "The customer's e-mail address bounced: get a working address for accounts payable.",
        "Later e-mail steps go by SMS, or are skipped without a phone number, until billing updates it.",
    ),
    "sms_undelivered": ("The phone number could not receive an SMS: check the number with the customer.",),
    "postal_address": (
        "A registered letter came back undeliverable: get the registered office address (Kbis, SIREN).",
    ),
    "formal_notice": (
        "The formal notice did not certainly reach the customer (failed, unconfirmed or undeliverable).",
        "Check the provider's log or deliver it another way, then log this step with --outcome reached.",
    ),
    "litigation_handover": (
        "The hand-over to litigation did not certainly happen: check with the partner, then log it"
        " with --outcome reached.",
    ),
}


def script_for(step: str) -> tuple[str, ...]:
    return SCRIPTS.get(step, ("Call the customer about this step and log the outcome.",))
