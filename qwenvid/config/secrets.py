"""`config set` never writes a secret (product.md §3.1): by the key's name or by what its value holds."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from qwenvid.errors import ConfigError, scrub

# Names of settings that can only hold a secret (API keys, OSS credentials, tokens, passwords).
_SECRET_NAME = re.compile(r"api_key|secret|password|passwd|token|access_key|credential", re.IGNORECASE)
_HINT = "Put secrets in the environment or in .env (`qwenvid doctor --write-env`); config.toml is not for them."


def refuse_secret(key: str, value: str) -> None:
    """ConfigError when `key` names a secret or `value` holds one (a key, a URL with credentials)."""
    if _SECRET_NAME.search(key):
        raise ConfigError(f"qwenvid does not write {key} into config.toml: it holds a secret.", hint=_HINT)
    why = _secret_in(value)
    if why:
        raise ConfigError(f"qwenvid does not write this {key} into config.toml: {why}.", hint=_HINT)


def _secret_in(value: str) -> str | None:
    if scrub(value) != value:
        return "the value holds an API key or token"
    for candidate in re.findall(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s]+", value):
        try:
            parts = urlsplit(candidate)
        except ValueError:
            continue
        if parts.username or parts.password or "@" in parts.netloc:
            return "the URL carries credentials (user:password@ or a key before the host)"
        if re.search(r"(?i)(signature|x-oss-credential|accesskeyid|security-token|password|token)=", parts.query):
            return "the URL carries credentials in its query (a signed or token link)"
    return None
