"""Uploads: your own OSS bucket through the real alibabacloud-oss-v2 SDK against the emulator's bucket, and every
input uploaded once (temporary storage bound to model and key, expiring; bucket objects reused)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.config import load_settings
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import AuthenticationError, ConfigError, scrub
from qwenvid.store.uploads import UploadStore
from qwenvid.wire.oss import BucketClient
from tests.support.cli_emulator import use_emulator
from tests.support.media_files import make_image

AK_ID = "LTAI5tEmulatorBucketKey"
SECRET = "canary-oss-secret-7f3a9c"
BUCKET = "my-assets"
SMALL_I2V = ("--model", "wan2.1-i2v-turbo", "--resolution", "480P", "--duration", "3")
DAY = 24 * 3600.0


@pytest.fixture
def bucket_emulator(make_emulator, manual_clock: ManualClock) -> EmulatorThread:  # type: ignore[no-untyped-def]
    """The emulator (manual clock) whose bucket knows the canary secret."""
    return make_emulator(EmulatorConfig(bucket_keys=((AK_ID, SECRET),)), clock=manual_clock)


def bucket_env(emulator: EmulatorThread, secret: str = SECRET) -> dict[str, str]:
    return {
        "QWEN_TMP_OSS_BUCKET": BUCKET,
        "QWEN_TMP_OSS_REGION": "cn-beijing",
        "QWEN_TMP_OSS_ENDPOINT": emulator.root_url,
        "QWEN_TMP_OSS_AK_ID": AK_ID,
        "QWEN_TMP_OSS_AK_SECRET": secret,
    }


def use_bucket(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorThread, secret: str = SECRET) -> None:
    for name, value in bucket_env(emulator, secret).items():
        monkeypatch.setenv(name, value)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def everything(result: Result) -> str:
    return result.stdout + result.stderr


def client_for(emulator: EmulatorThread, tmp_path: Path, secret: str = SECRET) -> BucketClient:
    settings = load_settings(environ={**bucket_env(emulator, secret), "QWENVID_HOME": str(tmp_path / "h")},
                             cwd=tmp_path)
    assert settings.oss is not None
    return BucketClient(settings.oss)


# -- the real SDK against the emulator's bucket --------------------------------------------------------


def test_sdk_uploads_presigns_and_the_link_expires(
    bucket_emulator: EmulatorThread, manual_clock: ManualClock, tmp_path: Path
) -> None:
    image = make_image(tmp_path / "ref.png")
    client = client_for(bucket_emulator, tmp_path)
    client.put(image, "qwenvid-uploads/20261207/ref.png")
    assert bucket_emulator.state.bucket.keys_in(BUCKET) == ["qwenvid-uploads/20261207/ref.png"]
    assert client.exists("qwenvid-uploads/20261207/ref.png")
    assert not client.exists("qwenvid-uploads/20261207/other.png")

    url, expires_at = client.presign_get("qwenvid-uploads/20261207/ref.png", 3600)
    assert "x-oss-signature=" in url and SECRET not in url
    fetched = httpx.get(url)
    assert fetched.status_code == 200 and fetched.content == image.read_bytes()
    # A link someone edited no longer matches its signature.
    assert httpx.get(url.replace("ref.png", "REF.png")).status_code == 403

    manual_clock.advance(expires_at - manual_clock.time() + 5)  # the emulator's clock passes the link's expiry
    expired = httpx.get(url)
    assert expired.status_code == 403 and "Request has expired" in expired.text


def test_a_wrong_secret_is_refused_in_one_line_without_the_secret(
    bucket_emulator: EmulatorThread, tmp_path: Path
) -> None:
    wrong = "wrong-secret-canary-1234"
    client = client_for(bucket_emulator, tmp_path, secret=wrong)
    with pytest.raises(AuthenticationError) as caught:
        client.put(make_image(tmp_path / "ref.png"), "k/ref.png")
    message = caught.value.message
    assert "SignatureDoesNotMatch" in message and BUCKET in message
    assert "\n" not in message and wrong not in message and SECRET not in message
    assert caught.value.exit_code == 3
    assert bucket_emulator.state.bucket.keys_in(BUCKET) == []


def test_plain_http_endpoints_only_for_loopback(tmp_path: Path) -> None:
    env = {"QWEN_TMP_OSS_BUCKET": "b", "QWEN_TMP_OSS_REGION": "cn-beijing", "QWENVID_HOME": str(tmp_path / "h")}
    with pytest.raises(ConfigError, match="only loopback"):
        load_settings(environ={**env, "QWEN_TMP_OSS_ENDPOINT": "http://oss.example.com"}, cwd=tmp_path)
    settings = load_settings(environ={**env, "QWEN_TMP_OSS_ENDPOINT": "oss-cn-beijing.aliyuncs.com"}, cwd=tmp_path)
    assert settings.oss is not None and settings.oss.endpoint == "https://oss-cn-beijing.aliyuncs.com"


def test_credentials_prefer_the_qwen_pair_then_the_standard_one(tmp_path: Path) -> None:
    base = {"QWEN_TMP_OSS_BUCKET": "b", "QWENVID_HOME": str(tmp_path / "h"),
            "OSS_ACCESS_KEY_ID": "LTAIstandard", "OSS_ACCESS_KEY_SECRET": "standard-secret"}
    (tmp_path / ".env").write_text("QWEN_TMP_OSS_AK_ID=LTAIqwen\nQWEN_TMP_OSS_AK_SECRET=qwen-secret\n")
    oss = load_settings(environ=base, cwd=tmp_path).oss
    assert oss is not None and oss.access_key_id == "LTAIqwen" and oss.credentials_source.endswith("(.env)")
    (tmp_path / ".env").write_text("QWEN_TMP_OSS_AK_ID=LTAIqwen\n")  # half a pair does not count
    oss = load_settings(environ=base, cwd=tmp_path).oss
    assert oss is not None and oss.access_key_id == "LTAIstandard" and "qwen-secret" not in repr(oss)


# -- a task reads the presigned link ---------------------------------------------------------------------


def test_a_task_reads_its_input_through_a_presigned_link(
    bucket_emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    use_emulator(bucket_emulator, manual_clock, canary_key, monkeypatch)
    use_bucket(monkeypatch, bucket_emulator)
    image = make_image(Path("ref.png"), 640, 480)
    result = run("i2v", "A slow pan", "--image", str(image), *SMALL_I2V, "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    bucket = bucket_emulator.state.bucket
    assert bucket.count("put") == 1 and bucket.count("get") == 1  # uploaded once; the render fetched the link
    (key,) = bucket.keys_in(BUCKET)
    assert key.startswith("qwenvid-uploads/2") and key.endswith("-ref.png")  # under a dated prefix
    assert bucket_emulator.state.upload_count() == 0  # the temporary storage was not used

    # The link is a secret: the ledger keeps the object's address with the signature masked; no output or
    # sidecar shows it either.
    with sqlite3.connect(isolated_env / "ledger.sqlite3") as conn:
        (request_json,) = conn.execute("SELECT request_json FROM tasks").fetchone()
    link = json.loads(request_json)["input"]["img_url"]
    assert link == f"{bucket_emulator.root_url}/{BUCKET}/{key}?<presigned, masked>"
    sidecar = Path(json.loads(result.stdout)["sidecar_path"]).read_text()
    assert f"/{BUCKET}/{key}?<presigned, masked>" in sidecar
    for text in (everything(result), sidecar, request_json):
        assert "x-oss-signature" not in text and SECRET not in text and canary_key not in text

    # The same file again: no upload, a fresh link, and stderr says so.
    again = run("i2v", "Another pan", "--image", str(image), *SMALL_I2V, "--yes")
    assert again.exit_code == 0, again.stderr
    assert "ref.png: reused, not uploaded" in again.stderr
    assert bucket.count("put") == 1 and bucket.count("get") == 2


# -- every input uploaded once (temporary storage) -------------------------------------------------------


def twenty_step_plan(folder: Path) -> Path:
    make_image(folder / "ref.png", 640, 480)
    plan = folder / "shots.toml"
    plan.write_text(
        'name = "shots"\n\n[steps.shot]\nmode = "i2v"\nmodel = "wan2.1-i2v-turbo"\n'
        'prompt = "The same hero, another angle"\nimage = "ref.png"\nresolution = "480P"\nduration = 3\n'
        f"seeds = [{', '.join(str(n) for n in range(1, 21))}]\n"
    )
    return plan


def test_one_reference_image_is_uploaded_once_per_model_and_again_when_it_expired(
    cli: EmulatorThread, manual_clock: ManualClock, isolated_env: Path
) -> None:
    plan = twenty_step_plan(Path("plans"))
    result = run("run", str(plan), "--yes")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(Path("output/qwenvid/shots/manifest.json").read_text())["steps"]) == 20
    assert cli.state.upload_count() == 1  # 20 steps, one upload

    image = str(Path("plans/ref.png"))
    same = run("i2v", "Once more", "--image", image, *SMALL_I2V, "--yes")
    assert same.exit_code == 0 and "reused, not uploaded" in same.stderr
    assert cli.state.upload_count() == 1

    # Temporary files are bound to the model named at upload: another model needs its own.
    other = run("i2v", "Once more", "--image", image, "--model", "wan2.2-i2v-flash", "--resolution", "480P",
                "--yes")
    assert other.exit_code == 0, other.stderr
    assert "reused, not uploaded" not in other.stderr
    assert cli.state.upload_count() == 2

    # Two days later the 48-hour file is gone: the rerun uploads it again (and the emulator accepts it).
    manual_clock.advance(2 * DAY)
    rerun = run("i2v", "Once more", "--image", image, *SMALL_I2V, "--yes")
    assert rerun.exit_code == 0, rerun.stderr
    assert "reused, not uploaded" not in rerun.stderr
    assert cli.state.upload_count() == 3


def test_a_file_about_to_expire_is_uploaded_again(cli: EmulatorThread, manual_clock: ManualClock) -> None:
    image = str(make_image(Path("ref.png"), 640, 480))
    assert run("i2v", "A", "--image", image, *SMALL_I2V, "--yes").exit_code == 0
    manual_clock.advance(2 * DAY - 300)  # still there for five minutes: less than the task may take
    result = run("i2v", "B", "--image", image, *SMALL_I2V, "--yes")
    assert result.exit_code == 0, result.stderr
    assert cli.state.upload_count() == 2


def test_credential_calls_are_paced_across_processes(tmp_path: Path) -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    first, second = UploadStore(tmp_path / "ledger.sqlite3"), UploadStore(tmp_path / "ledger.sqlite3")
    for n in range(100):
        (first if n % 2 else second).policy_turn("svc|wan2.1-i2v-turbo|k", clock=lambda: now[0], sleep=sleep)
    assert slept == []
    # Another model has its own 100; the 101st call of the first model waits for the window to move.
    first.policy_turn("svc|wan2.2-i2v-flash|k", clock=lambda: now[0], sleep=sleep)
    assert slept == []
    waited = second.policy_turn("svc|wan2.1-i2v-turbo|k", clock=lambda: now[0], sleep=sleep)
    assert waited == pytest.approx(1.15) and now[0] == pytest.approx(1001.15)


# -- doctor, config, the missing extra -------------------------------------------------------------------


def test_doctor_checks_the_bucket_without_showing_a_credential(
    bucket_emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(bucket_emulator, manual_clock, canary_key, monkeypatch)
    use_bucket(monkeypatch, bucket_emulator)
    result = run("doctor")
    assert result.exit_code == 0, everything(result)
    assert f"Uploads:      your own OSS bucket {BUCKET}" in result.stdout
    assert "Bucket:       ok (wrote and deleted qwenvid-uploads/doctor-check-" in result.stdout
    bucket = bucket_emulator.state.bucket
    assert bucket.count("put") == 1 and bucket.count("delete") == 1 and bucket.keys_in(BUCKET) == []
    for text in (everything(result), everything(run("doctor", "--json")), everything(run("config"))):
        assert SECRET not in text and AK_ID not in text and canary_key not in text

    use_bucket(monkeypatch, bucket_emulator, secret="wrong-canary-secret-99")
    refused = run("doctor")
    assert refused.exit_code == 3
    assert "Bucket:       NO (The OSS bucket my-assets refused to write a test object: SignatureDoesNotMatch" \
        in refused.stdout
    assert "wrong-canary-secret-99" not in everything(refused)


def test_doctor_names_the_temporary_storage_without_a_bucket(cli: EmulatorThread) -> None:
    result = run("doctor")
    assert result.exit_code == 0, everything(result)
    assert "Uploads:      DashScope temporary storage" in result.stdout and "Bucket:" not in result.stdout


def test_without_the_sdk_one_line_names_the_extra(
    bucket_emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(bucket_emulator, manual_clock, canary_key, monkeypatch)
    use_bucket(monkeypatch, bucket_emulator)
    monkeypatch.setitem(sys.modules, "alibabacloud_oss_v2", None)  # as if the extra were not installed
    doctor = run("doctor")
    assert doctor.exit_code == 2
    assert "need the `oss` extra" in doctor.stdout and "pip install 'qwenvid[oss]'" in doctor.stdout
    image = str(make_image(Path("ref.png"), 640, 480))
    result = run("i2v", "A", "--image", image, *SMALL_I2V, "--yes")
    assert result.exit_code == 2
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "`oss` extra" in line and "Traceback" not in result.stderr
    assert bucket_emulator.state.bucket.count("put") == 0


def test_config_never_writes_an_oss_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_TMP_OSS_BUCKET", BUCKET)
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", AK_ID)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SECRET)
    shown = run("config", "--json")
    rows = {row["key"]: row for row in json.loads(shown.stdout)["settings"]}
    assert rows["oss_bucket"]["value"] == BUCKET and rows["oss_credentials"]["value"] == "LTAI…"
    assert SECRET not in everything(shown) and AK_ID not in everything(shown)
    refused = run("config", "set", "oss_ak_secret", SECRET)
    assert refused.exit_code == 2 and "does not write OSS credentials" in refused.stderr
    too_long = run("config", "set", "oss_url_expires", "9999999")
    assert too_long.exit_code == 2 and "7 days" in too_long.stderr
    assert run("config", "set", "oss_prefix", "team/videos").exit_code == 0
    assert run("config", "get", "oss_prefix").stdout.strip() == "team/videos"


def test_presigned_links_are_masked_by_scrub() -> None:
    link = "https://b.oss-cn-beijing.aliyuncs.com/k.png?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-signature=ab12"
    masked = "refused: https://b.oss-cn-beijing.aliyuncs.com/k.png?<presigned, masked> (400)"
    assert scrub(f"refused: {link} (400)") == masked


def test_dry_run_and_debug_never_show_a_link_or_a_secret(
    bucket_emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_emulator(bucket_emulator, manual_clock, canary_key, monkeypatch)
    use_bucket(monkeypatch, bucket_emulator)
    image = str(make_image(Path("ref.png"), 640, 480))
    dry = run("i2v", "A", "--image", image, *SMALL_I2V, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    shown = json.loads(dry.stdout)["payload"]["input"]["img_url"]
    assert shown == f"https://<presigned link to {BUCKET}/qwenvid-uploads/YYYYMMDD/…-ref.png, masked>"
    assert bucket_emulator.state.bucket.count("put") == 0  # a dry run uploads nothing

    debug = run("--debug", "i2v", "A", "--image", image, *SMALL_I2V, "--yes")
    assert debug.exit_code == 0, debug.stderr
    assert bucket_emulator.state.bucket.count("get") == 1
    for text in (everything(dry), everything(debug)):
        assert "x-oss-signature" not in text and SECRET not in text and AK_ID not in text and canary_key not in text


def test_on_a_terminal_a_reused_file_says_so(live_emulator: EmulatorThread, isolated_env: Path) -> None:
    from tests.support.terminal import Terminal

    secret = "emulator-bucket-secret"  # the emulator's default key pair
    env = {"QWENVID_HOME": str(isolated_env), "QWEN_BASE_URL": live_emulator.base_url,
           "DASHSCOPE_API_KEY": "sk-canary-terminal-0123456789", **bucket_env(live_emulator, secret)}
    image = str(make_image(Path("ref.png"), 640, 480))
    for prompt, said in (("First", "Uploaded ref.png"), ("Second", "ref.png: reused, not uploaded")):
        term = Terminal("i2v", prompt, "--image", image, *SMALL_I2V, "--yes", env=env, cwd=Path.cwd())
        term.expect(said)
        assert term.finish() == 0
        assert secret not in term.text and "x-oss-signature" not in term.text
    assert live_emulator.state.bucket.count("put") == 1
