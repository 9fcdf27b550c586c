"""Request signers for the `oci` collector: config-file profiles and the SDK's principal signers.

Imported only by `agent.collectors.oci.collector` (it imports the oci SDK). A signer is built once per collector and
shared by every thread: API-key signing only reads the private key, and the SDK's principal signers refresh their
security tokens under their own lock.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import oci

from agent.collectors.oci.config import OciConfig
from agent.errors import CollectorError, ConfigError

__all__ = ["Credentials", "CredentialsProvider", "load_profile"]


@dataclass(frozen=True)
class Credentials:
    """A ready signer plus the tenancy it belongs to and the region for tenancy-wide Identity calls.

    `client_config` is the config dict every SDK client is built with (the SDK validates it even when a signer is
    given: API-key signers need user/tenancy/fingerprint in it, principal signers only a region). It holds no secret.
    """

    signer: Any = field(repr=False)
    tenancy_id: str
    region: str
    client_config: dict[str, str] = field(default_factory=dict, repr=False)

    def config_for(self, region: str) -> dict[str, str]:
        """The client config dict for `region`."""
        return {**self.client_config, "region": region}


def load_profile(config: OciConfig) -> Credentials:
    """Read an ``~/.oci/config`` profile and build its signer, or raise `ConfigError` naming the file and profile.

    A profile with ``security_token_file`` (``oci session authenticate``) signs with that session token; any other
    profile signs with its API key (``key_file`` / ``pass_phrase``).
    """
    # Passed unexpanded: for the default path the SDK falls back to $OCI_CONFIG_FILE, then ~/.oraclebmc/config.
    path = config.config_file
    where = f"inventory.oci.config_file={config.config_file!r}, profile={config.profile!r}"
    try:
        profile = oci.config.from_file(file_location=path, profile_name=config.profile)
    except (oci.exceptions.ClientError, ValueError) as exc:
        raise ConfigError(f"cannot use OCI config ({where}): {type(exc).__name__}: {exc}") from None
    tenancy = config.tenancy or profile.get("tenancy")
    region = config.region or profile.get("region")
    if not profile.get("tenancy") and not profile.get("user"):
        # configparser always has a DEFAULT section, so an absent DEFAULT profile reads as an empty one.
        raise ConfigError(f"OCI profile is missing or incomplete ({where}): no tenancy and no user")
    if not tenancy or not region:
        missing = "tenancy" if not tenancy else "region"
        raise ConfigError(f"OCI profile has no {missing} ({where}); set it there or as inventory.oci.{missing}")
    try:
        if profile.get("security_token_file"):
            with open(os.path.expanduser(profile["security_token_file"]), encoding="utf-8") as handle:
                token = handle.read().strip()
            private_key = oci.signer.load_private_key_from_file(profile["key_file"], profile.get("pass_phrase"))
            signer: Any = oci.auth.signers.SecurityTokenSigner(token, private_key)
            client_config: dict[str, str] = {}
        else:
            signer = oci.signer.Signer(
                tenancy=profile["tenancy"],
                user=profile["user"],
                fingerprint=profile["fingerprint"],
                private_key_file_location=profile.get("key_file"),
                pass_phrase=profile.get("pass_phrase"),
                private_key_content=profile.get("key_content"),
            )
            client_config = {
                "user": profile["user"],
                "tenancy": profile["tenancy"],
                "fingerprint": profile["fingerprint"],
                "key_file": profile.get("key_file") or "(key_content)",  # presence only: the signer holds the key
            }
    except (OSError, KeyError, ValueError, oci.exceptions.ClientError) as exc:
        # Never echo key material: name the exception class and the file/profile only.
        raise ConfigError(f"cannot load the OCI signing key ({where}): {type(exc).__name__}") from None
    return Credentials(signer=signer, tenancy_id=tenancy, region=region, client_config=client_config)


def _principal_signer(config: OciConfig) -> Any:
    """The SDK's signer for a principal auth mode, with our retry, breaker and endpoint settings.

    Each signer makes its own HTTP calls before the first API call (metadata service, Auth Service, OKE proxymux),
    with the SDK's defaults of up to 8 attempts over minutes; they follow `config.retry` instead, so ``max_attempts: 1``
    fails at once and a refusal (401/403, which no strategy retries) is immediate in any case.
    """
    auth = config.auth
    if auth == "instance_principal":
        kwargs: dict[str, Any] = {
            "retry_strategy": _retry_strategy(config, metadata=True),
            "federation_client_retry_strategy": _retry_strategy(config),
            "federation_client_circuit_breaker_strategy": _breaker_strategy(config),
        }
        if config.federation_endpoint:
            kwargs["federation_endpoint"] = config.federation_endpoint
        if config.ca_bundle:
            kwargs["federation_client_cert_bundle_verify"] = config.ca_bundle
        # The metadata service is $OCI_METADATA_BASE_URL when set (the SDK reads it), else 169.254.169.254.
        return oci.auth.signers.InstancePrincipalsSecurityTokenSigner(**kwargs)
    if auth == "resource_principal":
        return oci.auth.signers.get_resource_principals_signer()
    if auth == "oke_workload_identity":
        return _oke_signer(config)
    raise ConfigError(f"inventory.oci.auth={auth!r} is not supported")


def _oke_signer(config: OciConfig) -> Any:
    """OKE workload identity, built like ``get_oke_workload_identity_resource_principal_signer`` does.

    Built from the public signer class rather than through that helper because the helper hard-codes the proxymux
    port (12250) and no retry strategy; the inputs are the same: the service-account token file, the Kubernetes CA
    ($OCI_KUBERNETES_SERVICE_ACCOUNT_CERT_PATH or the pod's default), $KUBERNETES_SERVICE_HOST and
    $OCI_RESOURCE_PRINCIPAL_REGION.
    """
    from oci.auth.rpt_path_providers import DefaultServiceAccountTokenProvider
    from oci.auth.signers import resource_principals_signer as rps

    token_provider = DefaultServiceAccountTokenProvider()
    if config.oke_service_account_token_path:
        token_provider.override_sa_token_path(config.oke_service_account_token_path)
    return oci.auth.signers.OkeWorkloadIdentityResourcePrincipalSigner(
        sa_token_provider=token_provider,
        sa_cert_path=os.environ.get(rps.OCI_KUBERNETES_SERVICE_ACCOUNT_CERT_PATH)
        or rps.DEFAULT_OCI_KUBERNETES_SERVICE_ACCOUNT_CERT_PATH,
        service_host=os.environ.get(rps.KUBERNETES_SERVICE_HOST),
        service_port=str(config.oke_proxymux_port or rps.OCI_KUBERNETES_PROXYMUX_SERVICE_PORT),
        region=os.environ.get(rps.OCI_RESOURCE_PRINCIPAL_REGION),
        retry_strategy=_retry_strategy(config),
    )


def _retry_strategy(config: OciConfig, *, metadata: bool = False) -> Any:
    """`config.retry` as an SDK strategy. `metadata`: also retry 404, which the metadata service answers at boot."""
    retry = config.retry
    if retry.max_attempts <= 1:
        return oci.retry.NoneRetryStrategy()
    kwargs: dict[str, Any] = {
        "max_attempts": retry.max_attempts,
        "total_elapsed_time_seconds": retry.total_elapsed_seconds,
        "retry_base_sleep_time_seconds": retry.base_sleep_seconds,
        "retry_max_wait_between_calls_seconds": retry.max_sleep_seconds,
        "backoff_type": oci.retry.BACKOFF_FULL_JITTER_EQUAL_ON_THROTTLE_VALUE,
    }
    if metadata:  # as the SDK's INSTANCE_METADATA_URL_CERTIFICATE_RETRIEVER_RETRY_STRATEGY
        kwargs["service_error_retry_config"] = {-1: [], 429: [], 404: []}
    return oci.retry.RetryStrategyBuilder(**kwargs).get_retry_strategy()


def _breaker_strategy(config: OciConfig) -> Any:
    """A breaker of the signer's own: the SDK's default federation breaker is process-wide, shared by every signer."""
    breaker = config.circuit_breaker
    if not breaker.enabled:
        return oci.circuit_breaker.NoCircuitBreakerStrategy()
    return oci.circuit_breaker.CircuitBreakerStrategy(
        failure_threshold=breaker.failure_threshold, recovery_timeout=breaker.recovery_timeout_seconds
    )


class CredentialsProvider:
    """Builds the signer once, on first use, from any thread.

    Config-file profiles are read eagerly (`load_profile`, so a bad path is a `ConfigError` before the run starts);
    principal signers contact the metadata service or read injected tokens, so they are built lazily and a failure is
    a `CollectorError` of the scope that needed them.
    """

    def __init__(self, config: OciConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._credentials: Credentials | None = load_profile(config) if config.auth == "config_file" else None

    @property
    def tenancy_hint(self) -> str:
        """The tenancy OCID when known without a network call, else the auth mode (for root scope labels)."""
        if self._credentials is not None:
            return self._credentials.tenancy_id
        return self._config.tenancy or self._config.auth

    def get(self) -> Credentials:
        """The credentials, building the principal signer on first call."""
        with self._lock:
            if self._credentials is None:
                self._credentials = self._build_principal()
            return self._credentials

    def _build_principal(self) -> Credentials:
        auth = self._config.auth
        try:
            signer = _principal_signer(self._config)
        except ConfigError:
            raise
        except Exception as exc:  # the SDK raises many types here (requests errors, ValueError, ClientError…)
            code = type(exc).__name__
            if isinstance(exc, oci.exceptions.ServiceError):
                # The Auth Service's code (NotAuthenticated…); metadata/proxymux errors only have an HTTP status.
                code = str(exc.code) if exc.code and not str(exc.code).isdigit() else f"HTTP{exc.status}"
                detail = f"HTTP {exc.status} {exc.code}: {exc.message}"
            else:
                detail = f"{code}: {exc}"
            raise CollectorError(f"cannot build the OCI {auth} signer: {detail}", vendor="oci", code=code) from exc
        tenancy = self._config.tenancy or getattr(signer, "tenancy_id", None) or _claim(signer, "res_tenant")
        region = self._config.region or getattr(signer, "region", None)
        if not tenancy or not region:
            missing = "tenancy" if not tenancy else "region"
            raise CollectorError(
                f"the OCI {auth} signer does not say its {missing}; set inventory.oci.{missing}",
                vendor="oci",
                code="MissingConfiguration",
            )
        return Credentials(signer=signer, tenancy_id=tenancy, region=region)


def _claim(signer: Any, name: str) -> str | None:
    """A claim of the signer's security token: via ``get_claim`` (resource principals) or the decoded token (OKE)."""
    getter = getattr(signer, "get_claim", None)
    try:
        value = getter(name) if getter is not None else signer.security_token.get_jwt().get(name)
    except Exception:  # a signer without that claim, or without a decoded token
        return None
    return value if isinstance(value, str) else None
