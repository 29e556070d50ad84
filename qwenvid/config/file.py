"""Reading and editing `config.toml` key by key (for `qwenvid config`), keeping the user's comments and layout."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from qwenvid.config import CONFIG_KEYS, HOME_VAR, Settings, load_settings, mask_key
from qwenvid.config.budget import KEYS as BUDGET_KEYS
from qwenvid.config.ledger_url import LEDGER_URL_VAR, has_password
from qwenvid.config.ledger_url import masked as masked_url
from qwenvid.config.oss import CONFIG_KEYS as OSS_KEYS
from qwenvid.config.oss import SECRET_KEYS as OSS_SECRET_KEYS
from qwenvid.config.oss import TEXT_KEYS as OSS_TEXT_KEYS
from qwenvid.config.oss import effective_rows as oss_rows
from qwenvid.errors import ConfigError
from qwenvid.privacy import private_umask

# Keys `config set` writes as text; every other plain key takes the kind of its Settings field.
TEXT_KEYS = ("region", "base_url", "output_dir", "output_name", "ledger_url", *OSS_TEXT_KEYS)
PLAIN_KEYS = tuple(key for key in CONFIG_KEYS if key not in ("api_key", "[prices]", "[budget]"))
_TIER = re.compile(r"\d+P", re.IGNORECASE)


@dataclass(frozen=True)
class Setting:
    """One key as `config show` lists it: its effective value and where that comes from."""

    key: str
    value: str
    source: str
    about: str


def effective(settings: Settings) -> list[Setting]:
    """Every documented key with the value in effect and its source (flag, env, .env, config file, default)."""
    from qwenvid.config import _read_config

    in_file = _read_config(settings.config_path)

    def origin(key: str) -> str:
        return "config file" if key in in_file else "default"

    prices = settings.prices or {}
    price_text = ", ".join(f"{name} = {price_value_text(rate)}" for name, rate in prices.items()) or "(none)"
    rows = [
        ("api_key", mask_key(settings.api_key), settings.key_source or "not set"),
        ("region", settings.region, settings.region_source),
        ("base_url", settings.base_url, settings.base_url_source),
        ("output_dir", str(settings.output_dir), origin("output_dir")),
        ("confirm_above_seconds", f"{settings.confirm_above_seconds:g}", origin("confirm_above_seconds")),
        ("wait_timeout", f"{settings.wait_timeout:g}", origin("wait_timeout")),
        ("query_qps", f"{settings.query_qps:g}", origin("query_qps")),
        ("[prices]", price_text, origin("prices")),
        ("ledger_url", masked_url(settings.ledger_url) or "(local SQLite ledger)", settings.ledger_url_source),
        ("[budget]", _budget_text(settings), origin("budget")),
    ]
    shown = {key for key, _value, _source in rows} | set(OSS_KEYS)
    for key in PLAIN_KEYS:  # keys added later are shown too, from the Settings field of the same name
        if key not in shown:
            value = getattr(settings, key, in_file.get(key))
            rows.append((key, _shown(value), origin(key)))
    settings_rows = [Setting(key, value, source, CONFIG_KEYS[key]) for key, value, source in rows]
    about_credentials = "OSS key pair from QWEN_TMP_OSS_AK_ID/_SECRET or OSS_ACCESS_KEY_ID/_SECRET (env or .env only)"
    for key, value, source in oss_rows(settings.oss, in_file):
        settings_rows.append(Setting(key, value, source, CONFIG_KEYS.get(key, about_credentials)))
    return settings_rows


def _budget_text(settings: Settings) -> str:
    budget = settings.budget
    if budget is None:
        return "(none)"
    parts = [f"{key} = {value:g}" for key, value in budget.limits()]
    return ", ".join([*parts, f"count_emulator = {str(budget.count_emulator).lower()}"])


def price_value_text(rate: object) -> str:
    """A `[prices]` entry as TOML would write it: `0.1`, `"USD"`, `{ 720P = 0.1, 1080P = 0.15 }`."""
    if isinstance(rate, dict):
        return "{ " + ", ".join(f"{tier} = {price_value_text(value)}" for tier, value in rate.items()) + " }"
    if isinstance(rate, str):
        return f'"{rate}"'
    return _shown(rate)


def price_lookup(settings: Settings, key: str) -> str | None:
    """The value of `prices.…` in effect (`prices.default`, `prices.MODEL`, `prices.MODEL.TIER`), if set."""
    parts = _split(key)
    if parts[0] != "prices" or len(parts) < 2:
        return None
    value: Any = settings.prices or {}
    for part in parts[1:]:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, str) else price_value_text(value)


def check_key(key: str) -> None:
    """A ConfigError (with "did you mean") unless `key` is one `config get/set/unset` knows."""
    _known(_split(key))


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _split(key: str) -> tuple[str, ...]:
    """`region` -> ("region",); `prices.wan2.6-t2v.720P` -> ("prices", "wan2.6-t2v", "720P")."""
    if key.startswith("budget.") or key.startswith("[budget]."):
        return ("budget", key.split(".", 1)[1])
    if key.startswith("[prices]"):
        key = "prices" + key[len("[prices]") :]
    if key == "prices" or not key.startswith("prices."):
        return (key,)
    rest = key[len("prices.") :]
    head, _, tail = rest.rpartition(".")
    if head and _TIER.fullmatch(tail):
        return ("prices", head, tail.upper())
    return ("prices", rest)


def _known(parts: tuple[str, ...]) -> None:
    if parts[0] == "api_key":
        raise ConfigError(
            "qwenvid does not write the API key into config.toml.",
            hint="Use DASHSCOPE_API_KEY in the environment or in .env (`qwenvid doctor --write-env`).",
        )
    if parts[0] in OSS_SECRET_KEYS or parts[0] == "oss_credentials":
        raise ConfigError(
            "qwenvid does not write OSS credentials into config.toml.",
            hint="Set QWEN_TMP_OSS_AK_ID and QWEN_TMP_OSS_AK_SECRET (or OSS_ACCESS_KEY_ID and "
            "OSS_ACCESS_KEY_SECRET) in the environment or in .env.",
        )
    if len(parts) == 2 and parts[0] == "budget" and parts[1] in BUDGET_KEYS:
        return
    if parts[0] not in PLAIN_KEYS and not (parts[0] == "prices" and len(parts) > 1):
        from qwenvid.suggest import did_you_mean

        budget_keys = [f"budget.{key}" for key in BUDGET_KEYS]
        known = [*PLAIN_KEYS, "prices.currency", "prices.MODEL", "prices.MODEL.TIER", *budget_keys]
        key = ".".join(parts)
        close = did_you_mean(key, [*PLAIN_KEYS, "prices.currency", "prices.default", *budget_keys])
        raise ConfigError(f"Unknown config key {key!r}{close}; known: {', '.join(known)}.")


def _parse(parts: tuple[str, ...], text: str) -> Any:
    if parts[0] in TEXT_KEYS or parts[-1] == "currency":
        return text
    if (len(parts) == 1 and _field_type(parts[0]) == "bool") or parts[-1] == "count_emulator":
        if text.lower() not in ("true", "false"):
            raise ConfigError(f"{'.'.join(parts)} takes true or false, not {text!r}.")
        return text.lower() == "true"
    try:
        return float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:
        raise ConfigError(f"{'.'.join(parts)} takes a number, not {text!r}.") from None


def _field_type(key: str) -> str:
    """The type of the Settings field a config key sets ("bool", "float", ...), as written in the class."""
    return next((str(item.type) for item in fields(Settings) if item.name == key), "")


def _load_document(path: Path) -> Any:
    import tomlkit

    from qwenvid.config import _read_config

    _read_config(path)  # the same clear errors as everywhere (not UTF-8, not TOML, not a file)
    return tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()


def _save_checked(path: Path, document: Any) -> None:
    """Write atomically, then load the settings; a value they refuse puts the old file back."""
    import tomlkit

    old = path.read_bytes() if path.exists() else None
    with private_umask():  # the state folder, like everything qwenvid writes (the file itself: mkstemp, 0600)
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(tomlkit.dumps(document))
    os.replace(temporary, path)
    try:
        # The file on its own: no environment or .env may hide a value it holds (QWEN_REGION beats `region`).
        load_settings(environ={HOME_VAR: str(path.parent)}, cwd=path.parent)
    except ConfigError:
        if old is None:
            path.unlink()
        else:
            path.write_bytes(old)
        raise


def set_value(path: Path, key: str, text: str) -> None:
    """Set `key` (prices.MODEL[.TIER] for rates) in the config file to `text`, checked before it stays."""
    import tomlkit

    from qwenvid.config.secrets import refuse_secret

    parts = _split(key)
    _known(parts)  # names the API key and OSS credentials itself
    if parts == ("ledger_url",) and has_password(text):
        raise ConfigError(
            "qwenvid does not write a database password into config.toml.",
            hint=f"Set the whole URL in {LEDGER_URL_VAR} (environment or .env), or keep the password in "
            "~/.pgpass or PGPASSWORD and set ledger_url without it.",
        )
    refuse_secret(key, text)  # before anything is read or written (§3.1: config set never writes a secret)
    document = _load_document(path)
    value = _parse(parts, text)
    if len(parts) == 1:
        document[parts[0]] = value
    elif parts[0] == "budget":
        document.setdefault("budget", tomlkit.table())[parts[1]] = value
    else:
        prices = document.setdefault("prices", tomlkit.table())
        if len(parts) == 2:
            prices[parts[1]] = value
        else:
            tiers = prices.get(parts[1])
            if not isinstance(tiers, dict):
                tiers = tomlkit.inline_table()
                prices[parts[1]] = tiers
            tiers[parts[2]] = value
    _save_checked(path, document)


def unset_value(path: Path, key: str) -> bool:
    """Remove `key` from the config file; False when it was not there."""
    parts = _split(key)
    _known(parts)
    if not path.exists():
        return False
    document = _load_document(path)
    holder: Any = document
    for part in parts[:-1]:
        holder = holder.get(part)
        if not isinstance(holder, dict):
            return False
    if parts[-1] not in holder:
        return False
    del holder[parts[-1]]
    _save_checked(path, document)
    return True
