"""Settings resolution: flags > environment > `.env` in the working directory > the config file."""

from __future__ import annotations

import functools
import io
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from qwenvid.config.budget import CONFIG_HELP as BUDGET_HELP
from qwenvid.config.budget import Budget, read_budget
from qwenvid.config.ledger_url import CONFIG_HELP as LEDGER_URL_HELP
from qwenvid.config.ledger_url import marker_for, resolve_ledger_url
from qwenvid.config.oss import CONFIG_KEYS as OSS_CONFIG_KEYS
from qwenvid.config.oss import OssSettings, resolve_oss
from qwenvid.errors import AuthenticationError, ConfigError, register_secret

KeyKind = Literal["standard", "coding-plan", "unknown"]

# Native API base per region (dashscope-api.md §1.1).
REGIONS: dict[str, str] = {
    "ap-southeast-1": "https://dashscope-intl.aliyuncs.com/api/v1",
    "cn-beijing": "https://dashscope.aliyuncs.com/api/v1",
    "us-east-1": "https://dashscope-us.aliyuncs.com/api/v1",
}
DEFAULT_REGION = "ap-southeast-1"
NATIVE_API_PATH = "/api/v1"

# Environment variables, highest precedence first within each setting.
KEY_VARS = ("DASHSCOPE_API_KEY", "QWEN_API_KEY")
REGION_VAR = "QWEN_REGION"
BASE_URL_VAR = "QWEN_BASE_URL"
WORKSPACE_VAR = "QWEN_WORKSPACE_ID"
# Regions a workspace host serves (dashscope-api-2026.md §6; product.md §3.1): some have no legacy host.
WORKSPACE_REGIONS = ("ap-southeast-1", "cn-beijing", "cn-hongkong", "ap-northeast-1", "eu-central-1", "us-east-1")
_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
HOME_VAR = "QWENVID_HOME"

DEFAULT_CONFIRM_ABOVE_SECONDS = 10.0
# Renders take 1-10 min (dashscope-api.md §5); half an hour leaves room for queues before detaching.
DEFAULT_WAIT_TIMEOUT = 1800.0
# The account-wide query limit is 20 QPS (§4.2); 15 leaves headroom for other tools of the same account.
DEFAULT_QUERY_QPS = 15.0
MAX_QUERY_QPS = 20.0  # the account's own limit: a higher setting would only earn 429s

# Values people leave in a copied `.env.example`; sending them would only earn a confusing 401.
PLACEHOLDER_KEYS = frozenset({"sk-your-key-here", "sk-xxx", "sk-...", "your-api-key", "<your-api-key>"})

# Keys of `$QWENVID_HOME/config.toml`, shown by the CLI and the README.
CONFIG_KEYS: dict[str, str] = {
    "api_key": "DashScope API key (prefer the DASHSCOPE_API_KEY environment variable or .env)",
    "region": "ap-southeast-1 (default), cn-beijing or us-east-1",
    "base_url": "full native API base, e.g. http://127.0.0.1:8765/api/v1 (overrides workspace_id and region)",
    "workspace_id": "your workspace id (llm-...): use its host {id}.{region}.maas.aliyuncs.com (overrides region)",
    "output_dir": "where videos are saved (default: output/qwenvid under the working directory)",
    "confirm_above_seconds": "ask before submitting more billable seconds than this (default 10)",
    "wait_timeout": "seconds to wait for a task before detaching (default 1800)",
    "query_qps": "status queries per second across all tasks in flight (default 15; the account limit is 20)",
    "preview": "true/false: a thumbnail strip under a finished video on a terminal (default true)",
    "emulator": "true/false: run every command on the in-process emulator (free; default false; --no-emulator)",
    "output_name": "how videos are named, e.g. \"{date}_{model}_{prompt}\" (fields: date, time, mode, model, task, "
    "task_id, prompt; default {date}-{time}_{mode}_{model}_{task}_{prompt})",
    **OSS_CONFIG_KEYS,
    "[prices]": 'your own per-second rates: currency = "USD", then model = rate or model = { 720P = rate, ... }',
    "ledger_url": LEDGER_URL_HELP,
    "[budget]": BUDGET_HELP[1],
}

CONFIG_EXAMPLE = """\
# $QWENVID_HOME/config.toml — every key is optional.
region = "ap-southeast-1"
# base_url = "http://127.0.0.1:8765/api/v1"
output_dir = "output/qwenvid"
confirm_above_seconds = 10
wait_timeout = 1800
query_qps = 15
preview = true

# Your own per-second prices (qwenvid never invents one); see the official pricing page.
[prices]
currency = "USD"
# default = 0.10
# "wan2.6-t2v" = { "720P" = 0.10, "1080P" = 0.15 }
"""

ENV_PLACEHOLDER = """\
# qwenvid reads this file from the working directory; keep it out of version control.
# Paste your DashScope (Model Studio) API key after the = sign. Keys are region-specific.
DASHSCOPE_API_KEY=
# Region: ap-southeast-1 (default, Singapore), cn-beijing, us-east-1
# QWEN_REGION=ap-southeast-1
"""

_KEY_KIND_TEXT: dict[str, str] = {
    "standard": "a standard DashScope API key (sk-...)",
    "coding-plan": (
        "a Coding Plan key (sk-sp-...). Coding Plan keys only work with the coding models; the video API "
        "rejects them. Create a standard key in the Model Studio console (API keys) and use that instead."
    ),
    "unknown": "not shaped like a DashScope key (they start with sk-); check that the whole key was copied",
}


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to talk to DashScope and keep its state; the key never shows in repr."""

    api_key: str | None = field(repr=False)
    key_source: str | None
    region: str
    region_source: str
    base_url: str
    base_url_source: str
    home: Path
    home_source: str
    output_dir: Path
    confirm_above_seconds: float = DEFAULT_CONFIRM_ABOVE_SECONDS
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    query_qps: float = DEFAULT_QUERY_QPS
    preview: bool = True
    emulator: bool = False  # config `emulator = true`: the in-process emulator by default (QWENVID_EMULATOR too)
    output_name: str | None = None  # config `output_name`: the file name template (qwenvid/config/naming.py)
    prices: dict[str, Any] | None = None
    env_file: Path | None = None
    warnings: tuple[str, ...] = ()
    ledger_url: str | None = field(default=None, repr=False)  # a shared PostgreSQL ledger (config/ledger_url.py)
    ledger_url_source: str = "not set (local SQLite ledger)"
    budget: Budget | None = None  # [budget] (qwenvid/config/budget.py); None: no limits
    oss: OssSettings | None = None  # your own bucket for uploads (qwenvid/config/oss.py); None: temporary storage
    workspace_id: str | None = None  # set: the workspace host of `region` is the base URL (unless a base URL wins)

    @property
    def ledger_path(self) -> Path:
        """The SQLite ledger file; with a shared ledger, the marker that stands for its database (the store's)."""
        if self.ledger_url:
            return marker_for(self.home, self.ledger_url)
        return self.home / "ledger.sqlite3"

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def key_kind(self) -> KeyKind | None:
        return key_kind(self.api_key) if self.api_key else None


class _Found(NamedTuple):
    """A setting's value, where it came from, and that layer's rank (lower wins)."""

    value: str
    source: str
    rank: int


FLAG, ENV, DOTENV, CONFIG_FILE, DEFAULT = range(5)


class _Layers:
    """The environment, `.env` and config-file values, asked in precedence order."""

    def __init__(self, environ: Mapping[str, str], dotenv: Mapping[str, str], config: Mapping[str, Any]) -> None:
        self.environ = environ
        self.dotenv = dotenv
        self.config = config
        self.config_path = Path("config.toml")

    def from_environ(self, name: str) -> _Found | None:
        value = self.environ.get(name, "").strip()  # empty counts as unset
        return _Found(value, f"{name} env", ENV) if value else None

    def from_dotenv(self, name: str) -> _Found | None:
        value = (self.dotenv.get(name) or "").strip()
        return _Found(value, f".env ({name})", DOTENV) if value else None

    def from_config(self, name: str) -> _Found | None:
        value = self.config.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.config_path}: `{name}` must be a non-empty string, not {value!r}.")
        return _Found(value.strip(), "config file", CONFIG_FILE)

    def lookup(self, flag: str | None, var: str, config_key: str | None = None) -> _Found | None:
        """Flag, then environment, then `.env`, then the config file."""
        if flag and flag.strip():
            return _Found(flag.strip(), "flag", FLAG)
        return self.from_environ(var) or self.from_dotenv(var) or (self.from_config(config_key) if config_key else None)


def load_settings(
    *,
    api_key: str | None = None,
    region: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    workspace: str | None = None,
) -> Settings:
    """Resolve the settings; flags beat the environment, which beats `.env`, which beats the config file.

    `.env` is read from `cwd` (the working directory by default) with python-dotenv and never
    changes `os.environ`. A base URL replaces the region's URL only when it comes from the same or a
    higher-precedence layer than the region (so `--region cn-beijing` wins over `QWEN_BASE_URL` in `.env`).
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else Path(cwd)
    env_file = cwd / ".env"
    layers = _Layers(environ, _read_dotenv(env_file), {})
    home, home_source = _resolve_home(layers)
    layers.config_path = home / "config.toml"
    layers.config = config = _read_config(layers.config_path)
    warnings = [f"{layers.config_path}: unknown key `{key}` ignored" for key in sorted(_unknown_keys(config))]

    key, key_source = _resolve_key(api_key, layers, warnings)
    workspace_found = _resolve_workspace(workspace, layers)
    region_found = _resolve_region(region, layers, workspace=workspace_found is not None)
    url, url_source = _resolve_base_url(base_url, layers, region_found, warnings, workspace_found)
    number = functools.partial(_config_number, config, config_path=layers.config_path)
    return Settings(
        api_key=key,
        key_source=key_source,
        region=region_found.value,
        region_source=region_found.source,
        workspace_id=workspace_found.value if workspace_found else None,
        base_url=url,
        base_url_source=url_source,
        home=home,
        home_source=home_source,
        output_dir=_resolve_output_dir(config, layers.config_path, cwd),
        confirm_above_seconds=number("confirm_above_seconds", DEFAULT_CONFIRM_ABOVE_SECONDS),
        wait_timeout=number("wait_timeout", DEFAULT_WAIT_TIMEOUT, positive=True),
        query_qps=number("query_qps", DEFAULT_QUERY_QPS, positive=True, maximum=MAX_QUERY_QPS),
        preview=_config_bool(config, "preview", True, config_path=layers.config_path),
        emulator=_config_bool(config, "emulator", False, config_path=layers.config_path),
        output_name=_output_name(config, layers.config_path),
        prices=(prices := _read_prices(config, layers.config_path)),
        budget=read_budget(config, layers.config_path, prices),
        ledger_url=(shared := resolve_ledger_url(layers))[0],
        ledger_url_source=shared[1],
        env_file=env_file if env_file.is_file() else None,
        warnings=tuple(warnings),
        oss=resolve_oss(layers),
    )


def home_folder(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The state folder alone ($QWENVID_HOME, from the environment or `.env`), without reading config.toml."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else Path(cwd)
    return _resolve_home(_Layers(environ, _read_dotenv(cwd / ".env"), {}))[0]


def emulator_render_cache() -> Path | None:
    """Where the bundled emulator keeps rendered videos between runs (safe to delete at any time).

    None when the state folder cannot be worked out (an unreadable `.env`): the emulator then renders
    into its own temporary folder, which only costs speed.
    """
    try:
        return home_folder() / "emulator-renders"
    except (OSError, ValueError, ConfigError):  # ConfigError: .env or QWENVID_HOME cannot be used
        return None


def _utf8_text(path: Path, *, hint: str) -> str:
    """The file's text, or a ConfigError naming it when it cannot be read or is not UTF-8 (`hint`: how to fix that)."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start + 1} cannot be decoded).", hint=hint) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.", hint="Fix its permissions or remove it.") from None


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    text = _utf8_text(path, hint="Save .env as UTF-8 (keys and region names are plain ASCII).")
    values = dotenv_values(stream=io.StringIO(text))
    return {name: value for name, value in values.items() if value is not None}


def _read_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    if not path.is_file():
        raise ConfigError(f"{path} is not a file.", hint="The config file must be a TOML file; move it aside.")
    text = _utf8_text(
        path, hint="Save it as UTF-8 (TOML files are UTF-8 by definition); `qwenvid config path` shows where it is."
    )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.", hint="Fix or remove the file.") from None


def _unknown_keys(config: Mapping[str, Any]) -> set[str]:
    known = {name.strip("[]") for name in CONFIG_KEYS}
    return set(config) - known


def _resolve_home(layers: _Layers) -> tuple[Path, str]:
    found = layers.from_environ(HOME_VAR) or layers.from_dotenv(HOME_VAR)
    if found:
        home = Path(found.value).expanduser()
        if home.exists() and not home.is_dir():
            raise ConfigError(
                f"{HOME_VAR} {home} (from {found.source}) is a file, not a folder.",
                hint=f"Point {HOME_VAR} at a folder (it is created if missing), or unset it for the default.",
            )
        return home, found.source
    import platformdirs

    return platformdirs.user_data_path("qwenvid"), "default (platform user data folder)"


def _resolve_key(flag: str | None, layers: _Layers, warnings: list[str]) -> tuple[str | None, str | None]:
    candidates = [
        _Found(flag.strip(), "flag", FLAG) if flag and flag.strip() else None,
        *(layers.from_environ(name) for name in KEY_VARS),
        *(layers.from_dotenv(name) for name in KEY_VARS),
        layers.from_config("api_key"),
    ]
    for found in candidates:
        if found is None:
            continue
        if found.value in PLACEHOLDER_KEYS:
            warnings.append(f"the API key from {found.source} is a placeholder ({found.value}); ignored")
            continue
        register_secret(found.value)
        _check_key_characters(found)
        return found.value, found.source
    return None, None


def _check_key_characters(found: _Found) -> None:
    """A key goes into an HTTP header: only visible ASCII can travel there. Never show the key itself."""
    bad = next((char for char in found.value if not ("!" <= char <= "~")), None)
    if bad is None:
        return
    if bad.isspace():
        what = "a space or line break"
    else:
        what = "a non-ASCII character" if ord(bad) > 127 else "a control character"
    raise AuthenticationError(
        f"The API key from {found.source} contains {what}; DashScope keys are plain ASCII (sk-...).",
        code="MalformedApiKey",
        hint="Copy the key again from the Model Studio console (API keys); `qwenvid doctor` checks it.",
    )


def _resolve_workspace(flag: str | None, layers: _Layers) -> _Found | None:
    found = layers.lookup(flag, WORKSPACE_VAR, "workspace_id")
    if found is not None and not _WORKSPACE_ID.match(found.value):
        raise ConfigError(
            f"Workspace id {found.value!r} (from {found.source}) is not a workspace id (letters, digits, '-').",
            hint="Copy it from the console's API Host column, e.g. llm-abc123.",
        )
    return found


def workspace_url(workspace_id: str, region: str) -> str:
    """The workspace host of a region (dashscope-api-2026.md §6), with the native API path."""
    return f"https://{workspace_id}.{region}.maas.aliyuncs.com{NATIVE_API_PATH}"


def _resolve_region(flag: str | None, layers: _Layers, *, workspace: bool = False) -> _Found:
    found = layers.lookup(flag, REGION_VAR, "region")
    if found is None:
        return _Found(DEFAULT_REGION, "default", DEFAULT)
    name = found.value.lower()
    if workspace and name in WORKSPACE_REGIONS:
        return found._replace(value=name)
    if name not in REGIONS:
        if name in WORKSPACE_REGIONS:
            raise ConfigError(
                f"Region {found.value!r} (from {found.source}) has no shared host, only workspace hosts.",
                hint=f"Set your workspace id too: --workspace ID or {WORKSPACE_VAR} (or a full --base-url).",
            )
        raise ConfigError(
            f"Unknown region {found.value!r} (from {found.source}); allowed: {', '.join(REGIONS)}.",
            hint="Set QWEN_REGION to one of them, or QWEN_BASE_URL to a full native API base URL.",
        )
    return found._replace(value=name)


def _resolve_base_url(
    flag: str | None, layers: _Layers, region: _Found, warnings: list[str], workspace: _Found | None = None
) -> tuple[str, str]:
    """Base URL > workspace > region (product.md §3.1), each only from its layer or a higher one."""
    found = layers.lookup(flag, BASE_URL_VAR, "base_url")
    if workspace is not None and (found is None or found.rank > workspace.rank):
        return workspace_url(workspace.value, region.value), f"workspace {workspace.value} ({workspace.source})"
    if found is None or found.rank > region.rank:
        return REGIONS[region.value], f"region {region.value}"
    return normalize_base_url(found.value, source=found.source, warnings=warnings), found.source


def normalize_base_url(url: str, *, source: str = "base URL", warnings: list[str] | None = None) -> str:
    """Check a native base URL (http/https with a host) and drop a trailing slash.

    A bare host gets `/api/v1`; an OpenAI-compatible base (`/compatible-mode/v1`) is turned into the
    native one of the same host, as the QwenCloud skill does, with a warning.
    """
    def refuse(why: str) -> ConfigError:
        return ConfigError(
            f"Base URL {url!r} (from {source}) {why}.",
            hint="Use the full native base, e.g. https://dashscope-intl.aliyuncs.com/api/v1.",
        )

    try:
        parts = urlsplit(url.strip())
        hostname, _port = parts.hostname, parts.port  # both parse lazily and raise on a bad host or port
    except ValueError as exc:
        raise refuse(f"cannot be parsed ({exc})") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise refuse("is not an http(s) URL with a host")
    if any(char.isspace() or char in "<>\"{}|\\^`" for char in parts.netloc):
        raise refuse("has characters a host name cannot have")
    path = parts.path.rstrip("/")
    if path.endswith("/compatible-mode/v1"):
        path = NATIVE_API_PATH
        if warnings is not None:
            warnings.append(f"{source} is an OpenAI-compatible base; using the native API at {path} of the same host")
    elif not path:
        path = NATIVE_API_PATH
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1") and warnings is not None:
        warnings.append(f"{source} uses plain http to {parts.hostname}: the API key would travel unencrypted")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _resolve_output_dir(config: Mapping[str, Any], config_path: Path, cwd: Path) -> Path:
    value = config.get("output_dir")
    if value is None:
        return cwd / "output" / "qwenvid"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{config_path}: `output_dir` must be a folder path, not {value!r}.")
    folder = Path(value).expanduser()
    return folder if folder.is_absolute() else cwd / folder


def _config_number(
    config: Mapping[str, Any],
    name: str,
    default: float,
    *,
    config_path: Path,
    positive: bool = False,
    maximum: float | None = None,
) -> float:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{config_path}: `{name}` must be a number, not {value!r}.")
    if value < 0 or (positive and value == 0) or (maximum is not None and value > maximum):
        low = "above 0" if positive else "at least 0"
        allowed = f"{low} and at most {maximum:g}" if maximum is not None else low
        raise ConfigError(f"{config_path}: `{name}` must be {allowed}, not {value:g}.")
    return float(value)


def _output_name(config: Mapping[str, Any], config_path: Path) -> str | None:
    value = config.get("output_name")
    if value is None:
        return None
    from qwenvid.config.naming import template_problem

    problem = "must be text" if not isinstance(value, str) else template_problem(value)
    if problem is not None:
        raise ConfigError(f"{config_path}: `output_name` {problem}.")
    return str(value)


def _config_bool(config: Mapping[str, Any], name: str, default: bool, *, config_path: Path) -> bool:
    value = config.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{config_path}: `{name}` must be true or false, not {value!r}.")
    return value


def _read_prices(config: Mapping[str, Any], config_path: Path) -> dict[str, Any] | None:
    """The `[prices]` table: `currency`, then model (or `default`) = rate or { tier = rate }."""
    table = config.get("prices")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path}: `prices` must be a table ([prices]).")
    prices: dict[str, Any] = {}
    for model, entry in table.items():
        if model == "currency":
            if not isinstance(entry, str):
                raise ConfigError(f'{config_path}: prices.currency must be a string like "USD".')
            prices[model] = entry
        elif _is_rate(entry):
            prices[model] = float(entry)
        elif isinstance(entry, dict) and entry and all(_is_rate(rate) for rate in entry.values()):
            prices[model] = {str(tier).upper(): float(rate) for tier, rate in entry.items()}
        else:
            raise ConfigError(
                f"{config_path}: prices.{model} must be a per-second rate or a table of tier = rate, not {entry!r}."
            )
    return prices or None


def _is_rate(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def key_kind(key: str) -> KeyKind:
    """What kind of key this is, from its prefix alone."""
    if key.startswith("sk-sp-"):
        return "coding-plan"
    if key.startswith("sk-"):
        return "standard"
    return "unknown"


def explain_key_kind(kind: KeyKind) -> str:
    """One sentence for `doctor` and for authentication hints."""
    return _KEY_KIND_TEXT[kind]


def mask_key(key: str | None) -> str:
    """The key's prefix only ("sk-…", "sk-sp-…"): enough to tell kinds apart, nothing to steal."""
    if not key:
        return "(not set)"
    kind = key_kind(key)
    return {"coding-plan": "sk-sp-…", "standard": "sk-…", "unknown": "…"}[kind]


def require_key(settings: Settings) -> str:
    """The API key, or an AuthenticationError (exit 3) that says how to set one."""
    if settings.api_key:
        return settings.api_key
    raise AuthenticationError(
        "No DashScope API key is set.",
        code="NoApiKey",
        hint=(
            "Set one of: `export DASHSCOPE_API_KEY=sk-...` (QWEN_API_KEY works too); "
            "a line `DASHSCOPE_API_KEY=sk-...` in .env in the working directory "
            "(`qwenvid doctor --write-env` writes a placeholder .env, mode 0600); "
            "or run with --emulator to try everything locally without a key."
        ),
    )


def write_env_placeholder(path: Path) -> Path:
    """Create a `.env` with an empty key line, readable by the owner only; never overwrite a file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists; not overwriting it.",
            hint="Add the line DASHSCOPE_API_KEY=sk-... to it yourself.",
        ) from None
    try:
        os.fchmod(fd, 0o600)  # the umask could only have narrowed it; make the mode exact
        os.write(fd, ENV_PLACEHOLDER.encode())
    finally:
        os.close(fd)
    return path
