"""A worker never lets cases hang on a missing search attribute: it adds it, or refuses to start."""

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from dunning import search_attributes
from dunning.binaries import venv_binary
from tests.codec_keys import TEST_CONVERTER

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_FIVE: list[SearchAttributeKey[Any]] = list(search_attributes.ALL[:5])


async def custom_attributes(client: Client) -> set[str]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return set(listed.custom_attributes)


async def dev_server(attributes: list[SearchAttributeKey[Any]]) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=attributes,
        data_converter=TEST_CONVERTER,
        ui=False,
    )


async def test_a_server_that_cannot_list_attributes_gets_them_all_added() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=TEST_CONVERTER
    )
    try:
        assert await search_attributes.ensure(env.client) == sorted(k.name for k in search_attributes.ALL)
        # Already there: nothing to add, and "already exists" is no error.
        assert await search_attributes.ensure(env.client) == []
    finally:
        await env.shutdown()


async def test_a_namespace_with_only_the_first_five_attributes_gets_the_others() -> None:
    env = await dev_server(CONTRACT_FIVE)
    try:
        added = await search_attributes.ensure(env.client)
        assert added == sorted(k.name for k in search_attributes.ALL[5:])
        assert {k.name for k in search_attributes.ALL} <= await custom_attributes(env.client)
    finally:
        await env.shutdown()


async def test_the_worker_refuses_to_start_when_an_attribute_cannot_be_had() -> None:
    # An attribute of the same name but another type cannot be fixed by adding: a person must act.
    env = await dev_server(
        [SearchAttributeKey.for_text("DunningStage"), *CONTRACT_FIVE[1:], *search_attributes.ALL[5:]]
    )
    try:
        with pytest.raises(search_attributes.MissingSearchAttributes) as refused:
            await search_attributes.ensure(env.client)
        assert "DunningStage" in str(refused.value)
        assert (
            "temporal operator search-attribute create --namespace default --name DunningStage --type Keyword"
            in str(refused.value)
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "worker.py"),
            env={**os.environ, "TEMPORAL_ADDRESS": env.client.service_client.config.target_host},
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode != 0
        assert b"worker not started" in stderr
        assert b"--name DunningStage --type Keyword" in stderr
    finally:
        await env.shutdown()


async def test_every_attribute_that_cannot_be_added_is_named_at_once() -> None:
    # SQL visibility holds 3 Datetime attributes a namespace: three unrelated ones leave no room for ours.
    others = [SearchAttributeKey.for_datetime(f"OtherDate{n}") for n in range(3)]
    env = await dev_server([*others, *CONTRACT_FIVE[:4]])
    try:
        with pytest.raises(search_attributes.MissingSearchAttributes) as refused:
            await search_attributes.ensure(env.client)
        assert set(refused.value.missing) == {"BalanceChangedAt", "DueDate", "NextActionAt"}
        # The one that had room was added all the same.
        assert "OpenCallTasks" in await custom_attributes(env.client)
    finally:
        await env.shutdown()
