"""Reaching a secured Temporal (Cloud, or self-hosted behind TLS): `connect` takes the address,
namespace, API key and TLS of the CLI's TOML profiles and environment variables."""

from pathlib import Path

import pytest
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from dunning.binaries import venv_binary
from dunning.client import connect, connect_config
from dunning.settings import TemporalSettings
from tests.codec_keys import TEST_KEYS

CLOUD = """
[profile.default]
address = "localhost:7233"

[profile.cloud]
address = "dunning-prod.a1b2c.tmprl.cloud:7233"
namespace = "dunning-prod.a1b2c"
api_key = "tcld-api-key-of-the-service-account"

[profile.mtls]
address = "temporal.internal.example.fr:7233"
namespace = "dunning"

[profile.mtls.tls]
client_cert_path = "{cert}"
client_key_path = "{key}"
server_ca_cert_path = "{ca}"
server_name = "temporal.internal.example.fr"
"""
VARIABLES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_PROFILE",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_NAME",
)


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TOML file of profiles, and none of the machine's own Temporal variables."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, pem in (("cert", "CLIENT CERT"), ("key", "CLIENT KEY"), ("ca", "SERVER CA")):
        (tmp_path / f"{name}.pem").write_text(f"-----BEGIN {pem}-----\n")
    config = tmp_path / "temporal.toml"
    config.write_text(CLOUD.format(cert=tmp_path / "cert.pem", key=tmp_path / "key.pem", ca=tmp_path / "ca.pem"))
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
    return tmp_path


def test_a_cloud_profile_with_an_api_key_connects_with_tls(profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    config = connect_config(TemporalSettings())
    assert config == {
        "target_host": "dunning-prod.a1b2c.tmprl.cloud:7233",
        "namespace": "dunning-prod.a1b2c",
        "api_key": "tcld-api-key-of-the-service-account",
        "tls": True,
    }


def test_an_mtls_profile_gives_the_client_certificate_and_key(profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_PROFILE", "mtls")
    config = connect_config(TemporalSettings())
    assert config["target_host"] == "temporal.internal.example.fr:7233"
    assert config["namespace"] == "dunning"
    assert "api_key" not in config
    tls = config["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == (profiles / "cert.pem").read_bytes()
    assert tls.client_private_key == (profiles / "key.pem").read_bytes()
    assert tls.server_root_ca_cert == (profiles / "ca.pem").read_bytes()
    assert tls.domain == "temporal.internal.example.fr"


def test_the_environment_overrides_the_profile(profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As in a container: the profile's address, the namespace and key from the orchestrator's secrets.
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "dunning-staging.a1b2c")
    monkeypatch.setenv("TEMPORAL_API_KEY", "another-key")
    config = connect_config(TemporalSettings())
    assert config["target_host"] == "dunning-prod.a1b2c.tmprl.cloud:7233"
    assert (config["namespace"], config["api_key"], config["tls"]) == ("dunning-staging.a1b2c", "another-key", True)


def test_no_profile_and_no_variable_is_the_local_server_in_clear(profiles: Path) -> None:
    assert connect_config(TemporalSettings()) == {"target_host": "localhost:7233", "namespace": "default"}


async def test_connect_uses_the_profile_s_address_and_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), namespace="dunning-profile-test", ui=False
    )
    try:
        config = tmp_path / "temporal.toml"
        address = env.client.service_client.config.target_host
        profile = f'[profile.local]\naddress = "{address}"\nnamespace = "dunning-profile-test"\n'
        config.write_text(profile + "[profile.local.tls]\ndisabled = true\n")
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
        monkeypatch.setenv("TEMPORAL_PROFILE", "local")
        client = await connect(keys=TEST_KEYS)
        assert client.namespace == "dunning-profile-test"
        # The server answers for that namespace: the connection is real and in clear.
        assert [execution async for execution in client.list_workflows()] == []
    finally:
        await env.shutdown()
