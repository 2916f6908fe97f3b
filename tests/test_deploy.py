"""The deployment files checked against the code, without a container engine: they parse, name the
services and pinned images they should, set only environment variables the code reads, and create
exactly the search attributes the workflows upsert."""

import asyncio
import importlib.util
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from dunning import search_attributes, settings
from dunning.binaries import venv_binary
from dunning.health import split_address
from starter.cli import app

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "dunning"
SCRIPT = CHART / "files" / "search-attributes.sh"
# The service's own code; deploy/local.py (make run only) and the tests are not in an image.
CODE = [
    ROOT / "worker.py",
    *(
        path
        for part in ("activities", "domain", "dunning", "starter", "workflows")
        for path in (ROOT / part).rglob("*.py")
    ),
]
READS_ENVIRONMENT = re.compile(r"\bos\.environ\b|\bgetenv\(|\benviron\[")
DUNNING_SERVICES = ("worker", "api", "codec-server")


def variables_the_code_reads() -> set[str]:
    """The settings' variables, and those the Temporal SDK reads for its profiles."""
    return settings.variables() | settings.PROFILE_VARIABLES


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def cli_type(key: SearchAttributeKey[Any]) -> str:
    """The `temporal operator search-attribute create --type` name of a key's indexed type."""
    words = key.indexed_value_type.name.split("_")
    return "".join(word.capitalize() for word in words)


def test_only_the_settings_read_the_environment() -> None:
    # What the other tests trust: a variable read anywhere else would escape variables_the_code_reads().
    readers = [path.relative_to(ROOT) for path in CODE if READS_ENVIRONMENT.search(path.read_text())]
    assert readers == []
    assert {"DUNNING_LEDGER_URL", "TEMPORAL_ADDRESS", "DUNNING_CODEC_KEYS", "DUNNING_MAX_BODY_BYTES"} <= (
        variables_the_code_reads()
    )
    # Nested sections (the creditor in the channels) are walked too.
    assert {"DUNNING_CREDITOR_NAME", "MERCI_FACTEUR_MODE", "DUNNING_AGENCY_NAME"} <= variables_the_code_reads()


def test_compose_has_temporal_on_postgresql_and_every_part_of_the_service() -> None:
    services = compose()["services"]
    assert set(services) == {"postgresql", "temporal", "temporal-admin-tools", "temporal-ui", *DUNNING_SERVICES}
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "postgresql"
    for name, service in services.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: image {image} is not pinned to a version"
    for name in ("postgresql", "temporal", "worker", "api", "codec-server"):
        assert "test" in services[name]["healthcheck"], name
    for name in DUNNING_SERVICES:
        assert services[name]["image"] == "dunning:0.1.0"
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_the_worker_is_probed_where_it_serves_its_probes() -> None:
    # tests/test_worker_health.py runs compose's command against a real worker.
    worker = compose()["services"]["worker"]
    host, port = split_address(worker["environment"]["DUNNING_WORKER_HEALTH_ADDRESS"])
    assert host == "0.0.0.0"  # the kubelet and compose's healthcheck both reach it
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(worker["healthcheck"]["test"])
    assert worker["healthcheck"]["start_period"]

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert isinstance(values["worker"]["healthPort"], int)
    template = (CHART / "templates" / "worker.yaml").read_text()
    assert (
        '- name: DUNNING_WORKER_HEALTH_ADDRESS\n              value: "0.0.0.0:{{ .Values.worker.healthPort }}"'
        in template
    )
    assert re.search(r"- name: health\n\s+containerPort: \{\{ .Values.worker.healthPort }}", template)
    probes = dict(re.findall(r"(\w+Probe):\n\s+httpGet: \{path: (\S+), port: health\}", template))
    assert probes == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}


def test_compose_runs_what_the_image_has() -> None:
    services = compose()["services"]
    assert services["worker"]["command"] == ["python", "-m", "worker"]
    assert services["api"]["command"][:2] == ["dunning", "serve"]
    commands = {command.name or getattr(command.callback, "__name__", "") for command in app.registered_commands}
    assert "serve" in commands
    module = services["codec-server"]["command"][2]
    assert importlib.util.find_spec(module) is not None, module


def test_compose_sets_only_variables_the_code_reads() -> None:
    services = compose()["services"]
    read = variables_the_code_reads()
    for name in DUNNING_SERVICES:
        unknown = set(services[name]["environment"]) - read
        assert not unknown, f"{name} sets {sorted(unknown)}, which no code reads"
    # Several workers claim in one shared ledger, never each in its own SQLite file.
    assert services["worker"]["environment"]["DUNNING_LEDGER_URL"].startswith("postgresql://")


def test_the_helm_chart_sets_only_variables_the_code_reads() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    templates = "\n".join(path.read_text() for path in (CHART / "templates").glob("*.yaml"))
    set_by_chart = set(values["env"]) | set(values["worker"]["env"]) | set(values["api"]["env"])
    set_by_chart |= set(values["codecServer"]["env"]) | set(values["purge"]["env"])
    set_by_chart |= set(re.findall(r"- name: ([A-Z][A-Z0-9_]*)", templates))
    set_by_chart |= set(re.findall(r"key: ([A-Z][A-Z0-9_]*)", templates))
    assert {"TEMPORAL_ADDRESS", "DUNNING_CODEC_KEYS", "DUNNING_CODEC_TOKEN"} <= set_by_chart
    unknown = set_by_chart - variables_the_code_reads()
    assert not unknown, f"the chart sets {sorted(unknown)}, which no code reads"
    assert values["worker"]["replicas"] > 1
    assert values["searchAttributesJob"]["enabled"] is True
    # The purge runs where the stores are, as the CLI the image installs.
    assert values["purge"]["enabled"] is True
    assert 'command: ["dunning", "purge"]' in templates
    assert any(command.name == "purge" for command in app.registered_groups)


def test_the_search_attribute_job_creates_exactly_the_attributes_the_workflows_upsert() -> None:
    created = dict(re.findall(r"^add (\w+) (\w+)$", SCRIPT.read_text(), flags=re.MULTILINE))
    assert created == {key.name: cli_type(key) for key in search_attributes.ALL}
    # The same types the dev server of `make run` is given.
    assert sorted(search_attributes.dev_server_flags()) == sorted(
        f"--search-attribute={name}={kind}" for name, kind in created.items()
    )
    # Compose and Helm both run this one script.
    admin = compose()["services"]["temporal-admin-tools"]
    assert "./helm/dunning/files/search-attributes.sh:/scripts/search-attributes.sh:ro" in admin["volumes"]
    assert admin["command"] == ["/scripts/search-attributes.sh"]
    job = (CHART / "templates" / "search-attributes-job.yaml").read_text()
    assert '.Files.Get "files/search-attributes.sh"' in job
    assert '"/scripts/search-attributes.sh"' in job


def test_the_image_is_slim_pinned_non_root_and_has_what_weasyprint_needs() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    (user,) = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert user not in ("root", "0")
    makefile = (ROOT / "Makefile").read_text()
    (listed,) = re.findall(r"^DEBIAN_PACKAGES := (.*)$", makefile, flags=re.MULTILINE)
    # The Makefile's list adds the PostgreSQL server the tests start; the image needs only WeasyPrint's.
    wanted = set(listed.split()) - {"postgresql"}
    installed = re.search(r"apt-get install -y --no-install-recommends\s*\\\n\s*(.*?)\s*\\\n", dockerfile)
    assert installed is not None
    assert set(installed.group(1).split()) == wanted
    packages = ("activities", "domain", "dunning", "starter", "workflows")
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile


async def test_the_search_attribute_job_sets_up_a_fresh_namespace_and_can_run_again() -> None:
    # A real dev server without any custom attribute, and the real `temporal` CLI the job uses.
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=venv_binary("temporal"), ui=False)
    try:
        environment = {
            "PATH": f"{Path(venv_binary('temporal')).parent}:{os.environ['PATH']}",
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": "dunning-deploy-test",
        }
        for _ in range(2):
            job = await asyncio.create_subprocess_exec(
                "sh", str(SCRIPT), env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            output, _ = await job.communicate()
            assert job.returncode == 0, output.decode()
        # An existing namespace (the dev server's `default` keeps one day) gets the retention too.
        default = {**environment, "TEMPORAL_NAMESPACE": "default"}
        job = await asyncio.create_subprocess_exec(
            "sh", str(SCRIPT), env=default, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        output, _ = await job.communicate()
        assert job.returncode == 0, output.decode()
        for namespace in ("dunning-deploy-test", "default"):
            described = await env.client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=30)
        listed = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="dunning-deploy-test")
        )
        assert dict(listed.custom_attributes) == {
            key.name: int(key.indexed_value_type) for key in search_attributes.ALL
        }
    finally:
        await env.shutdown()
