"""A local fake of OCI Identity + VirtualNetwork (API 20160918) that verifies request signatures like the real service.

Why a hand-written fake: the oci SDK has no test double, and what matters to the collector is the wire contract:
per-region endpoints (``http://127.0.0.1:PORT/<region>/20160918/...``, see cloud-sdks.md §4.1), bare JSON arrays,
``opc-next-page`` paging, ``{"code", "message"}`` errors and HTTP Signatures (draft-cavage, ``rsa-sha256``).

What it enforces, as the real service does:

* every request is signed: the fake rebuilds the signing string from the ``headers=`` list of the ``Authorization``
  header (``date (request-target) host`` at least for GET) and verifies it with the registered public key of the
  ``keyId`` (``<tenancy>/<user>/<fingerprint>``), or with the session key of a security token (``ST$<jwt>``, the
  resource-principal and session-token flavour; the JWT must be signed by this fake's issuer key and unexpired);
  a bad or stale (> 5 min clock skew) signature is ``401 NotAuthenticated``;
* a region the tenancy is not subscribed to (or whose subscription is not READY) answers ``401 NotAuthenticated``;
* an unknown or denied compartment is ``404 NotAuthorizedOrNotFound``; throttling rules answer ``429 TooManyRequests``;
* required query parameters (``compartmentId``, ``scope``, ``availabilityDomain`` for AD scope, ``subnetId`` or
  ``vnicId`` for IPv6) are ``400 InvalidParameter``/``MissingParameter`` when absent; bad page tokens are rejected.

It also plays the services that mint security tokens, so the SDK's principal signers run end to end:

* **instance metadata (IMDS v2)** under ``/opc/v2/`` (``OCI_METADATA_BASE_URL``): ``instance/region``, ``instance/id``
  and ``identity/{cert,key,intermediate}.pem`` of the instance set with `set_instance`; every request needs
  ``Authorization: Bearer Oracle`` and none of ``Forwarded``/``X-Forwarded-For``/``X-Forwarded-Host`` (else ``401``),
  as IMDS v2 does;
* **Auth Service X.509 federation** (``POST /v1/x509``): the instance's leaf certificate (``OU=opc-tenant:<tenancy>``)
  must chain to this fake's instance CA through the sent intermediate and be within its validity; the request must be
  signed (``keyId`` ``<tenancy>/fed-x509/<SHA-1 fingerprint>``, body headers included) with the certificate's key;
  the answer is ``{"token": <JWT>}`` binding the caller's session key. Refusals are ``401 NotAuthenticated``, which no
  SDK retry strategy retries, so a refused instance fails at once;
* **OKE proxymux** (HTTPS, `start_oke_proxymux`): ``POST /resourcePrincipalSessionTokens`` with
  ``Authorization: Bearer <service-account token>`` (issued by `issue_service_account_token`) and ``{"podKey"}``
  answers the base64 of ``{"token": "ST$<RPST>"}``; ``403`` when the cluster is not an enhanced one.

`start_demo` seeds a small tenancy for the `demo` command and end-to-end tests (no dev dependencies: only
``cryptography``, which the oci SDK depends on).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import hashlib
import itertools
import json
import logging
import ssl
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from agent.clock import SYSTEM_CLOCK, Clock
from agent.sandbox.demo import DemoCloud
from agent.sandbox.server import serve_in_background, stop_serving
from agent.sandbox.tls import LocalCA

__all__ = [
    "InstanceIdentity",
    "OciFake",
    "RequestRecord",
    "fingerprint_of",
    "generate_key_pem",
    "public_key_of",
    "start_demo",
    "write_oci_config",
]

logger = logging.getLogger(__name__)

API_VERSION = "20160918"
MAX_CLOCK_SKEW_SECONDS = 300  # the real service refuses a Date header more than 5 minutes off
TIME_CREATED = "2024-01-01T00:00:00.000Z"
_NOT_AUTHENTICATED = "The required information to complete authentication was not provided or was incorrect."
_NOT_FOUND = "Authorization failed or requested resource not found."
METADATA_PREFIX = "/opc/v2"
FEDERATION_PATH = "/v1/x509"
PROXYMUX_PATH = "/resourcePrincipalSessionTokens"
INSTANCE_TOKEN_TTL_SECONDS = 1200  # instance-principal tokens live 20 minutes
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host")


def generate_key_pem() -> str:
    """A fresh RSA-2048 private key, PKCS#8 PEM (what ``oci setup keys`` produces)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def fingerprint_of(public_key: rsa.RSAPublicKey) -> str:
    """OCI's API-key fingerprint: MD5 of the DER SubjectPublicKeyInfo as colon-separated hex."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.md5(der, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def public_key_of(private_pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign_jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "fake"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(signature)}"


def _verify_jwt(key: rsa.RSAPublicKey, token: str) -> dict[str, Any]:
    """The claims of an RS256 JWT signed by `key`; ValueError when it is malformed or the signature does not hold."""
    try:
        header, payload, signature = token.split(".")
        key.verify(_b64url_decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(_b64url_decode(payload))
    except (InvalidSignature, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("bad token") from exc
    if not isinstance(claims, dict):
        raise ValueError("bad token")
    return claims


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64url(number: int) -> str:
    return _b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


_OCID_SEQUENCE = itertools.count(1)


def _ocid(kind: str, realm_region: str = "") -> str:
    # Unique within a process and the same from one process to the next, so a demo run's summary is reproducible.
    digest = hashlib.sha256(f"{kind}.{realm_region}.{next(_OCID_SEQUENCE)}".encode()).hexdigest()[:32]
    return f"ocid1.{kind}.oc1.{realm_region}.aaaaaaaa{digest}"


def _name(*attributes: tuple[Any, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _issue_cert(
    subject: x509.Name,
    public_key: Any,
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Name] | None,
    *,
    own_key: ec.EllipticCurvePrivateKey | None = None,
    ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """A certificate for `public_key`, signed by `issuer` (key, name), or self-signed by `own_key` when None."""
    signing_key, issuer_name = issuer if issuer is not None else (own_key, subject)
    assert signing_key is not None
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class _CertificateAuthority:
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str, parent: _CertificateAuthority | None, now: dt.datetime) -> _CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())  # fast to make; the real PKI's key type does not matter here
        subject = _name((NameOID.COMMON_NAME, name))
        issuer = (parent.key, parent.cert.subject) if parent is not None else None
        cert = _issue_cert(subject, key.public_key(), issuer, own_key=key, ca=True,
                           not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=365))  # fmt: skip
        return cls(key, cert)


@dataclass(frozen=True)
class InstanceIdentity:
    """What IMDS hands an instance: its leaf certificate + private key and the intermediate CA certificate (PEM)."""

    instance_id: str
    compartment_id: str
    region: str
    cert_pem: bytes
    intermediate_pem: bytes
    key_pem: bytes = field(repr=False)


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One authenticated request the fake answered (or refused after authentication), for test assertions."""

    region: str
    resource: str  # path after /<region>/20160918, e.g. "/publicIps"
    query: dict[str, str]
    status: int


@dataclass
class _Compartment:
    id: str
    parent: str
    name: str
    lifecycle_state: str = "ACTIVE"


@dataclass
class _Subnet:
    id: str
    region: str
    compartment_id: str
    vcn_id: str
    public: bool
    cidr_block: str = "10.0.0.0/24"
    ipv6_cidr_blocks: list[str] = field(default_factory=list)


@dataclass
class _Throttle:
    region: str | None
    compartment_id: str | None
    remaining: int | None  # None: forever


class OciFake:
    """The fake's state plus its HTTP server. Thread-safe: the server answers each request on its own thread.

    Seed it with `add_api_key`, `subscribe`, `add_compartment`, `add_public_ip`, `add_vcn`, `add_subnet`,
    `add_ipv6`; inject faults with `deny`, `throttle`. `requests` logs what was asked, for assertions.
    """

    def __init__(
        self,
        *,
        tenancy_id: str | None = None,
        page_size: int = 50,
        clock: Clock = SYSTEM_CLOCK,
        ad_prefix: str = "Uocm",
    ) -> None:
        self.tenancy_id = tenancy_id or _ocid("tenancy")
        self.page_size = page_size
        self.clock = clock
        self.ad_prefix = ad_prefix
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}  # keyId -> public key
        self._issuer = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # signs security tokens
        self._regions: dict[str, dict[str, Any]] = {}  # name -> subscription JSON (+ "_ads")
        self._compartments: dict[str, _Compartment] = {}
        self._public_ips: list[dict[str, Any]] = []  # JSON objects + private "_region"
        self._vcns: list[dict[str, Any]] = []
        self._subnets: dict[str, _Subnet] = {}
        self._ipv6s: list[dict[str, Any]] = []
        self._denied: set[tuple[str, str | None]] = set()
        self._throttles: list[_Throttle] = []
        self.requests: list[RequestRecord] = []
        self._server: ThreadingHTTPServer | None = None
        # Principal machinery, made on first use (key generation is the slow part of a fake).
        self._instance_ca: _CertificateAuthority | None = None  # the intermediate the Auth Service trusts
        self._instance: InstanceIdentity | None = None  # what IMDS serves
        self._kube_issuer: rsa.RSAPrivateKey | None = None  # signs Kubernetes service-account tokens
        self.oke_enhanced_cluster = True  # proxymux answers 403 for basic clusters (no workload identity)
        self._proxymux: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- seeding

    def add_api_key(self, public_key: rsa.RSAPublicKey, *, user_id: str | None = None) -> tuple[str, str]:
        """Register a user's API signing key. Returns (user OCID, fingerprint)."""
        user_id = user_id or _ocid("user")
        fingerprint = fingerprint_of(public_key)
        with self._lock:
            self._keys[f"{self.tenancy_id}/{user_id}/{fingerprint}"] = public_key
        return user_id, fingerprint

    def issue_security_token(
        self,
        session_public_key: rsa.RSAPublicKey,
        *,
        compartment_id: str | None = None,
        ttl_seconds: float = 3600,
        principal_type: str = "resource",
        resource_type: str = "fnfunc",
    ) -> str:
        """A resource-principal session token (RPST): a JWT binding `session_public_key`, signed by this fake."""
        claims = {
            "sub": _ocid(resource_type),
            "ptype": principal_type,
            "res_type": resource_type,
            "res_tenant": self.tenancy_id,
            "res_compartment": compartment_id or self.tenancy_id,
            "tenant": self.tenancy_id,
        }
        return self._security_token(session_public_key, claims, ttl_seconds)

    def _security_token(self, session_public_key: rsa.RSAPublicKey, claims: dict[str, Any], ttl_seconds: float) -> str:
        numbers = session_public_key.public_numbers()
        now = int(self.clock.time())
        jwk = {"kid": "asw", "kty": "RSA", "alg": "RS256", "use": "sig", "e": _int_b64url(numbers.e),
               "n": _int_b64url(numbers.n)}  # fmt: skip
        body = {"iss": "authService.oracle.com", **claims, "iat": now, "exp": now + int(ttl_seconds), "jwk": jwk}
        return _sign_jwt(self._issuer, body)

    def set_instance(
        self,
        region: str,
        *,
        compartment_id: str | None = None,
        trusted: bool = True,
        cert_ttl_seconds: float = 3600,
        region_answer: str | None = None,
    ) -> InstanceIdentity:
        """Make IMDS serve a compute instance in `region`: a fresh RSA key and a leaf certificate naming the tenancy.

        `trusted=False` issues the certificate from a look-alike CA the Auth Service does not trust (a forged or
        foreign instance): federation then answers 401. `region_answer` is what ``instance/region`` says instead of
        `region`: IMDS answers the short key (``iad``, ``phx``…) for the older regions.
        """
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        if trusted:
            intermediate = self._trusted_instance_ca()
        else:
            intermediate = _CertificateAuthority.create(
                "PKISVC Identity Intermediate r2", _CertificateAuthority.create("PKISVC Identity Root", None, now), now
            )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        instance_id = _ocid("instance", region.split("-")[1][:3])
        compartment_id = compartment_id or self.tenancy_id
        subject = _name(
            (NameOID.COMMON_NAME, instance_id),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, "opc-certtype:instance"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, f"opc-compartment:{compartment_id}"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, f"opc-instance:{instance_id}"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, f"opc-tenant:{self.tenancy_id}"),
        )
        cert = _issue_cert(subject, key.public_key(), (intermediate.key, intermediate.cert.subject), ca=False,
                           not_before=now - dt.timedelta(minutes=5),
                           not_after=now + dt.timedelta(seconds=cert_ttl_seconds))  # fmt: skip
        identity = InstanceIdentity(
            instance_id=instance_id,
            compartment_id=compartment_id,
            region=region_answer or region,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            intermediate_pem=intermediate.cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            ),
        )
        with self._lock:
            self._instance = identity
        return identity

    def _trusted_instance_ca(self) -> _CertificateAuthority:
        with self._lock:
            if self._instance_ca is None:
                now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
                root = _CertificateAuthority.create("PKISVC Identity Root", None, now)
                self._instance_ca = _CertificateAuthority.create("PKISVC Identity Intermediate r2", root, now)
            return self._instance_ca

    def issue_service_account_token(
        self, namespace: str = "default", service_account: str = "default", *, ttl_seconds: float = 3600
    ) -> str:
        """A Kubernetes projected service-account token (RS256 JWT) of the fake OKE cluster, for proxymux."""
        now = int(self.clock.time())
        claims = {
            "iss": "https://kubernetes.default.svc.cluster.local",
            "aud": ["https://kubernetes.default.svc.cluster.local"],
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account}},
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl_seconds),
        }
        return _sign_jwt(self._kube_key(), claims)

    def _kube_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._kube_issuer is None:
                self._kube_issuer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._kube_issuer

    def subscribe(self, region: str, *, status: str = "READY", home: bool = False, ads: int = 3) -> None:
        """Subscribe the tenancy to `region` (status READY, IN_PROGRESS…) with `ads` availability domains."""
        key = region.split("-")[1][:3].upper()
        ad_names = [f"{self.ad_prefix}:{region.upper()}-AD-{n}" for n in range(1, ads + 1)]
        with self._lock:
            self._regions[region] = {
                "regionKey": key,
                "regionName": region,
                "status": status,
                "isHomeRegion": home,
                "_ads": ad_names,
            }

    def availability_domains(self, region: str) -> list[str]:
        """Names of the ADs of a subscribed region."""
        with self._lock:
            return list(self._regions[region]["_ads"])

    def add_compartment(self, name: str, *, parent: str | None = None, lifecycle_state: str = "ACTIVE") -> str:
        """Create a compartment under `parent` (default: the root tenancy). Returns its OCID."""
        ocid = _ocid("compartment")
        with self._lock:
            self._compartments[ocid] = _Compartment(ocid, parent or self.tenancy_id, name, lifecycle_state)
        return ocid

    def add_public_ip(
        self,
        region: str,
        compartment_id: str,
        ip: str,
        *,
        scope: str = "REGION",
        lifetime: str = "RESERVED",
        availability_domain: str | None = None,
        assigned_entity_type: str | None = "PRIVATE_IP",
        display_name: str | None = None,
    ) -> str:
        """Add a public IP. Region-scoped IPs have no AD; AD-scoped ones (ephemeral on a VNIC) need one."""
        if scope == "AVAILABILITY_DOMAIN" and availability_domain is None:
            availability_domain = self.availability_domains(region)[0]
        region_key = self._regions[region]["regionKey"].lower()
        ocid = _ocid("publicip", region_key)
        assigned = {"PRIVATE_IP": "privateip", "NAT_GATEWAY": "natgateway"}.get(assigned_entity_type or "", "")
        entity_id = _ocid(assigned, region_key) if assigned else None
        item: dict[str, Any] = {
            "id": ocid,
            "ipAddress": ip,
            "scope": scope,
            "lifetime": lifetime,
            "availabilityDomain": availability_domain if scope == "AVAILABILITY_DOMAIN" else None,
            "compartmentId": compartment_id,
            "displayName": display_name or f"publicip-{ip}",
            "lifecycleState": "ASSIGNED" if entity_id else "AVAILABLE",
            "assignedEntityId": entity_id,
            "assignedEntityType": assigned_entity_type if entity_id else None,
            "privateIpId": entity_id if assigned_entity_type == "PRIVATE_IP" else None,
            "publicIpPoolId": None,
            "definedTags": {},
            "freeformTags": {},
            "timeCreated": TIME_CREATED,
            "_region": region,
        }
        with self._lock:
            self._public_ips.append(item)
        return ocid

    def add_vcn(
        self,
        region: str,
        compartment_id: str,
        *,
        cidr_block: str = "10.0.0.0/16",
        ipv6_cidr_blocks: Iterable[str] = (),
        ipv6_private_cidr_blocks: Iterable[str] = (),
        display_name: str = "vcn",
    ) -> str:
        """Add a VCN. `ipv6_cidr_blocks` are Oracle-allocated GUA prefixes; private (ULA) ones are not public."""
        ocid = _ocid("vcn", self._regions[region]["regionKey"].lower())
        item: dict[str, Any] = {
            "id": ocid,
            "compartmentId": compartment_id,
            "cidrBlock": cidr_block,
            "cidrBlocks": [cidr_block],
            "ipv6CidrBlocks": list(ipv6_cidr_blocks) or None,
            "ipv6PrivateCidrBlocks": list(ipv6_private_cidr_blocks) or None,
            "byoipv6CidrBlocks": None,
            "displayName": display_name,
            "dnsLabel": None,
            "lifecycleState": "AVAILABLE",
            "defaultDhcpOptionsId": _ocid("dhcpoptions"),
            "defaultRouteTableId": _ocid("routetable"),
            "defaultSecurityListId": _ocid("securitylist"),
            "definedTags": {},
            "freeformTags": {},
            "timeCreated": TIME_CREATED,
            "_region": region,
        }
        with self._lock:
            self._vcns.append(item)
        return ocid

    def add_subnet(
        self,
        region: str,
        compartment_id: str,
        vcn_id: str,
        *,
        public: bool = True,
        cidr_block: str = "10.0.0.0/24",
        ipv6_cidr_blocks: Iterable[str] = (),
    ) -> str:
        """Add a subnet. A private one has ``prohibitInternetIngress`` and ``prohibitPublicIpOnVnic`` true."""
        ocid = _ocid("subnet", self._regions[region]["regionKey"].lower())
        with self._lock:
            self._subnets[ocid] = _Subnet(
                ocid, region, compartment_id, vcn_id, public, cidr_block, list(ipv6_cidr_blocks)
            )
        return ocid

    def add_ipv6(self, subnet_id: str, ip: str, *, lifetime: str = "EPHEMERAL") -> str:
        """Assign an IPv6 address to a (fake) VNIC in `subnet_id`."""
        with self._lock:
            subnet = self._subnets[subnet_id]
        region_key = self._regions[subnet.region]["regionKey"].lower()
        ocid = _ocid("ipv6", region_key)
        item: dict[str, Any] = {
            "id": ocid,
            "compartmentId": subnet.compartment_id,
            "displayName": f"ipv6-{ip}",
            "ipAddress": ip,
            "cidrPrefixLength": None,
            "lifecycleState": "AVAILABLE",
            "subnetId": subnet_id,
            "vnicId": _ocid("vnic", region_key),
            "ipState": "ASSIGNED",
            "lifetime": lifetime,
            "routeTableId": None,
            "hostname": None,
            "definedTags": {},
            "freeformTags": {},
            "timeCreated": TIME_CREATED,
        }
        with self._lock:
            self._ipv6s.append(item)
        return ocid

    # ---------------------------------------------------------------- faults

    def deny(self, compartment_id: str, region: str | None = None) -> None:
        """The caller may not read `compartment_id` (in `region`, or anywhere): 404 NotAuthorizedOrNotFound."""
        with self._lock:
            self._denied.add((compartment_id, region))

    def throttle(
        self, *, region: str | None = None, compartment_id: str | None = None, times: int | None = None
    ) -> None:
        """Answer 429 TooManyRequests to matching requests (`times` of them, or all when None)."""
        with self._lock:
            self._throttles.append(_Throttle(region, compartment_id, times))

    def count(self, resource: str, **query: str) -> int:
        """How many logged requests hit `resource` with at least these query parameters."""
        with self._lock:
            records = list(self.requests)
        return sum(1 for r in records if r.resource == resource and all(r.query.get(k) == v for k, v in query.items()))

    # ---------------------------------------------------------------- server

    def _serve(self, *, proxymux: bool, ssl_context: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        Handler.proxymux = proxymux
        server = _Server(("127.0.0.1", 0), Handler)
        if ssl_context is not None:
            server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
        name = "oci-fake-proxymux" if proxymux else "oci-fake"
        serve_in_background(server, name)
        return server

    def start(self) -> str:
        """Start serving on an ephemeral port of 127.0.0.1. Returns the base URL."""
        self._server = self._serve(proxymux=False)
        return self.url

    def start_oke_proxymux(self, ca: LocalCA) -> int:
        """Serve the OKE proxymux over HTTPS (certificate for 127.0.0.1 from `ca`) on an ephemeral port; return it.

        The SDK only speaks ``https://$KUBERNETES_SERVICE_HOST:<port>/resourcePrincipalSessionTokens`` and verifies it
        with the pod's Kubernetes CA file, so this endpoint cannot be plain HTTP. `stop` stops it too.
        """
        self._proxymux = self._serve(proxymux=True, ssl_context=ca.server_context("127.0.0.1"))
        return int(self._proxymux.server_address[1])

    def stop(self) -> None:
        """Stop the servers (idempotent)."""
        for server in (self._server, self._proxymux):
            if server is not None:
                stop_serving(server)
        self._server = self._proxymux = None

    @property
    def url(self) -> str:
        assert self._server is not None, "OciFake.start() first"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def endpoint_template(self) -> str:
        """The collector's ``endpoint_template`` for this fake."""
        return f"{self.url}/{{region}}"

    @property
    def metadata_base_url(self) -> str:
        """The value for ``OCI_METADATA_BASE_URL`` (the SDK's instance-metadata override)."""
        return f"{self.url}{METADATA_PREFIX}"

    @property
    def federation_endpoint(self) -> str:
        """The collector's ``federation_endpoint`` (Auth Service X.509 federation) for this fake."""
        return f"{self.url}{FEDERATION_PATH}"

    def __enter__(self) -> OciFake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- request handling

    def authenticate(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes = b"",
        *,
        key_for: Callable[[str], rsa.RSAPublicKey] | None = None,
    ) -> None:
        """Verify the HTTP signature of a request; raise 401 `_ApiError` when it does not hold.

        `key_for` maps the ``keyId`` to the verification key (default: API keys and security tokens). A request with
        a body must sign ``content-length``, ``content-type`` and ``x-content-sha256``, and the digest must match.
        """
        auth = headers.get("authorization", "")
        if not auth.startswith("Signature "):
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        params = _parse_signature_params(auth[len("Signature ") :])
        if params.get("version") != "1" or params.get("algorithm") != "rsa-sha256":
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        signed = params.get("headers", "date").lower().split()
        if method == "GET" and not {"date", "(request-target)", "host"} <= set(signed):
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        if method in ("POST", "PUT"):
            if not {"date", "(request-target)", "content-length", "content-type", "x-content-sha256"} <= set(signed):
                raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
            if headers.get("x-content-sha256") != digest or headers.get("content-length") != str(len(body)):
                raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        key = (key_for or self._verification_key)(params.get("keyId", ""))
        lines = []
        for name in signed:
            if name == "(request-target)":
                lines.append(f"(request-target): {method.lower()} {target}")
            elif name in headers:
                lines.append(f"{name}: {headers[name]}")
            else:
                raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        try:
            signature = base64.b64decode(params.get("signature", ""), validate=True)
            key.verify(signature, "\n".join(lines).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED) from None
        try:
            sent = email.utils.parsedate_to_datetime(headers.get("date", "")).timestamp()
        except (TypeError, ValueError):
            raise _ApiError(401, "NotAuthenticated", "Date header is missing or malformed") from None
        if abs(sent - self.clock.time()) > MAX_CLOCK_SKEW_SECONDS:
            raise _ApiError(401, "NotAuthenticated", "Date header is outside the allowed clock skew")

    def _verification_key(self, key_id: str) -> rsa.RSAPublicKey:
        if key_id.startswith("ST$"):
            return self._session_key(key_id[3:])
        with self._lock:
            key = self._keys.get(key_id)
        if key is None:
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        return key

    def _session_key(self, token: str) -> rsa.RSAPublicKey:
        """The session public key bound by a security token this fake issued (and that has not expired)."""
        try:
            claims = _verify_jwt(self._issuer.public_key(), token)
            jwk = claims["jwk"]
            numbers = rsa.RSAPublicNumbers(
                int.from_bytes(_b64url_decode(jwk["e"]), "big"), int.from_bytes(_b64url_decode(jwk["n"]), "big")
            )
        except (ValueError, KeyError, TypeError):
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED) from None
        # Resource principals name their tenancy in res_tenant, instance principals in tenant.
        tenant = claims.get("res_tenant") or claims.get("tenant")
        if tenant != self.tenancy_id or claims.get("exp", 0) < self.clock.time():
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        return numbers.public_key()

    def handle(
        self, method: str, raw_target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body or raw `bytes` for text answers, extra headers)."""
        parts = urlsplit(raw_target)
        if parts.path == METADATA_PREFIX or parts.path.startswith(METADATA_PREFIX + "/"):
            return self._metadata(method, parts.path[len(METADATA_PREFIX) :], headers)
        if parts.path == FEDERATION_PATH:
            return self._federate(method, raw_target, headers, body)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if len(segments) < 3 or segments[1] != API_VERSION:
            raise _ApiError(404, "NotFound", f"Unknown resource {parts.path}")
        if method != "GET":
            raise _ApiError(405, "NotAllowed", f"{method} is not supported by this fake")
        self.authenticate(method, raw_target, headers)
        region, resource = segments[0], "/" + "/".join(segments[2:])
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        status = 200
        try:
            body, next_page = self._route(region, segments[2:], query)
        except _ApiError as exc:
            status = exc.status
            raise
        finally:
            with self._lock:
                self.requests.append(RequestRecord(region, resource, query, status))
        extra = {"opc-next-page": next_page} if next_page else {}
        return 200, body, extra

    # ---------------------------------------------------------------- instance principals

    def _record(self, region: str, resource: str, status: int) -> None:
        with self._lock:
            self.requests.append(RequestRecord(region, resource, {}, status))

    def _metadata(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """IMDS v2: plain-text answers; the Authorization header is mandatory and forwarded requests are refused."""
        status, text = self._metadata_answer(method, path, headers)
        self._record("", METADATA_PREFIX + path, status)
        return status, text.encode("ascii"), {"Content-Type": "text/plain"}

    def _metadata_answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
        if headers.get("authorization") != "Bearer Oracle" or any(h in headers for h in _FORWARDING_HEADERS):
            return 401, "Unauthorized"
        if method != "GET":
            return 405, "Method Not Allowed"
        with self._lock:
            instance = self._instance
        if instance is None:
            return 404, "Not Found"
        answers = {
            "/instance/region": instance.region,
            "/instance/id": instance.instance_id,
            "/instance/compartmentId": instance.compartment_id,
            "/identity/cert.pem": instance.cert_pem.decode("ascii"),
            "/identity/key.pem": instance.key_pem.decode("ascii"),
            "/identity/intermediate.pem": instance.intermediate_pem.decode("ascii"),
        }
        answer = answers.get(path.rstrip("/"))
        return (200, answer) if answer is not None else (404, "Not Found")

    def _federate(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Auth Service ``POST /v1/x509``: exchange an instance certificate (and a session public key) for a token."""
        status = 200
        try:
            if method != "POST":
                raise _ApiError(405, "NotAllowed", f"{method} is not supported on {FEDERATION_PATH}")
            token = self._x509_token(target, headers, body)
        except _ApiError as exc:
            status = exc.status
            raise
        finally:
            self._record("", FEDERATION_PATH, status)
        return 200, {"token": token}, {}

    def _x509_token(self, target: str, headers: dict[str, str], body: bytes) -> str:
        try:
            request = json.loads(body)
            leaf = x509.load_der_x509_certificate(base64.b64decode(request["certificate"], validate=True))
            session_key = serialization.load_der_public_key(base64.b64decode(request["publicKey"], validate=True))
            intermediates = [
                x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
                for text in request.get("intermediateCertificates") or []
            ]
        except (ValueError, KeyError, TypeError):
            raise _ApiError(
                400, "InvalidParameter", "certificate, publicKey or intermediateCertificates is malformed"
            ) from None
        leaf_key = leaf.public_key()
        if not isinstance(session_key, rsa.RSAPublicKey) or not isinstance(leaf_key, rsa.RSAPublicKey):
            raise _ApiError(400, "InvalidParameter", "publicKey and the certificate key must be RSA keys")
        tenant = next(
            (str(a.value)[len("opc-tenant:") :] for a in leaf.subject if str(a.value).startswith("opc-tenant:")), None
        )
        fingerprint = ":".join(f"{b:02X}" for b in leaf.fingerprint(hashes.SHA1()))  # the keyId format the SDK uses

        def key_for(key_id: str) -> rsa.RSAPublicKey:
            if key_id != f"{tenant}/fed-x509/{fingerprint}":
                raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
            return leaf_key

        self.authenticate("POST", target, headers, body, key_for=key_for)  # proves possession of the instance key
        if tenant != self.tenancy_id or not self._trusted_chain(leaf, intermediates):
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        subject = {str(a.value).partition(":")[0]: str(a.value).partition(":")[2] for a in leaf.subject}
        claims = {
            "sub": subject.get("opc-instance") or _ocid("instance"),
            "ptype": "instance",
            "tenant": self.tenancy_id,
            "opc-certtype": "instance",
            "opc-instance": subject.get("opc-instance"),
            "opc-compartment": subject.get("opc-compartment"),
            "opc-tenant": self.tenancy_id,
        }
        return self._security_token(session_key, claims, INSTANCE_TOKEN_TTL_SECONDS)

    def _trusted_chain(self, leaf: x509.Certificate, intermediates: list[x509.Certificate]) -> bool:
        """The leaf is issued by a sent intermediate that is this fake's instance CA, and both are valid now."""
        with self._lock:
            trusted = self._instance_ca
        if trusted is None:
            return False
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        for intermediate in intermediates:
            if intermediate != trusted.cert:
                continue
            try:
                leaf.verify_directly_issued_by(intermediate)
            except (ValueError, TypeError, InvalidSignature):
                return False
            certs = (leaf, intermediate)
            return all(c.not_valid_before_utc <= now <= c.not_valid_after_utc for c in certs)
        return False

    # ---------------------------------------------------------------- OKE workload identity

    def handle_proxymux(
        self, method: str, raw_target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """OKE proxymux: a pod's service-account token + session public key for a base64-wrapped RPST."""
        status = 200
        try:
            if urlsplit(raw_target).path != PROXYMUX_PATH:
                raise _ApiError(404, "NotFound", f"Unknown resource {raw_target}")
            if method != "POST":
                raise _ApiError(405, "NotAllowed", f"{method} is not supported on {PROXYMUX_PATH}")
            answer = self._workload_token(headers, body)
        except _ApiError as exc:
            status = exc.status
            raise
        finally:
            self._record("", PROXYMUX_PATH, status)
        return 200, answer, {"Content-Type": "text/plain"}

    def _workload_token(self, headers: dict[str, str], body: bytes) -> bytes:
        auth = headers.get("authorization", "")
        with self._lock:
            kube = self._kube_issuer
            enhanced = self.oke_enhanced_cluster
        try:
            if kube is None or not auth.startswith("Bearer "):
                raise ValueError("no token")
            sa_claims = _verify_jwt(kube.public_key(), auth[len("Bearer ") :])
            namespace = sa_claims["kubernetes.io"]["namespace"]
            service_account = sa_claims["kubernetes.io"]["serviceaccount"]["name"]
        except (ValueError, KeyError, TypeError):
            raise _ApiError(401, "NotAuthenticated", "The service account token is not valid") from None
        if sa_claims.get("exp", 0) < self.clock.time():
            raise _ApiError(401, "NotAuthenticated", "The service account token has expired")
        if not enhanced:
            raise _ApiError(403, "NotAuthorized", "Workload identity needs an enhanced cluster")
        try:
            pod_key = serialization.load_der_public_key(base64.b64decode(json.loads(body)["podKey"], validate=True))
        except (ValueError, KeyError, TypeError):
            raise _ApiError(400, "InvalidParameter", "podKey is missing or malformed") from None
        if not isinstance(pod_key, rsa.RSAPublicKey):
            raise _ApiError(400, "InvalidParameter", "podKey must be an RSA public key")
        claims = {
            "sub": _ocid("workload"),
            "ptype": "workload",
            "res_type": "workload",
            "res_tenant": self.tenancy_id,
            "res_compartment": self.tenancy_id,
            "tenant": self.tenancy_id,
            "namespace": namespace,
            "service_account": service_account,
        }
        rpst = self._security_token(pod_key, claims, 3600)
        return base64.b64encode(json.dumps({"token": f"ST${rpst}"}).encode())

    def _route(self, region: str, path: list[str], query: dict[str, str]) -> tuple[Any, str | None]:
        with self._lock:
            subscription = self._regions.get(region)
        if subscription is None or subscription["status"] != "READY":
            # Identity data (and so the caller's key) is only replicated into subscribed regions.
            raise _ApiError(401, "NotAuthenticated", _NOT_AUTHENTICATED)
        if len(path) == 3 and path[0] == "tenancies" and path[2] == "regionSubscriptions":
            if path[1] != self.tenancy_id:
                raise _ApiError(404, "NotAuthorizedOrNotFound", _NOT_FOUND)
            with self._lock:
                items = [{k: v for k, v in r.items() if not k.startswith("_")} for r in self._regions.values()]
            return items, None
        handlers = {
            "compartments": self._list_compartments,
            "availabilityDomains": self._list_availability_domains,
            "publicIps": self._list_public_ips,
            "vcns": self._list_vcns,
            "subnets": self._list_subnets,
            "ipv6": self._list_ipv6s,
        }
        if len(path) != 1 or path[0] not in handlers:
            raise _ApiError(404, "NotFound", f"Unknown resource /{'/'.join(path)}")
        return handlers[path[0]](region, query)

    # Each list handler returns the full result; paging is applied uniformly.

    def _require(self, query: dict[str, str], name: str) -> str:
        value = query.get(name)
        if not value:
            raise _ApiError(400, "MissingParameter", f"Missing required parameter '{name}'")
        return value

    def _check_compartment(self, region: str, compartment_id: str) -> None:
        with self._lock:
            known = compartment_id == self.tenancy_id or compartment_id in self._compartments
            denied = (compartment_id, None) in self._denied or (compartment_id, region) in self._denied
            throttle = next(
                (
                    t
                    for t in self._throttles
                    if (t.region in (None, region))
                    and (t.compartment_id in (None, compartment_id))
                    and (t.remaining is None or t.remaining > 0)
                ),
                None,
            )
            if throttle is not None and throttle.remaining is not None:
                throttle.remaining -= 1
        if throttle is not None:
            raise _ApiError(429, "TooManyRequests", "Too many requests for the tenant")
        if not known or denied:
            raise _ApiError(404, "NotAuthorizedOrNotFound", _NOT_FOUND)

    def _page(self, items: list[dict[str, Any]], query: dict[str, str]) -> tuple[Any, str | None]:
        limit = self.page_size
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                limit = 0
            if not 1 <= limit <= 1000:
                raise _ApiError(400, "InvalidParameter", f"Invalid limit {query['limit']!r}")
        start = 0
        if "page" in query:
            token = query["page"]
            try:
                start = int(_b64url_decode(token).decode("ascii").removeprefix("offset:"))
            except (ValueError, UnicodeDecodeError):
                raise _ApiError(400, "InvalidParameter", f"Invalid page token {token!r}") from None
            if not 0 < start <= len(items):
                raise _ApiError(400, "InvalidParameter", f"Invalid page token {token!r}")
        end = start + limit
        page = [{k: v for k, v in item.items() if not k.startswith("_")} for item in items[start:end]]
        next_page = _b64url(f"offset:{end}".encode()) if end < len(items) else None
        return page, next_page

    def _list_compartments(self, region: str, query: dict[str, str]) -> tuple[Any, str | None]:
        parent = self._require(query, "compartmentId")
        self._check_compartment(region, parent)
        subtree = query.get("compartmentIdInSubtree", "false") == "true"
        if subtree and parent != self.tenancy_id:
            raise _ApiError(400, "InvalidParameter", "compartmentIdInSubtree is only supported on the tenancy")
        access = query.get("accessLevel", "ANY")
        if access not in ("ANY", "ACCESSIBLE"):
            raise _ApiError(400, "InvalidParameter", f"Invalid accessLevel {access!r}")
        state = query.get("lifecycleState")
        with self._lock:
            compartments = list(self._compartments.values())
            denied = {c for c, r in self._denied if r is None}
        children = [c for c in compartments if subtree or c.parent == parent]
        if state:
            children = [c for c in children if c.lifecycle_state == state]
        if access == "ACCESSIBLE":
            children = [c for c in children if c.id not in denied]
        items: list[dict[str, Any]] = [
            {"id": c.id, "compartmentId": c.parent, "name": c.name, "description": c.name,
             "lifecycleState": c.lifecycle_state, "timeCreated": TIME_CREATED, "isAccessible": None,
             "inactiveStatus": None, "freeformTags": {}, "definedTags": {}}
            for c in children
        ]  # fmt: skip
        return self._page(items, query)

    def _list_availability_domains(self, region: str, query: dict[str, str]) -> tuple[Any, str | None]:
        compartment_id = self._require(query, "compartmentId")
        self._check_compartment(region, compartment_id)
        with self._lock:
            names = list(self._regions[region]["_ads"])
        items = [{"name": n, "id": _ocid("availabilitydomain"), "compartmentId": self.tenancy_id} for n in names]
        return items, None  # not paginated by the real API either

    def _list_public_ips(self, region: str, query: dict[str, str]) -> tuple[Any, str | None]:
        scope = self._require(query, "scope")
        compartment_id = self._require(query, "compartmentId")
        if scope not in ("REGION", "AVAILABILITY_DOMAIN"):
            raise _ApiError(400, "InvalidParameter", f"Invalid scope {scope!r}")
        ad = query.get("availabilityDomain")
        if scope == "AVAILABILITY_DOMAIN" and not ad:
            raise _ApiError(400, "InvalidParameter", "availabilityDomain is required when scope is AVAILABILITY_DOMAIN")
        if scope == "REGION" and ad:
            raise _ApiError(400, "InvalidParameter", "availabilityDomain must not be set when scope is REGION")
        lifetime = query.get("lifetime")
        self._check_compartment(region, compartment_id)
        with self._lock:
            if ad and ad not in self._regions[region]["_ads"]:
                raise _ApiError(400, "InvalidParameter", f"Invalid availabilityDomain {ad!r}")
            items = [
                ip
                for ip in self._public_ips
                if ip["_region"] == region
                and ip["compartmentId"] == compartment_id
                and ip["scope"] == scope
                and (ad is None or ip["availabilityDomain"] == ad)
                and (lifetime is None or ip["lifetime"] == lifetime)
            ]
        return self._page(items, query)

    def _list_vcns(self, region: str, query: dict[str, str]) -> tuple[Any, str | None]:
        compartment_id = self._require(query, "compartmentId")
        self._check_compartment(region, compartment_id)
        with self._lock:
            items = [v for v in self._vcns if v["_region"] == region and v["compartmentId"] == compartment_id]
        return self._page(items, query)

    def _list_subnets(self, region: str, query: dict[str, str]) -> tuple[Any, str | None]:
        compartment_id = self._require(query, "compartmentId")
        vcn_id = query.get("vcnId")
        self._check_compartment(region, compartment_id)
        with self._lock:
            subnets = [
                s
                for s in self._subnets.values()
                if s.region == region and s.compartment_id == compartment_id and (vcn_id is None or s.vcn_id == vcn_id)
            ]
        items = [self._subnet_json(s) for s in subnets]
        return self._page(items, query)

    @staticmethod
    def _subnet_json(s: _Subnet) -> dict[str, Any]:
        cidr = s.cidr_block
        return {
            "id": s.id,
            "compartmentId": s.compartment_id,
            "vcnId": s.vcn_id,
            "availabilityDomain": None,
            "cidrBlock": cidr,
            "ipv4CidrBlocks": [cidr],
            "ipv6CidrBlock": s.ipv6_cidr_blocks[0] if s.ipv6_cidr_blocks else None,
            "ipv6CidrBlocks": s.ipv6_cidr_blocks or None,
            "displayName": "public" if s.public else "private",
            "dnsLabel": None,
            "lifecycleState": "AVAILABLE",
            "prohibitInternetIngress": not s.public,
            "prohibitPublicIpOnVnic": not s.public,
            "routeTableId": _ocid("routetable"),
            "securityListIds": [],
            "dhcpOptionsId": None,
            "virtualRouterIp": "10.0.0.1",
            "virtualRouterMac": "00:00:17:00:00:01",
            "definedTags": {},
            "freeformTags": {},
            "timeCreated": TIME_CREATED,
        }

    def _list_ipv6s(self, region: str, query: dict[str, str]) -> tuple[Any, str | None]:
        subnet_id, vnic_id = query.get("subnetId"), query.get("vnicId")
        if not subnet_id and not vnic_id:
            raise _ApiError(400, "MissingParameter", "Either subnetId or vnicId must be specified")
        with self._lock:
            subnet = self._subnets.get(subnet_id or "")
            items = [
                ip
                for ip in self._ipv6s
                if (subnet_id is None or ip["subnetId"] == subnet_id) and (vnic_id is None or ip["vnicId"] == vnic_id)
            ]
        if subnet_id and (subnet is None or subnet.region != region):
            raise _ApiError(404, "NotAuthorizedOrNotFound", _NOT_FOUND)
        if subnet is not None:
            self._check_compartment(region, subnet.compartment_id)
        return self._page(items, query)


def _parse_signature_params(text: str) -> dict[str, str]:
    """Parse ``k="v",k2="v2"`` of an HTTP Signature header (values never contain a double quote)."""
    params: dict[str, str] = {}
    for part in text.split('",'):
        name, sep, value = part.partition("=")
        if sep:
            params[name.strip()] = value.strip().strip('"')
    return params


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request (the SDK drops a streamed error answer unread) is not a fake failure."""
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            logger.debug("oci fake: %s hung up", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's requests session expects
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the 40 ms Nagle/delayed-ACK stall
    fake: OciFake
    proxymux: bool = False  # this server plays the OKE proxymux, not the OCI APIs

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request_id = headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        handle = self.fake.handle_proxymux if self.proxymux else self.fake.handle
        try:
            status, body, extra = handle(self.command, self.path, headers, request_body)
        except _ApiError as exc:
            status, body, extra = exc.status, {"code": exc.code, "message": exc.message}, {}
        except Exception:  # a bug in the fake must surface as a 500, not a hung client
            logger.exception("OCI fake failed on %s %s", self.command, self.path)
            status, body, extra = 500, {"code": "InternalServerError", "message": "fake failure"}, {}
        payload = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        extra = dict(extra)
        self.send_response(status)
        self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("opc-request-id", request_id)
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("oci fake: " + format, *args)


def write_oci_config(
    directory: Path,
    *,
    tenancy_id: str,
    user_id: str,
    fingerprint: str,
    key_pem: str,
    region: str,
    profile: str = "DEFAULT",
) -> Path:
    """Write an ``~/.oci/config``-style file and its key file into `directory`. Returns the config path."""
    key_path = directory / "oci_api_key.pem"
    key_path.write_text(key_pem)
    key_path.chmod(0o600)
    config_path = directory / "config"
    config_path.write_text(
        f"[{profile}]\nuser={user_id}\nfingerprint={fingerprint}\ntenancy={tenancy_id}\n"
        f"region={region}\nkey_file={key_path}\n"
    )
    config_path.chmod(0o600)
    return config_path


# Demo data: addresses inside each region's published OCI range (oci public_ip_ranges.json), so a ranges feed agrees.
_DEMO_IPS = {
    "us-ashburn-1": ["129.80.12.34", "129.80.99.7"],
    "eu-frankfurt-1": ["92.5.20.11"],
    "ap-tokyo-1": ["138.2.10.20"],
}
_DEMO_IPV6 = ("us-ashburn-1", "2603:c020:4000:8a00::10", "2603:c020:4000:8a00::/56")
_DEMO_NOT_MAPPED = "198.51.100.77"  # TEST-NET-2: in no cloud's feed; held in a region whose subscription is pending


def start_demo(stack: contextlib.ExitStack) -> DemoCloud:
    """Start a seeded OCI fake for the `demo` command (see `agent.sandbox.demo.DemoCloud`).

    A tenancy subscribed to us-ashburn-1 (home), eu-frankfurt-1 and ap-tokyo-1, plus uk-london-1 still IN_PROGRESS,
    which holds `_DEMO_NOT_MAPPED`: the collector must not scan it, so that origin IP stays unmapped.
    """
    fake = OciFake(page_size=2)
    key_pem = generate_key_pem()
    user_id, fingerprint = fake.add_api_key(public_key_of(key_pem))
    fake.subscribe("us-ashburn-1", home=True, ads=3)
    fake.subscribe("eu-frankfurt-1", ads=3)
    fake.subscribe("ap-tokyo-1", ads=1)
    fake.subscribe("uk-london-1", status="IN_PROGRESS", ads=3)
    prod = fake.add_compartment("prod")
    web = fake.add_compartment("web", parent=prod)
    expected: dict[str, str] = {}
    ashburn = _DEMO_IPS["us-ashburn-1"]
    fake.add_public_ip("us-ashburn-1", fake.tenancy_id, ashburn[0], lifetime="RESERVED")
    fake.add_public_ip(
        "us-ashburn-1", web, ashburn[1], scope="AVAILABILITY_DOMAIN", lifetime="EPHEMERAL",
        availability_domain=fake.availability_domains("us-ashburn-1")[1],
    )  # fmt: skip
    fake.add_public_ip(
        "eu-frankfurt-1", prod, _DEMO_IPS["eu-frankfurt-1"][0], lifetime="EPHEMERAL", assigned_entity_type="NAT_GATEWAY"
    )
    fake.add_public_ip("ap-tokyo-1", web, _DEMO_IPS["ap-tokyo-1"][0], scope="AVAILABILITY_DOMAIN", lifetime="EPHEMERAL")
    for region, ips in _DEMO_IPS.items():
        expected.update(dict.fromkeys(ips, region))
    v6_region, v6_ip, v6_prefix = _DEMO_IPV6
    vcn = fake.add_vcn(v6_region, prod, ipv6_cidr_blocks=[v6_prefix])
    subnet = fake.add_subnet(v6_region, prod, vcn, public=True, ipv6_cidr_blocks=[v6_prefix.replace("/56", "/64")])
    fake.add_ipv6(subnet, v6_ip)
    expected[v6_ip] = v6_region
    fake.add_public_ip("uk-london-1", prod, _DEMO_NOT_MAPPED)

    fake.start()
    stack.callback(fake.stop)
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oci-demo-")))
    config_path = write_oci_config(
        directory, tenancy_id=fake.tenancy_id, user_id=user_id, fingerprint=fingerprint, key_pem=key_pem,
        region="us-ashburn-1",
    )  # fmt: skip
    config = {
        "auth": "config_file",
        "config_file": str(config_path),
        "profile": "DEFAULT",
        "endpoint_template": fake.endpoint_template,
        "retry": {"max_attempts": 1},
        "circuit_breaker": {"enabled": False},
        "connect_timeout_seconds": 5,
        "read_timeout_seconds": 10,
    }
    return DemoCloud(
        source="oci",
        config=config,
        origin_ips=[*expected, _DEMO_NOT_MAPPED],
        expected_regions=expected,
    )
