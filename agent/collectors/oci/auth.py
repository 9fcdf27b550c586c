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


def _principal_signer(auth: str) -> Any:
    if auth == "instance_principal":
        return oci.auth.signers.InstancePrincipalsSecurityTokenSigner()
    if auth == "resource_principal":
        return oci.auth.signers.get_resource_principals_signer()
    if auth == "oke_workload_identity":
        return oci.auth.signers.get_oke_workload_identity_resource_principal_signer()
    raise ConfigError(f"inventory.oci.auth={auth!r} is not supported")


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
            signer = _principal_signer(auth)
        except ConfigError:
            raise
        except Exception as exc:  # the SDK raises many types here (requests errors, ValueError, ClientError…)
            raise CollectorError(
                f"cannot build the OCI {auth} signer: {type(exc).__name__}: {exc}",
                vendor="oci",
                code=type(exc).__name__,
            ) from exc
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
    getter = getattr(signer, "get_claim", None)
    if getter is None:
        return None
    try:
        value = getter(name)
    except Exception:  # a signer without that claim
        return None
    return value if isinstance(value, str) else None
