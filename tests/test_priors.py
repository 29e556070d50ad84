"""Cold priors (qwenvid/requests/priors.py): the documented ranges hold, and every cold estimate comes from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwenvid.catalogue import MODELS
from qwenvid.requests.priors import QUEUE_SECONDS, SCATTER, cold_prior, prior_for_request
from qwenvid.store.ledger import Ledger
from qwenvid.store.sqlite_store import SqliteStore
from qwenvid.tasks.estimates import cold_estimate, estimate_for

MINUTE = 60.0


def test_the_commonest_requests_take_the_documented_one_to_five_minutes() -> None:
    # dashscope-api.md §5: "1-5 min (t2v/i2v/kf2v/r2v)".
    for model in ("wan2.6-t2v", "wan2.7-t2v", "wan2.6-i2v", "wan2.1-kf2v-plus", "wan2.6-r2v"):
        for size, resolution in (("1280*720", None), (None, "720P")):
            seconds = cold_prior(model, duration=5, size=size, resolution=resolution, kind="text").seconds
            assert 1 * MINUTE <= seconds <= 5 * MINUTE, (model, seconds)


def test_1080p_multi_shot_15_seconds_takes_up_to_about_ten_minutes() -> None:
    # §5: "1080P + multi-shot + 15 s up to ~10 min"; longer or larger output always takes longer.
    longest = cold_prior("wan2.6-t2v", duration=15, size="1920*1080", multi_shot=True).seconds
    assert 9 * MINUTE <= longest <= 11 * MINUTE
    ladder = [
        cold_prior("wan2.6-t2v", duration=2, size="1280*720"),
        cold_prior("wan2.6-t2v", duration=5, size="1280*720"),
        cold_prior("wan2.6-t2v", duration=5, size="1920*1080"),
        cold_prior("wan2.6-t2v", duration=10, size="1920*1080"),
        cold_prior("wan2.6-t2v", duration=15, size="1920*1080"),
    ]
    assert [p.seconds for p in ladder] == sorted(p.seconds for p in ladder)
    assert len({round(p.seconds) for p in ladder}) == len(ladder)


def test_vace_takes_five_to_ten_minutes_and_flash_is_quicker() -> None:
    # §5: "VACE 5-10 min", whichever of its functions.
    for kind in ("image_reference:ref_images", "video_edit:video", "video_extension:first_clip"):
        assert 5 * MINUTE <= cold_prior("wan2.1-vace-plus", kind=kind).seconds <= 10 * MINUTE, kind
    flash = cold_prior("wan2.2-i2v-flash", duration=5, resolution="720P", kind="img").seconds
    plus = cold_prior("wan2.2-i2v-plus", duration=5, resolution="720P", kind="img").seconds
    assert flash < plus
    video = cold_prior("wan2.7-r2v", duration=5, resolution="720P", kind="reference_video").seconds
    image = cold_prior("wan2.7-r2v", duration=5, resolution="720P", kind="reference_image").seconds
    assert video > image  # a video input is read frame by frame


def test_every_model_has_a_sensible_prior_for_its_default_request() -> None:
    for spec in MODELS:
        prior = cold_prior(spec.id)
        assert 40 <= prior.seconds <= 10 * MINUTE, spec.id
        assert prior.queue == QUEUE_SECONDS and prior.estimate().render == prior.render
    assert cold_prior("not-a-model").seconds == cold_prior("wan2.6-t2v", duration=5, size="1280*720").seconds


def test_a_request_body_gives_the_same_prior_as_its_fields() -> None:
    body = {"model": "wan2.6-t2v", "input": {"prompt": "p"},
            "parameters": {"size": "1920*1080", "duration": 10, "shot_type": "multi"}}
    assert prior_for_request(body) == cold_prior("wan2.6-t2v", duration=10, size="1920*1080", multi_shot=True)
    media = {"model": "wan2.7-r2v", "input": {"prompt": "p", "media": [{"type": "reference_video", "url": "x"}]},
             "parameters": {"resolution": "720P", "duration": 5}}
    assert prior_for_request(media) == cold_prior("wan2.7-r2v", duration=5, resolution="720P", kind="reference_video")
    assert prior_for_request(None).seconds == cold_prior(None).seconds
    assert prior_for_request({"model": "wan2.6-t2v", "parameters": {"duration": True, "size": 7}}) == cold_prior(
        "wan2.6-t2v"
    )  # odd values fall back to the model's defaults


def test_the_cold_estimate_is_the_rows_prior_until_history_replaces_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    body = {"model": "wan2.6-t2v", "input": {"prompt": "p"}, "parameters": {"size": "1920*1080", "duration": 15}}
    row = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=body, duration=15, tier="1080P")
    prior = prior_for_request(body)
    cold = estimate_for(SqliteStore.of(ledger), row)
    assert not cold.learned and cold.seconds == pytest.approx(prior.seconds)
    assert cold.render == pytest.approx(prior.render) and cold.render_spread == pytest.approx(SCATTER * prior.render)
    # A row whose stored body lacks the parameters: its duration and tier columns say them.
    bare = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json={"input": {"prompt": "p"}},
                         duration=15, tier="1080P")
    expected = cold_prior("wan2.6-t2v", duration=15, resolution="1080P").seconds
    assert cold_estimate(bare).seconds == pytest.approx(expected)
    done = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=body, duration=15, tier="1080P")
    ledger.mark_submitted(done.id, "task-1")
    ledger.update_remote(done.id, "SUCCEEDED", submit_time="2026-01-01 10:00:00.000",
                         end_time="2026-01-01 10:04:00.000")
    warm = estimate_for(SqliteStore.of(ledger), row)
    assert warm.learned and warm.seconds == 240.0
    ledger.close()


def test_plan_steps_are_followed_with_the_same_estimate_as_a_single_run(isolated_env: Path, canary_key: str) -> None:
    # `qwenvid run` (plans) used the catalogue's one figure per model as a bare number, never warm nor
    # re-aimable; now it asks estimate_for like `qwenvid t2v`: the row's prior, then its history.
    from qwenvid.config import load_settings
    from qwenvid.plans.backend import LedgerBackend
    from qwenvid.tasks.session import Session

    settings = load_settings(api_key=canary_key, base_url="http://127.0.0.1:9/api/v1")
    with Session(settings) as session:
        backend = LedgerBackend(session)
        body = {"model": "wan2.6-t2v", "input": {"prompt": "p"}, "parameters": {"size": "1920*1080", "duration": 15}}
        row = session.ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=body, duration=15,
                                    tier="1080P")
        cold = backend.estimate(row.id, None)
        assert cold == estimate_for(session.store, row) == prior_for_request(body).estimate()
        assert cold.render is not None and not cold.learned  # re-aims once the step is seen RUNNING
        assert backend.estimate(row.id, 2.0).learned  # the in-process emulator's known timing
