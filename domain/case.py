"""The state of one invoice case and every rule that changes it, as pure, deterministic code.

The workflow owns one `CaseState`, feeds it signals and the clock, asks `decide()` what to do next and
reports back what the channels did. Keeping the rules here (no Temporal calls) lets them be unit-tested
directly and keeps the workflow a thin orchestration shell. The whole state is one serialisable value.
"""

from domain.case_deliveries import CaseDeliveries
from domain.case_events import CaseEvents
from domain.decisions import Close, Decision, ResendInvoice, RunStep, TrackLetter, Wait

__all__ = ["CaseState", "Close", "Decision", "ResendInvoice", "RunStep", "TrackLetter", "Wait"]


class CaseState(CaseEvents, CaseDeliveries):
    """One invoice case: its fields, decisions and steps (`domain.case_core`), the events that act on
    it (`domain.case_events`), what people steer (`domain.case_steering`: segment, policy, approvals)
    and what its messages became (`domain.case_deliveries`)."""
