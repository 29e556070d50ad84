"""Temporary uploads on the emulator: getPolicy, the OSS form post, and oss:// inputs bound to a model."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import T2V_PATH, api_client, probe_mp4, run_to_end, submit_ok
from tests.support.media_files import make_image

I2V_MODEL = "wan2.6-i2v-flash"


def get_policy(client: httpx.Client, model: str = I2V_MODEL) -> dict[str, Any]:
    response = client.get("/uploads", params={"action": "getPolicy", "model": model})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def form_fields(policy: dict[str, Any], name: str = "cat.png", /, **overrides: str) -> dict[str, str]:
    """The form fields in the order the official SDK sends them (dashscope-api.md §1.4)."""
    fields = {
        "OSSAccessKeyId": policy["oss_access_key_id"],
        "Signature": policy["signature"],
        "policy": policy["policy"],
        "key": f"{policy['upload_dir']}/{name}",
        "x-oss-object-acl": policy["x_oss_object_acl"],
        "x-oss-forbid-overwrite": policy["x_oss_forbid_overwrite"],
        "success_action_status": "200",
        "x-oss-content-type": "image/png",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v != ""}


def post_form(policy: dict[str, Any], fields: dict[str, str], data: bytes) -> httpx.Response:
    return httpx.post(policy["upload_host"], data=fields, files={"file": ("cat.png", data, "image/png")})


def upload(client: httpx.Client, image: Path, model: str = I2V_MODEL) -> str:
    policy = get_policy(client, model)
    fields = form_fields(policy, image.name)
    response = post_form(policy, fields, image.read_bytes())
    assert response.status_code == 200, response.text
    return "oss://" + fields["key"]


def i2v_body(img_url: str, model: str = I2V_MODEL) -> dict[str, Any]:
    return {"model": model, "input": {"img_url": img_url, "prompt": "the cat waves"},
            "parameters": {"resolution": "720P", "duration": 2, "audio": False}}


RESOLVE = {"X-DashScope-OssResourceResolve": "enable"}


def test_policy_shape(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        response = client.get("/uploads", params={"action": "getPolicy", "model": I2V_MODEL})
    body = response.json()
    data = body["data"]
    assert response.status_code == 200 and body["request_id"] == response.headers["X-Request-ID"]
    assert set(data) == {"policy", "signature", "upload_dir", "upload_host", "expire_in_seconds", "max_file_size_mb",
                         "capacity_limit_mb", "oss_access_key_id", "x_oss_object_acl", "x_oss_forbid_overwrite"}
    assert data["upload_host"] == emulator.root_url + "/__oss"
    assert data["expire_in_seconds"] == 300 and data["max_file_size_mb"] == 1024
    assert data["upload_dir"].startswith("dashscope-instant/")
    document = json.loads(base64.b64decode(data["policy"]))
    assert ["starts-with", "$key", data["upload_dir"]] in document["conditions"]
    assert document["expiration"].endswith("Z")


@pytest.mark.parametrize(
    ("params", "key", "status"),
    [
        ({"action": "getPolicy"}, "sk-canary-0123456789abcdef", 400),
        ({"action": "list", "model": I2V_MODEL}, "sk-canary-0123456789abcdef", 400),
        ({"action": "getPolicy", "model": I2V_MODEL}, None, 401),
    ],
    ids=["no-model", "wrong-action", "no-key"],
)
def test_policy_errors(emulator: EmulatorThread, params: dict[str, str], key: str | None, status: int) -> None:
    with api_client(emulator, key=key) as client:
        response = client.get("/uploads", params=params)
    assert response.status_code == status


def test_uploaded_image_drives_the_i2v_render(emulator: EmulatorThread, tmp_path: Path) -> None:
    """750x1000 at 720P keeps the image's aspect: 816x1104 (dashscope-api.md §2.1); frames start from it."""
    image = make_image(tmp_path / "cat.png", 750, 1000)
    with api_client(emulator) as client:
        url = upload(client, image)
        task_id = submit_ok(client, i2v_body(url), headers=RESOLVE)
        done = run_to_end(emulator, client, task_id)
    video = httpx.get(done["output"]["video_url"]).content
    facts = probe_mp4(video)
    assert done["output"]["task_status"] == "SUCCEEDED"
    assert (facts.width, facts.height, facts.audio_codecs) == (816, 1104, ())
    with av.open(io.BytesIO(video), mode="r") as container:
        picture = next(container.decode(video=0)).to_image()
    red, green, blue = picture.getpixel((facts.width // 2, int(facts.height * 0.7)))
    assert abs(red - 200) < 20 and abs(green - 120) < 20 and abs(blue - 40) < 20


def test_oss_input_needs_the_resolve_header(emulator: EmulatorThread, tmp_path: Path) -> None:
    with api_client(emulator) as client:
        url = upload(client, make_image(tmp_path / "cat.png"))
        response = client.post(T2V_PATH, json=i2v_body(url))
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert "X-DashScope-OssResourceResolve" in response.json()["message"]
    assert emulator.state.task_count() == 0


def test_oss_input_is_bound_to_the_model_named_at_upload(emulator: EmulatorThread, tmp_path: Path) -> None:
    with api_client(emulator) as client:
        url = upload(client, make_image(tmp_path / "cat.png"), model="wan2.6-i2v")
        response = client.post(T2V_PATH, json=i2v_body(url), headers=RESOLVE)
    message = response.json()["message"]
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter"
    assert "wan2.6-i2v" in message and I2V_MODEL in message


@pytest.mark.parametrize("age", [0.0, 48 * 3600 + 1], ids=["never-uploaded", "older-than-48h"])
def test_missing_or_expired_oss_file(emulator: EmulatorThread, manual_clock: ManualClock, tmp_path: Path,
                                     age: float) -> None:
    with api_client(emulator) as client:
        url = upload(client, make_image(tmp_path / "cat.png")) if age else "oss://dashscope-instant/none/x.png"
        manual_clock.advance(age)
        response = client.post(T2V_PATH, json=i2v_body(url), headers=RESOLVE)
    assert response.status_code == 400 and "not found" in response.json()["message"]


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, 403, "SignatureDoesNotMatch"),
        ({"OSSAccessKeyId": "LTAIsomeoneelse"}, 403, "InvalidAccessKeyId"),
        ({"key": "elsewhere/cat.png"}, 403, "AccessDenied"),
        ({"policy": ""}, 400, "InvalidArgument"),
    ],
    ids=["bad-signature", "bad-access-key", "key-outside-dir", "no-policy"],
)
def test_upload_form_refusals(emulator: EmulatorThread, overrides: dict[str, str], status: int, code: str) -> None:
    with api_client(emulator) as client:
        policy = get_policy(client)
    response = post_form(policy, form_fields(policy, **overrides), b"png-bytes")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/xml")
    assert f"<Code>{code}</Code>" in response.text
    assert emulator.state.upload_count() == 0


def test_expired_policy_is_refused(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        policy = get_policy(client)
    manual_clock.advance(301)
    response = post_form(policy, form_fields(policy), b"png-bytes")
    assert response.status_code == 403
    assert "Invalid according to Policy: Policy expired." in response.text


def test_upload_cannot_overwrite(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        policy = get_policy(client)
    first = post_form(policy, form_fields(policy), b"one")
    second = post_form(policy, form_fields(policy), b"two")
    assert first.status_code == 200
    assert second.status_code == 409 and "<Code>FileAlreadyExists</Code>" in second.text


@pytest.mark.parametrize(("status_field", "status"), [("", 204), ("201", 201), ("200", 200)])
def test_success_action_status(emulator: EmulatorThread, status_field: str, status: int) -> None:
    with api_client(emulator) as client:
        policy = get_policy(client)
    response = post_form(policy, form_fields(policy, success_action_status=status_field), b"bytes")
    assert response.status_code == status
    assert ("<PostResponse>" in response.text) is (status == 201)
    assert emulator.state.upload_count() == 1
