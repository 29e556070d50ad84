"""Whether a command runs on the in-process emulator, and why (product.md §3.1 "Emulator as default").

Highest first: `--no-emulator` / `--emulator` on the command line; an explicit base URL (`--base-url`,
`QWEN_BASE_URL`, `.env` or config `base_url`) means the user chose a server; `QWENVID_EMULATOR`; config
`emulator = true`.
"""

from __future__ import annotations

import os

EMULATOR_VAR = "QWENVID_EMULATOR"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def resolve_emulator(flag: bool | None, base_url_flag: str | None) -> tuple[bool, str]:
    """(on, source): `source` names the setting that decided, for the cost notice and `doctor`."""
    if flag is False:
        return False, "--no-emulator"
    if flag:
        return True, "--emulator"
    if base_url_flag and base_url_flag.strip():
        return False, "--base-url"
    env = os.environ.get(EMULATOR_VAR, "").strip().lower()
    env_value: bool | None = True if env in _TRUE else False if env in _FALSE and env else None
    if env and env_value is None:
        from qwenvid.errors import ConfigError

        raise ConfigError(f"{EMULATOR_VAR}={env!r} is neither 1 nor 0.", hint=f"Set {EMULATOR_VAR}=1 or unset it.")
    if env_value is None and not _config_emulator():
        return False, "default"
    from qwenvid.config import load_settings

    settings = load_settings()
    if not settings.base_url_source.startswith("region"):
        return False, settings.base_url_source  # an explicit base URL wins over the emulator default
    if env_value is not None:
        return env_value, f"{EMULATOR_VAR} env"
    return True, "config file (emulator = true)"


def _config_emulator() -> bool:
    """Config `emulator = true`, read only when QWENVID_EMULATOR does not decide."""
    from qwenvid.config import load_settings

    return load_settings().emulator
