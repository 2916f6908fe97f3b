"""Personal data never reaches the Temporal server in clear; the keys rotate; bad keys stop every process."""

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from typer.testing import CliRunner

from domain.models import Outcome, PaymentReceived
from domain.policy import CaseStart
from dunning.codec import ENCODING, KEY_ID, KEYS_VARIABLE, CodecKeyError, CodecKeys, EncryptionCodec, UnknownKeyError
from starter.cli import app as cli
from tests.codec_keys import CURRENT_KEY, OLD_KEY, TEST_CONVERTER, TEST_KEYS
from tests.conftest import Harness, advance_to, at_step, clear_due_date, make_invoice
from workflows.invoice_dunning import InvoiceDunning

ROOT = Path(__file__).resolve().parent.parent
KEY_32 = base64.b64encode(b"k" * 32).decode()


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere in a history: inputs, results, signals, memo, search attributes, headers."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            items = value.values()
        elif descriptor.is_repeated:
            items = value
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from payloads_in(item)


async def raw_history(harness: Harness, workflow_id: str) -> History:
    # As the server operator sees it: the same connection, no codec.
    plain = Client(harness.client.service_client, namespace=harness.client.namespace)
    assert plain.data_converter.payload_codec is None
    return History(events=(await plain.get_workflow_handle(workflow_id).fetch_history()).events)


async def test_a_case_leaves_no_personal_data_in_clear_on_the_server(harness: Harness) -> None:
    due = clear_due_date(await harness.today() + timedelta(days=20))
    invoice = make_invoice(due)
    async with harness.worker():
        handle = await harness.start(invoice)
        await advance_to(harness, at_step(due, 4))  # the preventive and first reminders were sent
        await handle.signal(
            InvoiceDunning.payment_received,
            PaymentReceived(
                payment_id="P-1", amount=invoice.amount, received_on=await harness.today(), reference="RF69F20260042"
            ),
        )
        assert (await handle.result()).outcome is Outcome.SETTLED
    assert len(harness.sendgrid.requests) >= 2  # the e-mails did carry the customer's data to the provider

    history = await raw_history(harness, handle.id)
    customer = invoice.customer
    assert customer.email is not None
    assert customer.phone is not None
    assert customer.postal_address is not None
    assert invoice.payment_reference is not None
    personal = [
        customer.name,
        str(customer.email),
        customer.phone,
        customer.postal_address.lines[0],
        customer.postal_address.postcode,
        invoice.payment_reference,
    ]
    everything = history.SerializeToString()
    assert [text for text in personal if text.encode() in everything] == []
    # The workflow id (and so the event attributes naming it) holds the invoice id by design; the
    # payloads must not.
    payloads = list(payloads_in(history))
    assert len(payloads) > 20
    assert [p for p in payloads if invoice.invoice_id.encode() in p.SerializeToString()] == []
    # Only what no codec ever sees goes unencrypted: search attributes, and the patch markers the SDK's
    # core writes itself (a patch id and a flag). Every other payload is sealed.
    unsealed = [
        p
        for event in history.events
        for p in [
            *event.workflow_execution_started_event_attributes.search_attributes.indexed_fields.values(),
            *event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields.values(),
            *(
                event.marker_recorded_event_attributes.details["patch-data"].payloads
                if event.marker_recorded_event_attributes.marker_name == "core_patch"
                else []
            ),
        ]
    ]
    assert unsealed
    sealed = [p for p in payloads if p not in unsealed]
    assert {p.metadata["encoding"] for p in sealed} == {ENCODING}
    assert {p.metadata[KEY_ID] for p in sealed} == {TEST_KEYS.keys[0][0].encode()}

    # Through the codec the same bytes read back as the invoice.
    started = history.events[0].workflow_execution_started_event_attributes
    [decoded] = await TEST_CONVERTER.decode(started.input.payloads, [CaseStart])
    assert decoded.invoice == invoice


def old_key_codec() -> EncryptionCodec:
    return EncryptionCodec(CodecKeys.parse(OLD_KEY))


async def test_a_payload_under_the_old_key_still_decrypts_after_a_new_key_is_put_first() -> None:
    [clear] = pydantic_data_converter.payload_converter.to_payloads([{"name": "Boulangerie Martin SARL"}])
    [sealed] = await old_key_codec().encode([clear])
    assert sealed.metadata[KEY_ID] == b"test-old"
    assert await EncryptionCodec(TEST_KEYS).decode([sealed]) == [clear]
    # New payloads go out under the key now first.
    [resealed] = await EncryptionCodec(TEST_KEYS).encode([clear])
    assert resealed.metadata[KEY_ID] == b"test-current"


async def test_a_payload_under_a_key_that_is_not_configured_is_refused_naming_its_id() -> None:
    [sealed] = await EncryptionCodec(TEST_KEYS).encode([Payload(data=b"x")])
    with pytest.raises(UnknownKeyError, match=r"'test-current'.*known: test-old"):
        await old_key_codec().decode([sealed])


async def test_an_altered_or_relabelled_payload_fails_authentication() -> None:
    codec = EncryptionCodec(TEST_KEYS)
    [sealed] = await codec.encode([Payload(data=b"1200.00")])
    flipped = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(ValueError, match="fails authentication"):
        await codec.decode([flipped])
    # The key id is authenticated too: a payload cannot claim another key than the one that sealed it.
    [under_old] = await old_key_codec().encode([Payload(data=b"1200.00")])
    relabelled = Payload(metadata={**under_old.metadata, KEY_ID: b"test-current"}, data=under_old.data)
    with pytest.raises(ValueError, match="fails authentication"):
        await codec.decode([relabelled])


async def test_payloads_written_before_encryption_decode_as_they_are() -> None:
    [clear] = pydantic_data_converter.payload_converter.to_payloads(["F-2026-0042"])
    assert await EncryptionCodec(TEST_KEYS).decode([clear]) == [clear]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is not set"),
        (" , ", "entry 1: expected id:base64key"),
        ("k1", "entry 1: expected id:base64key"),
        (f"k1:{KEY_32},k0", "entry 2: expected id:base64key"),
        ("k1:not*base64", r"entry 1 \(k1\): not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", r"entry 1 \(k1\): the key is 5 bytes, AES-256 needs 32"),
        (f":{KEY_32}", "entry 1: key id '' must be"),
        (f"a b:{KEY_32}", "entry 1: key id 'a b' must be"),
        (f"k1:{KEY_32},k1:{KEY_32}", "key id k1 appears twice"),
    ],
)
def test_malformed_keys_are_refused_naming_the_variable_not_the_key(
    value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYS_VARIABLE, value)
    with pytest.raises(CodecKeyError, match=message) as refused:
        CodecKeys.from_env()
    assert KEYS_VARIABLE in str(refused.value)
    assert KEY_32 not in str(refused.value)


def test_the_worker_does_not_start_without_keys() -> None:
    env = {key: value for key, value in os.environ.items() if key != KEYS_VARIABLE}
    # An address where nothing listens: the refusal must come before any connection attempt.
    run = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env={**env, "TEMPORAL_ADDRESS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert f"worker not started: {KEYS_VARIABLE} is not set" in run.stderr


def test_the_api_and_the_cli_do_not_start_with_a_malformed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNNING_API_TOKEN", "test-token-0123456789")
    monkeypatch.setenv(KEYS_VARIABLE, f"{CURRENT_KEY},k0")
    served = CliRunner().invoke(cli, ["serve"])
    assert served.exit_code == 2
    assert f"{KEYS_VARIABLE} entry 2: expected id:base64key" in served.output
    listed = CliRunner().invoke(cli, ["cases"])
    assert listed.exit_code == 2
    assert f"{KEYS_VARIABLE} entry 2" in listed.output
