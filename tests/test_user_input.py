"""Hostile input for every command: wrong types, empty and huge values, NUL bytes, undecodable bytes, folders,
unreadable or broken files, bad JSON/TOML, bad environment. Each gets one specific `Error:` line and a
documented exit code; never a traceback, never `unexpected ...` (that is reserved for bugs)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenvid.cli import app
from qwenvid.errors import ExitCode
from tests.support.videos import make_mp4

DOCUMENTED = {int(code) for code in ExitCode}
HUGE = "9" * 30


@pytest.fixture
def files(isolated_env: Path) -> Path:
    """Hostile files in the working directory (the autouse fixture already chdir'ed there)."""
    work = Path.cwd()
    (work / "folder").mkdir()
    (work / "not-an-image.png").write_bytes(b"plain text, not a PNG")
    (work / "latin1.json").write_bytes(b'{"prompt": "caf\xe9"}')
    (work / "broken.json").write_text("{", encoding="utf-8")
    (work / "list.json").write_text("[1, 2]", encoding="utf-8")
    (work / "prompt-latin1.txt").write_bytes(b"caf\xe9")
    (work / "batch.txt").write_text("A lighthouse at dusk\n", encoding="utf-8")
    make_mp4(work / "clip.mp4", seconds=1.0)
    return work


def run(args: list[str], env: dict[str, str] | None = None, stdin: bytes | None = None) -> object:
    result = CliRunner().invoke(app, args, env=env, input=stdin)
    return result


def assert_clean_failure(result: object, code: int) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    exception = result.exception  # type: ignore[attr-defined]
    assert exception is None or isinstance(exception, SystemExit), f"raised {exception!r}\n{stderr}"
    assert result.exit_code in DOCUMENTED, stderr  # type: ignore[attr-defined]
    assert result.exit_code == code, stderr  # type: ignore[attr-defined]
    assert "unexpected" not in stderr and "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert "╭" not in stderr, "usage errors are one line, not a boxed panel"


USAGE, ERROR, AUTH = int(ExitCode.USAGE), int(ExitCode.ERROR), int(ExitCode.AUTH)

CASES: list[tuple[str, list[str], dict[str, str], int, str]] = [
    # (id, argv, env, exit code, a phrase the message must contain)
    ("json-prompt-number", ["t2v", "--request", '{"prompt": 5}', "--dry-run"], {}, USAGE, "`prompt` must be text"),
    ("json-model-number", ["t2v", "--request", '{"prompt": "x", "model": 5}', "--dry-run"], {}, USAGE, "`model`"),
    ("json-refs-string", ["generate", "--request", '{"reference_urls": "abc"}', "--dry-run"], {}, USAGE, "list"),
    ("json-media-url-number", ["generate", "--request", '{"media": [{"type": "first_frame", "url": 5}]}'], {}, USAGE,
     "media[0].url"),
    ("json-img-url-list", ["generate", "--request", '{"img_url": ["a"]}', "--dry-run"], {}, USAGE, "`img_url`"),
    ("json-obj-or-bg-number", ["generate", "--request", '{"function": "ref", "obj_or_bg": 5, "prompt": "x"}'], {},
     USAGE, "`obj_or_bg`"),
    ("json-nul", ["t2v", "--request", '{"prompt": "a\\u0000b"}', "--dry-run"], {}, USAGE, "NUL"),
    ("json-lone-surrogate", ["t2v", "--request", '{"prompt": "\\ud800"}', "--dry-run"], {}, USAGE, "UTF-8"),
    ("json-not-object", ["generate", "--request", "[1]"], {}, USAGE, "object"),
    ("json-broken", ["generate", "--request", "{"], {}, USAGE, "not valid JSON"),
    ("file-folder", ["generate", "--file", "folder"], {}, USAGE, "folder"),
    ("file-latin1", ["generate", "--file", "latin1.json", "--dry-run"], {}, USAGE, "not UTF-8"),
    ("file-missing", ["generate", "--file", "missing.json"], {}, USAGE, "missing.json"),
    ("argv-undecodable-prompt", ["t2v", "a\udcffb", "--dry-run"], {}, USAGE, "not valid UTF-8"),
    ("argv-undecodable-task", ["status", "\udcff"], {}, USAGE, "not valid UTF-8"),
    ("argv-undecodable-option", ["t2v", "x", "--negative-prompt", "\udcff", "--dry-run"], {}, USAGE,
     "--negative-prompt"),
    ("image-folder", ["i2v", "x", "--image", "folder", "--dry-run"], {}, USAGE, "is a folder"),
    ("image-not-image", ["i2v", "x", "--image", "not-an-image.png", "--dry-run"], {}, USAGE, "not a readable image"),
    ("image-ftp-url", ["i2v", "x", "--image", "ftp://example.com/a.png", "--dry-run"], {}, USAGE, "http://"),
    ("ref-empty", ["r2v", "x", "--ref", "", "--dry-run"], {}, USAGE, "empty"),
    ("image-data-url-garbage", ["i2v", "x", "--image", "data:garbage", "--dry-run"], {}, USAGE, "data:image/png"),
    ("image-url-no-host", ["i2v", "x", "--image", "https://", "--dry-run"], {}, USAGE, "needs a host"),
    ("image-url-bad-ipv6", ["i2v", "x", "--image", "http://[::1/a.png", "--dry-run"], {}, USAGE, "not a valid URL"),
    ("json-oss-url-empty", ["generate", "--request", '{"img_url": "oss://", "prompt": "x"}', "--dry-run"], {}, USAGE,
     "oss://"),
    ("duration-text", ["t2v", "x", "--duration", "abc"], {}, USAGE, "--duration"),
    ("duration-huge", ["t2v", "x", "--duration", HUGE, "--dry-run"], {}, USAGE, "--duration"),
    ("seed-negative", ["t2v", "x", "--seed", "-5", "--dry-run"], {}, USAGE, "--seed"),
    ("timeout-negative", ["t2v", "x", "--timeout", "-1"], {}, USAGE, "--timeout"),
    ("timeout-nan", ["t2v", "x", "--timeout", "nan"], {}, USAGE, "--timeout"),
    ("unknown-option", ["t2v", "--bogus"], {}, USAGE, "--bogus"),
    ("unknown-command", ["bogus"], {}, USAGE, "bogus"),
    ("vace-unknown-function", ["vace", "bogus", "x"], {}, USAGE, "bogus"),
    ("prompt-file-missing", ["t2v", "--prompt-file", "missing.txt", "--dry-run"], {}, USAGE, "missing.txt"),
    ("prompt-file-latin1", ["t2v", "--prompt-file", "prompt-latin1.txt", "--dry-run"], {}, USAGE, "not UTF-8"),
    ("tasks-status-bogus", ["tasks", "--status", "bogus"], {}, USAGE, "--status"),
    ("tasks-limit-negative", ["tasks", "--limit", "-1"], {}, USAGE, "--limit"),
    ("tasks-limit-huge", ["tasks", "--limit", HUGE], {}, USAGE, "--limit"),
    ("tasks-mode-bogus", ["tasks", "--mode", "bogus"], {}, USAGE, "--mode"),
    ("tasks-since-garbage", ["tasks", "--since", "garbage"], {}, USAGE, "not a date"),
    ("tasks-page-zero", ["tasks", "--remote", "--page", "0"], {}, USAGE, "--page"),
    ("tasks-page-size-huge", ["tasks", "--remote", "--page-size", HUGE], {}, USAGE, "--page-size"),
    ("models-mode-bogus", ["models", "--mode", "bogus"], {}, USAGE, "--mode"),
    ("status-not-a-task-id", ["--emulator", "status", "a/../../b"], {}, USAGE, "not a task id"),
    ("fetch-not-a-task-id", ["--emulator", "fetch", "../x"], {}, USAGE, "not a task id"),
    ("cancel-empty", ["--emulator", "cancel", ""], {}, USAGE, "not a task id"),
    ("base-url-bad-ipv6", ["--base-url", "http://[::1", "t2v", "x", "--dry-run"], {}, USAGE, "Base URL"),
    ("base-url-bad-port", ["--base-url", "http://host:99999/api/v1", "t2v", "x", "--dry-run"], {}, USAGE, "Base URL"),
    ("base-url-space", ["--base-url", "http://a b/", "t2v", "x", "--dry-run"], {}, USAGE, "Base URL"),
    ("base-url-env-garbage", ["doctor"], {"QWEN_BASE_URL": "http://[::1"}, USAGE, "QWEN_BASE_URL"),
    ("region-flag-bogus", ["--region", "bogus", "t2v", "x", "--dry-run"], {}, USAGE, "bogus"),
    ("region-env-bogus", ["t2v", "x", "--dry-run"], {"QWEN_REGION": "bogus"}, USAGE, "QWEN_REGION"),
    ("key-non-ascii", ["t2v", "x", "--yes"], {"DASHSCOPE_API_KEY": "sk-abé€defgh"}, AUTH, "non-ASCII"),
    ("key-line-break", ["t2v", "x", "--yes"], {"DASHSCOPE_API_KEY": "sk-abc\ndefgh"}, AUTH, "line break"),
    ("emulator-port-range", ["emulator", "--port", "99999"], {}, USAGE, "--port"),
    ("emulator-port-negative", ["emulator", "--port", "-1"], {}, USAGE, "--port"),
    ("emulator-seconds-negative", ["emulator", "--pending-seconds", "-1"], {}, USAGE, "--pending-seconds"),
    ("emulator-empty-key", ["emulator", "--api-key", ""], {}, USAGE, "--api-key"),
    ("emulator-bad-host", ["emulator", "--host", "not a host", "--port", "0"], {}, USAGE, "Cannot listen"),
    ("emulator-bad-fault", ["emulator", "--fault", "bogus"], {}, USAGE, "bogus"),
    ("completion-bad-shell", ["--show-completion", "bogus"], {}, USAGE, "bogus"),
    ("config-unknown-key", ["config", "set", "colour", "red"], {}, USAGE, "colour"),
    ("config-number-text", ["config", "set", "wait_timeout", "soon"], {}, USAGE, "number"),
    ("config-refused-value", ["config", "set", "region", "bogus"], {}, USAGE, "bogus"),
    ("config-api-key", ["config", "set", "api_key", "sk-abcdefgh"], {}, USAGE, "API key"),
    ("config-negative", ["config", "set", "query_qps", "-5"], {}, USAGE, "query_qps"),
    ("media-info-not-media", ["media", "info", "broken.json"], {}, USAGE, "broken.json"),
    ("media-info-folder", ["media", "info", "folder"], {}, USAGE, "is a folder"),
    ("media-sheet-frames-huge", ["media", "sheet", "broken.json", "--frames", HUGE], {}, USAGE, "--frames"),
    ("media-fit-unknown-model", ["media", "fit", "not-an-image.png", "--model", "bogus"], {}, USAGE, "bogus"),
    # Folders os.access calls writable for root where no file can be made: refused before anything is paid.
    ("output-into-proc", ["--emulator", "t2v", "x", "--yes", "-o", "/proc/x.mp4"], {}, USAGE, "cannot write into"),
    ("output-into-sys", ["--emulator", "t2v", "x", "--yes", "-o", "/sys/"], {}, USAGE, "cannot write into"),
    ("run-output-into-proc", ["--emulator", "run", "batch.txt", "--yes", "-o", "/proc/x"], {}, USAGE, "cannot write"),
    ("run-under-file", ["--emulator", "run", "batch.txt", "--yes", "-o", "batch.txt/x"], {}, USAGE, "not a folder"),
    ("media-output-into-proc", ["media", "trim", "clip.mp4", "-o", "/proc/y.mp4"], {}, USAGE, "cannot write"),
    ("home-cannot-create", ["tasks"], {"QWENVID_HOME": "/proc/qwenvid-no"}, ERROR, "Cannot create the ledger"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "env", "code", "phrase"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_gets_one_clear_line_and_a_documented_code(
    files: Path, args: list[str], env: dict[str, str], code: int, phrase: str
) -> None:
    result = run(args, env)
    assert_clean_failure(result, code)
    assert phrase in result.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b'region = "caf\xe9"\n', "not UTF-8"),
        (b"region = \n", "not valid TOML"),
        (b"wait_timeout = 'soon'\n", "wait_timeout"),
        (b"[prices]\nwan = 'cheap'\n", "prices.wan"),
    ],
    ids=["not-utf8", "not-toml", "wrong-type", "bad-price"],
)
def test_a_broken_config_file_is_named(isolated_env: Path, content: bytes, phrase: str) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_bytes(content)
    for args in (["doctor"], ["t2v", "x", "--dry-run"], ["tasks"], ["config"]):
        result = run(args)
        assert_clean_failure(result, USAGE)
        assert phrase in result.stderr and "config.toml" in result.stderr


def test_a_folder_in_place_of_the_config_file_is_named(isolated_env: Path) -> None:
    (isolated_env / "config.toml").mkdir(parents=True)
    result = run(["tasks"])
    assert_clean_failure(result, USAGE)
    assert "config.toml is not a file" in result.stderr


def test_a_non_utf8_env_file_is_named(isolated_env: Path) -> None:
    Path(".env").write_bytes(b"QWEN_REGION=caf\xe9\n")
    result = run(["t2v", "x", "--dry-run"])
    assert_clean_failure(result, USAGE)
    assert ".env is not UTF-8" in result.stderr


def test_qwenvid_home_pointing_at_a_file(tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("x")
    for args in (["tasks"], ["doctor"], ["--emulator", "t2v", "x", "--dry-run"]):
        result = run(args, {"QWENVID_HOME": str(home)})
        assert_clean_failure(result, USAGE)
        assert "QWENVID_HOME" in result.stderr and "is a file" in result.stderr


def test_a_ledger_that_is_not_a_database_is_named_and_doctor_reports_it(isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    ledger = isolated_env / "ledger.sqlite3"
    ledger.write_bytes(b"this is not SQLite" * 100)
    result = run(["tasks"])
    assert_clean_failure(result, ERROR)
    assert str(ledger) in result.stderr and "Move it aside" in result.stderr
    doctor = run(["--emulator", "doctor", "--json"])
    assert doctor.exit_code == ERROR
    assert '"ledger_ok": false' in doctor.stdout


def test_a_damaged_ledger_is_found_by_doctor_and_refused_cleanly(isolated_env: Path) -> None:
    first = run(["--emulator", "t2v", "A kitten"])
    assert first.exit_code == 0, first.stderr
    doctor = run(["--emulator", "doctor", "--json"])
    assert '"ledger_ok": true' in doctor.stdout and "1 task(s)" in doctor.stdout
    ledger = isolated_env / "ledger.sqlite3"
    data = bytearray(ledger.read_bytes())
    data[4096:] = b"A" * (len(data) - 4096)  # every page after the first is garbage
    ledger.write_bytes(bytes(data))
    for path in isolated_env.glob("ledger.sqlite3-*"):
        path.unlink()
    result = run(["tasks"])
    assert_clean_failure(result, ERROR)
    assert "ledger" in result.stderr
    doctor = run(["--emulator", "doctor"])
    assert doctor.exit_code == ERROR and "Ledger:" in doctor.stdout and "NO" in doctor.stdout


def test_fetch_of_a_malformed_id_leaves_no_row_in_the_ledger(isolated_env: Path) -> None:
    for ref in ("../x", "", "a b"):
        run(["--emulator", "fetch", ref])
    ledger = isolated_env / "ledger.sqlite3"
    if ledger.exists():
        with sqlite3.connect(ledger) as conn:
            assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0


def test_an_emulator_port_in_use_is_named(isolated_env: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run(["emulator", "--port", str(port)])
    assert_clean_failure(result, USAGE)
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


@pytest.mark.slow
def test_undecodable_bytes_from_a_real_terminal_are_refused(isolated_env: Path) -> None:
    """The bytes arrive through argv exactly as a shell passes them (not as Python strings)."""
    qwenvid = Path(sys.executable).with_name("qwenvid")
    done = subprocess.run(
        [os.fsencode(str(qwenvid)), b"t2v", b"caf\xe9", b"--dry-run"], capture_output=True, timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == USAGE
    stderr = done.stderr.decode()
    assert "caf\\xe9" in stderr and "not valid UTF-8" in stderr and "unexpected" not in stderr


def test_an_input_that_is_not_a_regular_file_is_named(isolated_env: Path) -> None:
    os.mkfifo("pipe.png")
    result = run(["i2v", "x", "--image", "pipe.png", "--dry-run"])
    assert_clean_failure(result, USAGE)
    assert "pipe.png is not a regular file" in result.stderr
