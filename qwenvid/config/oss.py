"""Your own OSS bucket for uploads: the QwenCloud skill's QWEN_TMP_OSS_* settings, through qwenvid's precedence.

Non-secret settings come from the environment, `.env`, then the config file (`oss_bucket`, `oss_region`,
`oss_endpoint`, `oss_prefix`, `oss_url_expires`). Credentials come only from the environment or `.env`:
`QWEN_TMP_OSS_AK_ID` + `QWEN_TMP_OSS_AK_SECRET` when both are set, else the standard
`OSS_ACCESS_KEY_ID` + `OSS_ACCESS_KEY_SECRET` (+ `OSS_SESSION_TOKEN`), as in the skill. Both halves of a
pair are registered as secrets, so `errors.scrub` removes them from every output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from qwenvid.errors import AuthenticationError, ConfigError, register_secret

if TYPE_CHECKING:
    from qwenvid.config import _Layers

BUCKET_VAR = "QWEN_TMP_OSS_BUCKET"
REGION_VAR = "QWEN_TMP_OSS_REGION"
ENDPOINT_VAR = "QWEN_TMP_OSS_ENDPOINT"
PREFIX_VAR = "QWEN_TMP_OSS_PREFIX"
URL_EXPIRES_VAR = "QWEN_TMP_OSS_URL_EXPIRES"
AK_ID_VARS = ("QWEN_TMP_OSS_AK_ID", "OSS_ACCESS_KEY_ID")
AK_SECRET_VARS = ("QWEN_TMP_OSS_AK_SECRET", "OSS_ACCESS_KEY_SECRET")
SESSION_TOKEN_VAR = "OSS_SESSION_TOKEN"

DEFAULT_PREFIX = "qwenvid-uploads"
DEFAULT_URL_EXPIRES = 86400.0  # the skill's default: a day
MAX_URL_EXPIRES = 7 * 24 * 3600.0  # V4 presigned links live at most 7 days
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

# config.toml keys (non-secret only; `config set` refuses credentials) -> the environment variable.
CONFIG_KEYS: dict[str, str] = {
    "oss_bucket": f"your own OSS bucket for uploads ({BUCKET_VAR}); unset: DashScope's temporary storage",
    "oss_region": f"the bucket's region, e.g. ap-southeast-1 ({REGION_VAR})",
    "oss_endpoint": f"custom OSS endpoint, overrides the region's ({ENDPOINT_VAR}); http only for loopback",
    "oss_prefix": f"object key prefix; objects go under PREFIX/YYYYMMDD/ (default {DEFAULT_PREFIX}) ({PREFIX_VAR})",
    "oss_url_expires": f"presigned link lifetime in seconds, at least the task's expected time (default 86400) "
    f"({URL_EXPIRES_VAR})",
}
TEXT_KEYS = ("oss_bucket", "oss_region", "oss_endpoint", "oss_prefix")
# Names someone might try with `config set`: credentials are never written to a file.
SECRET_KEYS = frozenset({"oss_ak_id", "oss_ak_secret", "oss_access_key_id", "oss_access_key_secret"})


@dataclass(frozen=True)
class OssSettings:
    """The user's bucket: where uploads go, with which credentials (never shown in repr)."""

    bucket: str
    bucket_source: str
    region: str | None
    region_source: str
    endpoint: str | None
    endpoint_source: str
    prefix: str
    prefix_source: str
    url_expires: float
    url_expires_source: str
    access_key_id: str | None = field(default=None, repr=False)
    access_key_secret: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    credentials_source: str = "not set"

    @property
    def service(self) -> str:
        """Where objects are stored, for the ledger: endpoint (or region) and bucket."""
        return f"oss:{self.endpoint or self.region or '?'}/{self.bucket}"

    def require_usable(self) -> None:
        """A region and credentials, or a one-line error saying which setting is missing."""
        if not self.region:
            raise ConfigError(
                f"{BUCKET_VAR} is set ({self.bucket}) but the bucket's region is not: set {REGION_VAR} "
                "(e.g. ap-southeast-1) in the environment or .env, or `qwenvid config set oss_region REGION`."
            )
        if not (self.access_key_id and self.access_key_secret):
            raise AuthenticationError(
                f"{BUCKET_VAR} is set ({self.bucket}) but no OSS credentials are: set QWEN_TMP_OSS_AK_ID and "
                "QWEN_TMP_OSS_AK_SECRET (or OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET) in the environment or .env.",
                code="NoOssCredentials",
            )


def mask_access_key_id(key_id: str | None) -> str:
    """The id's first four characters ("LTAI…"): which key it is, at a glance, and nothing more."""
    if not key_id:
        return "(not set)"
    return key_id[:4] + "…"


def resolve_oss(layers: _Layers) -> OssSettings | None:
    """The bucket settings in effect, or None when no bucket is set (uploads go to the temporary storage)."""
    expires, expires_source = _url_expires(layers)  # checked even before a bucket is set (`config set` too)
    bucket = layers.lookup(None, BUCKET_VAR, "oss_bucket")
    if bucket is None:
        return None
    region = layers.lookup(None, REGION_VAR, "oss_region")
    endpoint = layers.lookup(None, ENDPOINT_VAR, "oss_endpoint")
    prefix = layers.lookup(None, PREFIX_VAR, "oss_prefix")
    key_id, secret, token, source = _credentials(layers)
    return OssSettings(
        bucket=bucket.value,
        bucket_source=bucket.source,
        region=region.value if region else None,
        region_source=region.source if region else "not set",
        endpoint=check_endpoint(endpoint.value, endpoint.source) if endpoint else None,
        endpoint_source=endpoint.source if endpoint else "region's",
        prefix=(prefix.value.strip("/") if prefix else DEFAULT_PREFIX) or DEFAULT_PREFIX,
        prefix_source=prefix.source if prefix else "default",
        url_expires=expires,
        url_expires_source=expires_source,
        access_key_id=key_id,
        access_key_secret=secret,
        session_token=token,
        credentials_source=source,
    )


def _credentials(layers: _Layers) -> tuple[str | None, str | None, str | None, str]:
    """The skill's order: the QWEN_TMP_OSS_AK_* pair when both are set, else the standard OSS_* pair."""
    for id_var, secret_var in zip(AK_ID_VARS, AK_SECRET_VARS, strict=True):
        key_id = layers.from_environ(id_var) or layers.from_dotenv(id_var)
        secret = layers.from_environ(secret_var) or layers.from_dotenv(secret_var)
        if key_id and secret:
            register_secret(key_id.value)
            register_secret(secret.value)
            token = None
            if id_var == "OSS_ACCESS_KEY_ID":
                found = layers.from_environ(SESSION_TOKEN_VAR) or layers.from_dotenv(SESSION_TOKEN_VAR)
                token = found.value if found else None
                register_secret(token)
            where = ".env" if key_id.source.startswith(".env") else "environment"
            return key_id.value, secret.value, token, f"{id_var} + {secret_var} ({where})"
    return None, None, None, "not set"


def _url_expires(layers: _Layers) -> tuple[float, str]:
    found = layers.from_environ(URL_EXPIRES_VAR) or layers.from_dotenv(URL_EXPIRES_VAR)
    value: Any
    if found is not None:
        value, source = found.value, found.source
    elif "oss_url_expires" in layers.config:
        value, source = layers.config["oss_url_expires"], "config file"
    else:
        return DEFAULT_URL_EXPIRES, "default"
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or not 60 <= seconds <= MAX_URL_EXPIRES:
        raise ConfigError(
            f"{URL_EXPIRES_VAR} / oss_url_expires {value!r} (from {source}) must be a number of seconds "
            f"from 60 to {MAX_URL_EXPIRES:.0f} (7 days, the longest a presigned link lives)."
        )
    return seconds, source


def check_endpoint(endpoint: str, source: str) -> str:
    """A custom endpoint as a URL: https by default; plain http only to this machine (the emulator)."""
    text = endpoint.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    try:
        host, _port = parts.hostname, parts.port  # both parse lazily and raise on a bad host or port
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{ENDPOINT_VAR} {endpoint!r} (from {source}) is not an http(s) endpoint with a host.")
    if parts.scheme == "http" and host not in LOOPBACK:
        raise ConfigError(
            f"{ENDPOINT_VAR} {endpoint!r} (from {source}) uses plain http to {host}: only loopback endpoints "
            "(127.0.0.1, localhost) may; use https (or no scheme) for a real OSS endpoint."
        )
    return text.rstrip("/")


def effective_rows(oss: OssSettings | None, in_file: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, value, source) for `qwenvid config`: the bucket keys, and the credentials masked."""
    if oss is None:
        # No bucket: uploads use the temporary storage; values waiting in the file are shown as they are.
        return [(key, str(in_file[key]), "config file") if key in in_file else (key, "(not set)", "not set")
                for key in CONFIG_KEYS]
    return [
        ("oss_bucket", oss.bucket, oss.bucket_source),
        ("oss_region", oss.region or "(not set)", oss.region_source),
        ("oss_endpoint", oss.endpoint or "(region's)", oss.endpoint_source),
        ("oss_prefix", oss.prefix, oss.prefix_source),
        ("oss_url_expires", f"{oss.url_expires:g}", oss.url_expires_source),
        ("oss_credentials", mask_access_key_id(oss.access_key_id), oss.credentials_source),
    ]
