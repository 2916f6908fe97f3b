"""The JOIN_DIGEST activity: hand a case's e-mail to its customer's digest workflow, starting it if need be.

A workflow cannot signal-with-start another one; this activity does it with the worker's client.
A retried attempt signals the same entry again, which the digest recognises by its message id.
"""

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from domain.digest import DigestEntry, DigestState, digest_workflow_id
from dunning.contract import DIGEST_WORKFLOW_TYPE, ActivityName, DigestSignal


class DigestHandOver:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name=ActivityName.JOIN_DIGEST)
    async def join_digest(self, entry: DigestEntry) -> None:
        customer_id = entry.message.customer.customer_id
        await self._client.start_workflow(
            DIGEST_WORKFLOW_TYPE,
            DigestState(customer_id=customer_id),
            id=digest_workflow_id(customer_id),
            # The case's own queue: the worker that runs the case runs its digest.
            task_queue=activity.info().task_queue,
            start_signal=DigestSignal.ENTRY,
            start_signal_args=[entry],
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A digest that ended idle is started again.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=f"digest · {customer_id}",
        )
