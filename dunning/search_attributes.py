"""Custom search attributes: what credit controllers filter on in the web UI and `dunning cases`.

Search attributes are stored in clear even when payloads are encrypted, so they hold ids, stages,
amounts and dates only: never names, e-mails or free text.
"""

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

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

ALL = (STAGE, CUSTOMER_ID, SEGMENT, AMOUNT_DUE, DUE_DATE, OPEN_CALLS, NEXT_ACTION_AT, BALANCE_CHANGED_AT)

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
}


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    return [f"--search-attribute={name}={kind}" for name, kind in _TYPE_NAMES.items()]


def indexed_types() -> dict[str, "IndexedValueType.ValueType"]:
    return {name: _INDEXED[kind] for name, kind in _TYPE_NAMES.items()}


async def register_missing(client: Client) -> list[str]:
    """Add to the namespace the attributes this version publishes and it lacks; their names.

    A workflow upserting an attribute its namespace does not know hangs. The dev server registers
    its `--search-attribute` flags only when it creates its database, so a `var/temporal.db` made by
    an older version lacks the newer ones; a production namespace may lack them too.
    """
    known = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {name: kind for name, kind in indexed_types().items() if name not in known.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)
