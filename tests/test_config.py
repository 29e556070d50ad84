"""Settings resolution: precedence, regions, base URLs, keys, the config file and the .env placeholder."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from qwenvid import config
from qwenvid.config import (
    REGIONS,
    explain_key_kind,
    key_kind,
    load_settings,
    mask_key,
    require_key,
    write_env_placeholder,
)
from qwenvid.errors import AuthenticationError, ConfigError, ExitCode, scrub

CANARY = "sk-canary0123456789abcdef"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


def settings(home: Path, cwd: Path, env: dict[str, str] | None = None, **flags: str) -> config.Settings:
    return load_settings(environ={"QWENVID_HOME": str(home), **(env or {})}, cwd=cwd, **flags)


# -- precedence --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "dotenv", "config_file", "expected", "source"),
    [
        ("sk-flag00000", "sk-env000000", "sk-dotenv000", "sk-config000", "sk-flag00000", "flag"),
        (None, "sk-env000000", "sk-dotenv000", "sk-config000", "sk-env000000", "DASHSCOPE_API_KEY env"),
        (None, None, "sk-dotenv000", "sk-config000", "sk-dotenv000", ".env (DASHSCOPE_API_KEY)"),
        (None, None, None, "sk-config000", "sk-config000", "config file"),
        (None, None, None, None, None, None),
    ],
)
def test_key_precedence_flag_env_dotenv_config(
    home: Path,
    cwd: Path,
    flag: str | None,
    env: str | None,
    dotenv: str | None,
    config_file: str | None,
    expected: str | None,
    source: str | None,
) -> None:
    if dotenv:
        write(cwd / ".env", f"DASHSCOPE_API_KEY={dotenv}\n")
    if config_file:
        write(home / "config.toml", f'api_key = "{config_file}"\n')
    environ = {"DASHSCOPE_API_KEY": env} if env else {}
    result = settings(home, cwd, environ, **({"api_key": flag} if flag else {}))
    assert (result.api_key, result.key_source) == (expected, source)


@pytest.mark.parametrize(
    ("flag", "env", "dotenv", "config_file", "expected"),
    [
        ("us-east-1", "cn-beijing", "cn-beijing", "cn-beijing", "us-east-1"),
        (None, "cn-beijing", "us-east-1", "us-east-1", "cn-beijing"),
        (None, None, "us-east-1", "cn-beijing", "us-east-1"),
        (None, None, None, "cn-beijing", "cn-beijing"),
        (None, None, None, None, "ap-southeast-1"),
    ],
)
def test_region_precedence_and_its_base_url(
    home: Path, cwd: Path, flag: str | None, env: str | None, dotenv: str | None, config_file: str | None, expected: str
) -> None:
    if dotenv:
        write(cwd / ".env", f"QWEN_REGION={dotenv}\n")
    if config_file:
        write(home / "config.toml", f'region = "{config_file}"\n')
    result = settings(home, cwd, {"QWEN_REGION": env} if env else {}, **({"region": flag} if flag else {}))
    assert result.region == expected
    assert result.base_url == REGIONS[expected]


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("ap-southeast-1", "https://dashscope-intl.aliyuncs.com/api/v1"),
        ("cn-beijing", "https://dashscope.aliyuncs.com/api/v1"),
        ("us-east-1", "https://dashscope-us.aliyuncs.com/api/v1"),
        ("CN-Beijing", "https://dashscope.aliyuncs.com/api/v1"),
    ],
)
def test_regions_map_to_native_bases(home: Path, cwd: Path, region: str, url: str) -> None:
    assert settings(home, cwd, {"QWEN_REGION": region}).base_url == url


def test_unknown_region_is_an_error_naming_the_allowed_ones(home: Path, cwd: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(home, cwd, {"QWEN_REGION": "eu-central-9"})
    assert "eu-central-9" in caught.value.message
    for name in REGIONS:
        assert name in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE


def test_base_url_overrides_region_of_the_same_layer(home: Path, cwd: Path) -> None:
    result = settings(home, cwd, {"QWEN_REGION": "cn-beijing", "QWEN_BASE_URL": "http://127.0.0.1:8765/api/v1/"})
    assert result.base_url == "http://127.0.0.1:8765/api/v1"
    assert result.base_url_source == "QWEN_BASE_URL env"


def test_region_flag_beats_a_base_url_from_a_lower_layer(home: Path, cwd: Path) -> None:
    write(cwd / ".env", "QWEN_BASE_URL=http://127.0.0.1:9/api/v1\n")
    result = settings(home, cwd, region="us-east-1")
    assert result.base_url == REGIONS["us-east-1"]


def test_base_url_flag_beats_environment(home: Path, cwd: Path) -> None:
    result = settings(home, cwd, {"QWEN_BASE_URL": "http://127.0.0.1:1/api/v1"}, base_url="http://127.0.0.1:2/api/v1")
    assert result.base_url == "http://127.0.0.1:2/api/v1"
    assert result.base_url_source == "flag"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8765/api/v1", "http://127.0.0.1:8765/api/v1"),
        ("https://dashscope.aliyuncs.com/api/v1/", "https://dashscope.aliyuncs.com/api/v1"),
        ("https://dashscope.aliyuncs.com", "https://dashscope.aliyuncs.com/api/v1"),
        ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "https://dashscope-intl.aliyuncs.com/api/v1"),
    ],
)
def test_base_url_is_normalized(home: Path, cwd: Path, given: str, expected: str) -> None:
    assert settings(home, cwd, {"QWEN_BASE_URL": given}).base_url == expected


@pytest.mark.parametrize("bad", ["ftp://example.com/api/v1", "127.0.0.1:8765/api/v1", "http:///api/v1", "file:///x"])
def test_base_url_must_be_http_with_a_host(home: Path, cwd: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        settings(home, cwd, {"QWEN_BASE_URL": bad})


def test_plain_http_to_a_remote_host_warns(home: Path, cwd: Path) -> None:
    result = settings(home, cwd, {"QWEN_BASE_URL": "http://dashscope.example.com/api/v1"})
    assert any("unencrypted" in warning for warning in result.warnings)
    assert not settings(home, cwd, {"QWEN_BASE_URL": "http://127.0.0.1:1/api/v1"}).warnings


def test_qwen_api_key_is_accepted_and_dashscope_key_wins(home: Path, cwd: Path) -> None:
    only_qwen = settings(home, cwd, {"QWEN_API_KEY": "sk-qwen0000000"})
    assert (only_qwen.api_key, only_qwen.key_source) == ("sk-qwen0000000", "QWEN_API_KEY env")
    both = settings(home, cwd, {"QWEN_API_KEY": "sk-qwen0000000", "DASHSCOPE_API_KEY": "sk-dash0000000"})
    assert both.api_key == "sk-dash0000000"


def test_dotenv_never_overrides_the_environment_nor_changes_it(
    home: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cwd / ".env", "DASHSCOPE_API_KEY=sk-fromdotenv00\nQWEN_REGION=us-east-1\n")
    monkeypatch.setenv("QWENVID_HOME", str(home))
    monkeypatch.setenv("QWEN_REGION", "cn-beijing")
    result = load_settings(cwd=cwd)
    assert result.region == "cn-beijing"
    assert result.api_key == "sk-fromdotenv00"
    assert result.env_file == cwd / ".env"
    import os

    assert "DASHSCOPE_API_KEY" not in os.environ


def test_empty_values_count_as_unset(home: Path, cwd: Path) -> None:
    write(cwd / ".env", "DASHSCOPE_API_KEY=sk-dotenv0000\n")
    result = settings(home, cwd, {"DASHSCOPE_API_KEY": "", "QWEN_REGION": "  "})
    assert result.api_key == "sk-dotenv0000"
    assert result.region == "ap-southeast-1"


def test_placeholder_key_from_env_example_is_ignored_with_a_warning(home: Path, cwd: Path) -> None:
    write(cwd / ".env", "DASHSCOPE_API_KEY=sk-your-key-here\n")
    result = settings(home, cwd)
    assert result.api_key is None
    assert any("placeholder" in warning for warning in result.warnings)


# -- state folder and config file ------------------------------------------------------------------


def test_home_from_environment_and_the_paths_inside_it(home: Path, cwd: Path) -> None:
    result = settings(home, cwd)
    assert result.home == home
    assert result.ledger_path == home / "ledger.sqlite3"
    assert result.config_path == home / "config.toml"
    assert result.output_dir == cwd / "output" / "qwenvid"


def test_home_defaults_to_the_platform_user_data_folder(cwd: Path) -> None:
    import platformdirs

    result = load_settings(environ={}, cwd=cwd)
    assert result.home == platformdirs.user_data_path("qwenvid")
    assert result.home_source.startswith("default")


def test_conftest_isolates_the_default_home(isolated_env: Path) -> None:
    assert load_settings().home == isolated_env


def test_config_file_values(home: Path, cwd: Path) -> None:
    write(
        home / "config.toml",
        """
output_dir = "videos"
confirm_above_seconds = 30
wait_timeout = 900
query_qps = 5
surprise = 1

[prices]
currency = "USD"
default = 0.1
"wan2.6-t2v" = { 720p = 0.1, "1080P" = 0.15 }
""",
    )
    result = settings(home, cwd)
    assert result.output_dir == cwd / "videos"
    assert result.confirm_above_seconds == 30.0
    assert result.wait_timeout == 900.0
    assert result.query_qps == 5.0
    assert result.prices == {"currency": "USD", "default": 0.1, "wan2.6-t2v": {"720P": 0.1, "1080P": 0.15}}
    assert any("surprise" in warning for warning in result.warnings)


def test_defaults_without_a_config_file(home: Path, cwd: Path) -> None:
    result = settings(home, cwd)
    assert result.confirm_above_seconds == 10.0
    assert result.prices is None
    assert result.query_qps == 15.0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("region = ", "not valid TOML"),
        ("confirm_above_seconds = 'ten'", "must be a number"),
        ("confirm_above_seconds = -1", "at least 0"),
        ("query_qps = 0", "above 0"),
        ("region = 5", "non-empty string"),
        ("[prices]\n'wan2.6-t2v' = 'cheap'", "per-second rate"),
        ("prices = 3", "must be a table"),
    ],
)
def test_bad_config_file_values_are_config_errors(home: Path, cwd: Path, text: str, match: str) -> None:
    write(home / "config.toml", text + "\n")
    with pytest.raises(ConfigError, match=match):
        settings(home, cwd)


def test_every_config_example_key_is_documented_and_loads(home: Path, cwd: Path) -> None:
    write(home / "config.toml", config.CONFIG_EXAMPLE)
    result = settings(home, cwd)
    assert result.warnings == ()
    assert result.prices == {"currency": "USD"}


# -- keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("sk-0123456789abcdef", "standard"),
        ("sk-sp-0123456789abcdef", "coding-plan"),
        ("0123456789abcdef", "unknown"),
    ],
)
def test_key_kind(key: str, kind: str) -> None:
    assert key_kind(key) == kind
    assert explain_key_kind(key_kind(key))


def test_coding_plan_key_is_detected_and_explained(home: Path, cwd: Path) -> None:
    result = settings(home, cwd, {"DASHSCOPE_API_KEY": "sk-sp-0123456789abcdef"})
    assert result.key_kind == "coding-plan"
    assert "video API" in explain_key_kind("coding-plan")
    assert mask_key(result.api_key) == "sk-sp-…"


def test_key_never_in_repr_or_str(home: Path, cwd: Path) -> None:
    result = settings(home, cwd, {"DASHSCOPE_API_KEY": CANARY})
    assert result.api_key == CANARY
    assert CANARY not in repr(result)
    assert CANARY not in str(result)
    assert mask_key(CANARY) == "sk-…"


def test_loaded_key_is_registered_with_scrub(home: Path, cwd: Path) -> None:
    odd = "not-shaped-like-a-key-4242"
    settings(home, cwd, {"DASHSCOPE_API_KEY": odd})
    assert odd not in scrub(f"server said {odd}")


def test_require_key_explains_how_to_set_one(home: Path, cwd: Path) -> None:
    with pytest.raises(AuthenticationError) as caught:
        require_key(settings(home, cwd))
    error = caught.value
    assert error.exit_code == ExitCode.AUTH
    assert error.hint is not None
    for needle in ("export DASHSCOPE_API_KEY", ".env", "qwenvid doctor --write-env"):
        assert needle in error.hint
    assert require_key(settings(home, cwd, {"DASHSCOPE_API_KEY": CANARY})) == CANARY


# -- the .env placeholder ----------------------------------------------------------------------------


def test_write_env_placeholder_is_private_and_loads_as_no_key(home: Path, cwd: Path) -> None:
    path = write_env_placeholder(cwd / ".env")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "DASHSCOPE_API_KEY=" in path.read_text()
    result = settings(home, cwd)
    assert result.api_key is None
    assert result.env_file == path


def test_write_env_placeholder_never_overwrites(cwd: Path) -> None:
    existing = write(cwd / ".env", "DASHSCOPE_API_KEY=sk-mine000000\n")
    with pytest.raises(ConfigError, match="already exists"):
        write_env_placeholder(existing)
    assert existing.read_text() == "DASHSCOPE_API_KEY=sk-mine000000\n"


def test_write_env_placeholder_mode_ignores_a_permissive_umask(cwd: Path) -> None:
    import os

    previous = os.umask(0)
    try:
        path = write_env_placeholder(cwd / ".env")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
