"""Custom search attributes: what credit controllers filter on in the web UI and `dunning cases`.

Search attributes are stored in clear even when payloads are encrypted, so they hold ids, stages,
amounts and dates only: never names, e-mails or free text.
"""

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

STAGE = SearchAttributeKey.for_keyword("DunningStage")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
SEGMENT = SearchAttributeKey.for_keyword("Segment")
AMOUNT_DUE = SearchAttributeKey.for_float("AmountDue")
DUE_DATE = SearchAttributeKey.for_datetime("DueDate")
# Open call tasks, so `GET /calls` and the UI can list the work waiting for a person.
OPEN_CALLS = SearchAttributeKey.for_keyword_list("OpenCallTasks")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")
# When AmountDue or DueDate last changed, the first change being from the invoice's own amount and
# due date (workflow time): the bank import reads only the cases changed since its previous read.
BALANCE_CHANGED_AT = SearchAttributeKey.for_datetime("BalanceChangedAt")
# The version id of the policy a case follows (domain.policy.Policy.version): which cases a policy
# edit would move, which ones still run an old one.
POLICY_VERSION = SearchAttributeKey.for_keyword("PolicyVersion")

ALL = (
    STAGE,
    CUSTOMER_ID,
    SEGMENT,
    AMOUNT_DUE,
    DUE_DATE,
    OPEN_CALLS,
    NEXT_ACTION_AT,
    BALANCE_CHANGED_AT,
    POLICY_VERSION,
)

_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}
_TYPE_NAMES = {
    STAGE.name: "Keyword",
    CUSTOMER_ID.name: "Keyword",
    SEGMENT.name: "Keyword",
    AMOUNT_DUE.name: "Double",
    DUE_DATE.name: "Datetime",
    OPEN_CALLS.name: "KeywordList",
    NEXT_ACTION_AT.name: "Datetime",
    BALANCE_CHANGED_AT.name: "Datetime",
    POLICY_VERSION.name: "Keyword",
}


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    return [f"--search-attribute={name}={kind}" for name, kind in _TYPE_NAMES.items()]


class MissingSearchAttributes(Exception):
    """The namespace lacks attributes this version upserts and they could not be added."""

    def __init__(self, namespace: str, missing: dict[str, str], reason: str) -> None:
        commands = "\n".join(
            f"  temporal operator search-attribute create --namespace {namespace} --name {name} --type {kind}"
            for name, kind in sorted(missing.items())
        )
        super().__init__(
            f"namespace {namespace} lacks the search attributes {', '.join(sorted(missing))} ({reason});"
            f" every case upserting them would hang. Add them, then start again:\n{commands}\n"
            "(Temporal Cloud: tcld namespace search-attributes add --namespace NS --search-attribute Name=Type)"
        )
        self.missing = missing


async def ensure(client: Client) -> list[str]:
    """Make sure the namespace has every attribute this version upserts; the names it added.

    A workflow upserting an attribute its namespace does not know hangs. The dev server registers its
    `--search-attribute` flags only when it creates its database, so a `var/temporal.db` made by an
    older version lacks the newer ones; a production namespace may lack them too, and may refuse to
    add them (permissions, the per-type limits of SQL visibility). Then this raises
    `MissingSearchAttributes`, and the worker refuses to start rather than let every case hang.
    """
    wanted = dict(_TYPE_NAMES)
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise MissingSearchAttributes(client.namespace, wanted, f"cannot list them: {error}") from error
        # The time-skipping test server cannot list: add each one, an existing one answers as such.
        return await _add_all(client, wanted)
    known = dict(listed.custom_attributes)
    wrong = {name: kind for name, kind in wanted.items() if name in known and known[name] != _INDEXED[kind]}
    if wrong:
        raise MissingSearchAttributes(client.namespace, wrong, "they exist with another type")
    return await _add_all(client, {name: kind for name, kind in wanted.items() if name not in known})


async def _add_all(client: Client, missing: dict[str, str]) -> list[str]:
    """Add each one on its own (a server refuses a whole request for one that exists) and name every
    one that failed, so that an operator fixes them all at once."""
    added, failed, reasons = [], {}, []
    for name in sorted(missing):
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace, search_attributes={name: _INDEXED[missing[name]]}
                )
            )
        except RPCError as error:
            if error.status == RPCStatusCode.ALREADY_EXISTS or "already exists" in error.message:
                continue
            failed[name] = missing[name]
            reasons.append(f"{name}: {error.message}")
        else:
            added.append(name)
    if failed:
        raise MissingSearchAttributes(client.namespace, failed, "adding them failed: " + "; ".join(reasons))
    return added
