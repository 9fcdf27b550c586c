"""Auth modes of the OCI collector: config-file profiles (API key, session token), resource and instance principals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.collectors.oci.collector import OciCollector
from agent.collectors.oci.config import OciConfig
from agent.errors import CollectorError, ConfigError
from agent.sandbox.oci import generate_key_pem, public_key_of

ASH = "us-ashburn-1"


def fast(**values: Any) -> OciConfig:
    base: dict[str, Any] = {"retry": {"max_attempts": 1}, "circuit_breaker": {"enabled": False},
                            "connect_timeout_seconds": 1, "read_timeout_seconds": 2}  # fmt: skip
    return OciConfig.model_validate(base | values)


def test_named_profile_of_a_config_file(tenancy: Any, walk: Any) -> None:
    """`profile` picks a section of `config_file`; its tenancy and region drive the root scope."""
    tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, "129.80.0.1")
    path = tenancy.config_file()
    text = path.read_text()
    path.write_text("[DEFAULT]\nregion=eu-frankfurt-1\n\n" + text.replace("[DEFAULT]", "[scanner]"))
    collector = OciCollector.from_config(
        fast(config_file=str(path), profile="scanner", endpoint_template=tenancy.fake.endpoint_template)
    )
    result = walk(collector)
    assert result.regions == {"129.80.0.1": ASH}
    assert tenancy.fake.count("/tenancies/" + tenancy.fake.tenancy_id + "/regionSubscriptions") == 1
    assert tenancy.fake.requests[0].region == ASH  # the profile's region, not DEFAULT's


@pytest.mark.parametrize(
    ("mutate", "profile", "expected"),
    [
        pytest.param(lambda p: p.unlink(), "DEFAULT", "ConfigFileNotFound", id="missing-file"),
        pytest.param(lambda p: None, "scanner", "ProfileNotFound", id="missing-profile"),
        pytest.param(
            lambda p: p.write_text(p.read_text().replace("[DEFAULT]", "[other]")),
            "DEFAULT",
            "missing or incomplete",
            id="empty-default-profile",
        ),
        pytest.param(
            lambda p: (p.parent / "oci_api_key.pem").write_text("not a key"),
            "DEFAULT",
            "cannot load the OCI signing key",
            id="bad-key-file",
        ),
        pytest.param(
            lambda p: p.write_text(p.read_text().replace("region=us-ashburn-1\n", "")),
            "DEFAULT",
            "has no region",
            id="no-region",
        ),
    ],
)
def test_bad_config_file_is_a_config_error_naming_file_and_profile(
    tenancy: Any, mutate: Any, profile: str, expected: str
) -> None:
    """A broken profile stops the run before it starts, with the file and profile named and no key material."""
    path = tenancy.config_file()
    mutate(path)
    with pytest.raises(ConfigError) as info:
        OciCollector.from_config(fast(config_file=str(path), profile=profile))
    message = str(info.value)
    assert expected in message and str(path) in message and repr(profile) in message
    assert "PRIVATE KEY" not in message


def test_session_token_profile_signs_with_st_key_id(tenancy: Any, walk: Any) -> None:
    """A profile with `security_token_file` (oci session authenticate) signs as ``ST$<token>``."""
    fake = tenancy.fake
    fake.add_public_ip(ASH, fake.tenancy_id, "129.80.0.7")
    session_pem = generate_key_pem()
    token_file = tenancy.directory / "token"
    token_file.write_text(fake.issue_security_token(public_key_of(session_pem), principal_type="user"))
    key_file = tenancy.directory / "session_key.pem"
    key_file.write_text(session_pem)
    config_file = tenancy.directory / "session-config"
    config_file.write_text(
        f"[session]\nfingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\nkey_file={key_file}\n"
        f"tenancy={fake.tenancy_id}\nregion={ASH}\nsecurity_token_file={token_file}\n"
    )
    collector = OciCollector.from_config(
        fast(config_file=str(config_file), profile="session", endpoint_template=fake.endpoint_template)
    )
    assert walk(collector).regions == {"129.80.0.7": ASH}


def test_resource_principal_from_environment(tenancy: Any, walk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """OCI Functions style: RPST + session key + region in env (version 2.2); the tenancy comes from the token."""
    fake = tenancy.fake
    fake.add_public_ip(ASH, fake.tenancy_id, "129.80.0.8")
    session_pem = generate_key_pem()
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2")
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_RPST", fake.issue_security_token(public_key_of(session_pem)))
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", session_pem)
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_REGION", ASH)
    collector = OciCollector.from_config(fast(auth="resource_principal", endpoint_template=fake.endpoint_template))
    (root,) = collector.scopes()
    assert root.path == ("resource_principal",)  # tenancy unknown until the signer is built
    result = walk(collector)
    assert result.errors == {}
    assert result.regions == {"129.80.0.8": ASH}
    assert {leaf.path[0] for leaf in result.leaves} == {fake.tenancy_id}


def test_resource_principal_token_not_issued_by_the_service(
    tenancy: Any, walk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token signed by anyone else than the service's issuer is refused: NotAuthenticated on the root scope."""
    from agent.sandbox.oci import OciFake

    session_pem = generate_key_pem()
    forged = OciFake(tenancy_id=tenancy.fake.tenancy_id).issue_security_token(public_key_of(session_pem))
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2")
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_RPST", forged)
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", session_pem)
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_REGION", ASH)
    result = walk(OciCollector.from_config(fast(auth="resource_principal",
                                                endpoint_template=tenancy.fake.endpoint_template)))  # fmt: skip
    assert [e.code for e in result.errors.values()] == ["NotAuthenticated"]


def test_resource_principal_without_environment_is_a_scope_error(walk: Any) -> None:
    """No injected RPST: the root scope fails with a CollectorError, nothing crashes."""
    result = walk(
        OciCollector.from_config(fast(auth="resource_principal", endpoint_template="http://127.0.0.1:9/{region}"))
    )
    (error,) = result.errors.values()
    assert isinstance(error, CollectorError) and error.vendor == "oci" and error.code


def test_principal_modes_refuse_a_config_file_setting() -> None:
    """`config_file` with a principal auth mode is a contradiction, refused at validation."""
    with pytest.raises(ValueError, match="config_file is only used"):
        OciConfig.model_validate({"auth": "instance_principal", "config_file": "/x"})


def test_default_config_file_falls_back_to_oci_config_file_env(
    tenancy: Any, walk: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the default path absent, the SDK's own $OCI_CONFIG_FILE fallback applies (HOME is empty in tests)."""
    tenancy.fake.add_public_ip(ASH, tenancy.fake.tenancy_id, "129.80.0.9")
    monkeypatch.setenv("OCI_CONFIG_FILE", str(tenancy.config_file()))
    collector = OciCollector.from_config(fast(endpoint_template=tenancy.fake.endpoint_template))
    assert walk(collector).regions == {"129.80.0.9": ASH}
