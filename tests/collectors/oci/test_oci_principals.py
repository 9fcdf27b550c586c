"""Instance principals and OKE workload identity, end to end through the SDK's own signers against `OciFake`.

The fake plays the instance metadata service, the Auth Service's X.509 federation and the OKE proxymux; the SDK
fetches the instance certificate, exchanges it (or the pod's service-account token) for a security token and signs
every Identity / VirtualNetwork call with it (``ST$<token>``), which the fake verifies.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import oci
import pytest

from agent.collectors.oci.collector import OciCollector
from agent.collectors.oci.config import OciConfig
from agent.errors import CollectorError
from agent.sandbox.oci import OciFake, generate_key_pem
from agent.sandbox.tls import LocalCA

ASH = "us-ashburn-1"
FRA = "eu-frankfurt-1"


def principal_config(fake: OciFake, auth: str, **values: Any) -> OciConfig:
    base: dict[str, Any] = {
        "auth": auth,
        "endpoint_template": fake.endpoint_template,
        "retry": {"max_attempts": 1},
        "circuit_breaker": {"enabled": False},
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 5,
    }
    return OciConfig.model_validate(base | values)


def seed(fake: OciFake) -> dict[str, str]:
    """Two regions, a compartment; returns the expected ip -> region."""
    fake.subscribe(FRA, ads=1)
    prod = fake.add_compartment("prod")
    fake.add_public_ip(ASH, fake.tenancy_id, "129.80.1.1")
    fake.add_public_ip(FRA, prod, "92.5.1.1", scope="AVAILABILITY_DOMAIN", lifetime="EPHEMERAL")
    return {"129.80.1.1": ASH, "92.5.1.1": FRA}


def only_error(result: Any) -> CollectorError:
    (error,) = result.errors.values()
    assert isinstance(error, CollectorError) and error.vendor == "oci"
    return error


# ---------------------------------------------------------------------------------------------- instance principals


@pytest.fixture
def imds(tenancy: Any, monkeypatch: pytest.MonkeyPatch) -> OciFake:
    """The tenancy's fake doubles as this machine's metadata service (the SDK honours OCI_METADATA_BASE_URL)."""
    monkeypatch.setenv("OCI_METADATA_BASE_URL", tenancy.fake.metadata_base_url)
    return tenancy.fake  # type: ignore[no-any-return]


@pytest.mark.parametrize("region_answer", [None, "iad"], ids=["region-name", "region-key"])
def test_instance_principal_collects_through_federated_token(imds: OciFake, walk: Any, region_answer: str) -> None:
    """IMDS certificate -> Auth Service token -> signed API calls; the tenancy and region come from the instance."""
    expected = seed(imds)
    imds.set_instance(ASH, region_answer=region_answer)  # the SDK maps "iad" to us-ashburn-1
    collector = OciCollector.from_config(
        principal_config(imds, "instance_principal", federation_endpoint=imds.federation_endpoint)
    )
    (root,) = collector.scopes()
    assert root.path == ("instance_principal",)  # nothing is fetched before the run
    result = walk(collector)
    assert result.errors == {}
    assert result.regions == expected
    assert {leaf.path[0] for leaf in result.leaves} == {imds.tenancy_id}  # from the certificate's opc-tenant
    assert imds.count("/v1/x509") == 1  # one token, shared by every scope
    for pem in ("cert.pem", "key.pem", "intermediate.pem"):
        assert imds.count(f"/opc/v2/identity/{pem}") >= 1
    assert [r.status for r in imds.requests if r.resource == "/opc/v2/instance/region"] == [200]
    assert imds.count(f"/tenancies/{imds.tenancy_id}/regionSubscriptions") == 1
    assert next(r for r in imds.requests if r.resource.startswith("/tenancies/")).region == ASH  # instance's region


def test_instance_certificate_from_an_untrusted_ca_is_refused_at_once(imds: OciFake, walk: Any) -> None:
    """A certificate the Auth Service does not trust: 401 NotAuthenticated on the root scope, not retried."""
    imds.add_public_ip(ASH, imds.tenancy_id, "129.80.1.2")
    imds.set_instance(ASH, trusted=False)
    config = principal_config(
        imds, "instance_principal", federation_endpoint=imds.federation_endpoint,
        retry={"max_attempts": 3, "base_sleep_seconds": 0, "max_sleep_seconds": 0},
        circuit_breaker={"enabled": True},
    )  # fmt: skip
    started = time.monotonic()
    result = walk(OciCollector.from_config(config))
    elapsed = time.monotonic() - started
    error = only_error(result)
    assert error.code == "NotAuthenticated" and "HTTP 401" in str(error)
    assert imds.count("/v1/x509") == 1  # a refusal is final: no retry strategy retries 401
    assert result.records == [] and elapsed < 5


def test_expired_instance_certificate_is_refused(imds: OciFake, walk: Any) -> None:
    """Federation checks the certificate's validity on the service's clock."""
    imds.set_instance(ASH, cert_ttl_seconds=-60)  # expired a minute ago
    error = only_error(walk(OciCollector.from_config(
        principal_config(imds, "instance_principal", federation_endpoint=imds.federation_endpoint))))  # fmt: skip
    assert error.code == "NotAuthenticated"


@pytest.mark.parametrize("attempts", [1, 3])
def test_not_an_instance_fails_after_the_configured_attempts(imds: OciFake, walk: Any, attempts: int) -> None:
    """IMDS answering 404 (it does while an instance boots) is retried per `retry`, then fails the root scope."""
    retry = {"max_attempts": attempts, "base_sleep_seconds": 0, "max_sleep_seconds": 0}
    error = only_error(walk(OciCollector.from_config(principal_config(imds, "instance_principal", retry=retry))))
    assert error.code == "HTTP404"
    assert imds.count("/opc/v2/identity/cert.pem") == attempts and imds.count("/v1/x509") == 0


def test_no_metadata_service_fails_fast(walk: Any) -> None:
    """Off OCI (conftest points OCI_METADATA_BASE_URL at a closed port): a connection error, not 90 s of retries."""
    started = time.monotonic()
    error = only_error(
        walk(OciCollector.from_config(OciConfig.model_validate({
            "auth": "instance_principal", "retry": {"max_attempts": 1}, "circuit_breaker": {"enabled": False},
            "endpoint_template": "http://127.0.0.1:9/{region}"})))
    )  # fmt: skip
    assert error.code == "ConnectionError"
    assert time.monotonic() - started < 5


def test_metadata_service_requires_the_v2_authorization_header(imds: OciFake) -> None:
    """IMDS v2 refuses requests without ``Authorization: Bearer Oracle`` and forwarded ones."""
    imds.set_instance(ASH)
    url = f"{imds.metadata_base_url}/instance/region"

    def get(headers: dict[str, str]) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert get({}) == (401, "Unauthorized")
    assert get({"Authorization": "Bearer Other"})[0] == 401
    assert get({"Authorization": "Bearer Oracle", "X-Forwarded-For": "10.0.0.9"})[0] == 401
    assert get({"Authorization": "Bearer Oracle"}) == (200, ASH)


def test_federation_needs_the_signature_of_the_certificate_key(imds: OciFake) -> None:
    """Presenting a genuine certificate without its private key (signing with another key) gets no token."""
    identity = imds.set_instance(ASH)

    def federation_client(private_key_pem: str | bytes) -> Any:
        retriever = oci.auth.certificate_retriever.PEMStringCertificateRetriever(
            certificate_pem=identity.cert_pem, private_key_pem=private_key_pem
        )
        intermediate = oci.auth.certificate_retriever.PEMStringCertificateRetriever(
            certificate_pem=identity.intermediate_pem
        )
        return oci.auth.federation_client.X509FederationClient(
            federation_endpoint=imds.federation_endpoint, tenancy_id=imds.tenancy_id,
            session_key_supplier=oci.auth.session_key_supplier.SessionKeySupplier(),
            leaf_certificate_retriever=retriever, intermediate_certificate_retrievers=[intermediate],
            retry_strategy=oci.retry.NoneRetryStrategy(),
            circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
        )  # fmt: skip

    with pytest.raises(oci.exceptions.ServiceError) as info:
        federation_client(generate_key_pem()).get_security_token()
    assert (info.value.status, info.value.code) == (401, "NotAuthenticated")
    token = federation_client(identity.key_pem).get_security_token()
    assert token.count(".") == 2  # a JWT


def test_federation_endpoint_only_with_instance_principal() -> None:
    with pytest.raises(ValueError, match="federation_endpoint is only used with auth: instance_principal"):
        OciConfig.model_validate({"auth": "resource_principal", "federation_endpoint": "http://127.0.0.1:1/v1/x509"})
    with pytest.raises(ValueError, match="federation_endpoint"):
        OciConfig.model_validate({"auth": "instance_principal", "federation_endpoint": "auth.example/v1/x509"})


# ---------------------------------------------------------------------------------------------- OKE workload identity


class Pod:
    """What an OKE pod sees: a service-account token file, the cluster CA file and the Kubernetes service host."""

    def __init__(self, fake: OciFake, directory: Path, monkeypatch: pytest.MonkeyPatch, ca: LocalCA) -> None:
        self.fake = fake
        self.port = fake.start_oke_proxymux(ca)
        self.token_path = directory / "sa-token"
        self.token_path.write_text(fake.issue_service_account_token("web", "scanner"))
        self.ca_path = ca.write_ca_bundle(directory / "ca.crt")
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("OCI_KUBERNETES_SERVICE_ACCOUNT_CERT_PATH", str(self.ca_path))
        monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_REGION", ASH)

    def collector(self, **values: Any) -> OciCollector:
        return OciCollector.from_config(
            principal_config(
                self.fake, "oke_workload_identity", oke_service_account_token_path=str(self.token_path),
                oke_proxymux_port=self.port, **values,
            )
        )  # fmt: skip


@pytest.fixture(scope="module")
def cluster_ca() -> LocalCA:
    return LocalCA.create("fake OKE cluster CA")


@pytest.fixture
def pod(tenancy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_ca: LocalCA) -> Pod:
    return Pod(tenancy.fake, tmp_path, monkeypatch, cluster_ca)


def test_oke_workload_identity_collects_with_proxymux_token(pod: Pod, walk: Any) -> None:
    """Service-account token -> proxymux (HTTPS, cluster CA) -> RPST; the tenancy comes from the token's claims."""
    expected = seed(pod.fake)
    collector = pod.collector()
    result = walk(collector)
    assert result.errors == {}
    assert result.regions == expected
    assert {leaf.path[0] for leaf in result.leaves} == {pod.fake.tenancy_id}
    assert pod.fake.count("/resourcePrincipalSessionTokens") == 1


def test_oke_basic_cluster_is_refused(pod: Pod, walk: Any) -> None:
    """Proxymux answers 403 on clusters without workload identity; the SDK says to use an enhanced cluster."""
    pod.fake.oke_enhanced_cluster = False
    error = only_error(walk(pod.collector()))
    assert error.code == "Forbidden" and "enhanced" in str(error)


def test_oke_token_of_another_cluster_is_refused(pod: Pod, walk: Any) -> None:
    """A service-account token not signed by this cluster's issuer: 401, a scope error."""
    pod.token_path.write_text(OciFake(tenancy_id=pod.fake.tenancy_id).issue_service_account_token("web", "scanner"))
    error = only_error(walk(pod.collector()))
    assert error.code == "Unauthorized"
    assert pod.fake.count("/resourcePrincipalSessionTokens") == 1


def test_oke_proxymux_is_verified_with_the_cluster_ca(
    pod: Pod, walk: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pod trusts only its cluster CA: a proxymux certificate from another CA fails the TLS handshake."""
    other = LocalCA.create("someone else").write_ca_bundle(tmp_path / "other-ca.crt")
    monkeypatch.setenv("OCI_KUBERNETES_SERVICE_ACCOUNT_CERT_PATH", str(other))
    error = only_error(walk(pod.collector()))
    assert error.code == "SSLError"
    assert pod.fake.count("/resourcePrincipalSessionTokens") == 0


def test_oke_keys_only_with_oke_workload_identity() -> None:
    with pytest.raises(ValueError, match="oke_proxymux_port is only used with auth: oke_workload_identity"):
        OciConfig.model_validate({"auth": "instance_principal", "oke_proxymux_port": 12250})
