"""The packaged policies and their ladders, as tests name them."""

from datetime import time

from domain.ladder import Step
from domain.policy import Hours, Policy
from domain.policy_file import DEFAULT, legacy, packaged

DEFAULT_POLICY: Policy = packaged(DEFAULT)
LEGACY_POLICY: Policy = legacy()
STANDARD: tuple[Step, ...] = DEFAULT_POLICY.ladders["standard"]
NEW: tuple[Step, ...] = DEFAULT_POLICY.ladders["new"]
BAD_PAYER: tuple[Step, ...] = DEFAULT_POLICY.ladders["bad_payer"]
STRATEGIC: tuple[Step, ...] = DEFAULT_POLICY.ladders["strategic"]
# For tests on the dev server's real clock: a case sends whatever the hour and the day of the week.
ROUND_THE_CLOCK: Policy = DEFAULT_POLICY.model_copy(
    update={"name": "round-the-clock", "send_hours": Hours(start=time(0), end=time.max, business_days_only=False)}
)


def gated(policy: Policy) -> Policy:
    """`policy` with its standard ladder's first step waiting for a person's approval."""
    data = policy.model_dump(mode="json")
    data["name"] = "gated"
    data["ladders"]["standard"][0]["approval"] = True
    return Policy.model_validate(data)
