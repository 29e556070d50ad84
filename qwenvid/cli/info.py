"""Commands that describe rather than generate: models (the catalogue) and doctor (the set-up)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import MODES, JsonOpt, one_of
from qwenvid.cli._output import Output
from qwenvid.cli._session import open_session, state_of
from qwenvid.errors import ExitCode, QwenvidError

MODELS_EXAMPLES = examples("qwenvid models", "qwenvid models --mode i2v", "qwenvid models --json")
DOCTOR_EXAMPLES = examples(
    "qwenvid doctor",
    "qwenvid doctor --json",
    "qwenvid doctor --write-env",
    "qwenvid --emulator doctor --contract",
    "qwenvid --emulator doctor --contract --record contract-answers",
)


def models(
    ctx: typer.Context,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            metavar="MODE",
            callback=one_of(MODES),
            help="Only this mode: t2v, i2v, kf2v, r2v, vace, s2v or animate.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the Wan models qwenvid knows, with what each one accepts."""
    from qwenvid.catalogue import DEFAULT_MODELS, FRA, MODELS, offered_regions

    state = state_of(ctx, json_out)
    specs = [spec for spec in MODELS if mode is None or spec.serves(mode)]  # type: ignore[arg-type]
    if state.out.json:
        models = [_model_json(spec, spec.id == DEFAULT_MODELS.get(spec.mode)) for spec in specs]
        state.out.result_json({"models": models, "count": len(models)})  # one object, as every --json prints
        return

    def row(spec: Any) -> list[str]:
        return [
            spec.id,
            "yes" if DEFAULT_MODELS.get(spec.mode) == spec.id else "-",
            "+".join((spec.mode, *spec.modes)),
            _resolution_text(spec),
            spec.durations.describe(),
            spec.audio + (" +soundtrack" if spec.audio_url else ""),
            ", ".join(offered_regions(spec)),
        ]

    columns = ["model", "default", "mode", "takes", "durations", "audio", "regions"]
    whole, drop = {"model", "mode"}, ("regions", "default", "audio")  # narrow terminals: never cut, dropped first
    if not sys.stdout.isatty():  # a pipe keeps one table with its columns
        state.out.table(columns, [row(spec) for spec in specs], keep_whole=whole, drop=drop)
    else:  # a person sees the families, newest first, each with what it accepts
        for family in sorted({spec.family for spec in specs}, key=_family_order):
            members = [spec for spec in specs if spec.family == family]
            sys.stdout.write(f"\n{_family_heading(family, members)}\n")
            sys.stdout.flush()
            state.out.table(columns, [row(spec) for spec in members], keep_whole=whole, drop=drop)
    state.out.info("Details: `qwenvid models --json`. Unknown model ids are passed through with a warning.")
    if any(FRA in spec.regions for spec in specs):
        state.out.info(
            "Frankfurt (eu-central-1) also serves the wan2.6 models, through your workspace's own URL: "
            "--base-url https://WORKSPACE_ID.eu-central-1.maas.aliyuncs.com/api/v1"
        )


def _family_order(family: str) -> tuple[int, str]:
    """Newest first: Wan 3.0, HappyHorse, then wan2.7 ... wan2.1 and the speech/animate models."""
    head = {"wan3.0": 0, "happyhorse": 1}.get(family, 2)
    return head, "".join(chr(255 - ord(char)) for char in family)  # descending by name within the rest


def _family_heading(family: str, members: list[Any]) -> str:
    """One line per family: what its models accept and what is unconfirmed."""
    longest = max(
        max((spec.durations.max or 0, *spec.durations.choices, spec.durations.max_output or spec.durations.default))
        for spec in members
    )
    facts = [f"up to {longest} s"]
    if any(spec.duration_auto for spec in members):
        facts.append("--duration auto")
    audio = {spec.audio for spec in members}
    facts.append("audio" if audio == {"always"} else "silent" if audio == {"silent"} else "audio or silent")
    if any(spec.limits.references for spec in members):
        most = max(spec.limits.references.max_total for spec in members if spec.limits.references)
        facts.append(f"references up to {most}")
    if any(spec.limits.voice for spec in members):
        facts.append("voices")
    facts.append("watermark on by default" if any(spec.watermark_default for spec in members) else "no watermark")
    notes = sorted({part.strip() for spec in members for part in spec.note.split(";") if part.strip()})
    line = f"{family}: " + ", ".join(facts)
    return line + (f". Unconfirmed: {'; '.join(notes)}" if notes else "")


def _resolution_text(spec: Any) -> str:
    if spec.resolution_field == "size":
        return "--size " + " ".join(spec.sizes)
    # "/ " lets a narrow table wrap between choices, never inside "3:4" (a pipe gets the same text).
    text = "--resolution " + "/ ".join(spec.resolutions)
    if spec.resolution_field == "resolution+ratio":
        text += " --ratio " + "/ ".join(spec.ratios)
    return text


def _model_json(spec: Any, is_default: bool) -> dict[str, Any]:
    from qwenvid.catalogue import offered_regions

    data = dataclasses.asdict(spec)
    data["default"] = is_default
    data["regions"] = list(offered_regions(spec))
    data["durations"]["text"] = spec.durations.describe()
    return data


def doctor(
    ctx: typer.Context,
    write_env: Annotated[
        bool, typer.Option("--write-env", help="Write a .env placeholder (mode 0600) in the working directory.")
    ] = False,
    contract: Annotated[
        bool,
        typer.Option(
            "--contract",
            help="Compare the service's answers with the emulator's, using only calls that are not billed "
            "(a task list, a made-up task id, submits refused at submit time); print each difference.",
        ),
    ] = False,
    record_dir: Annotated[
        Path | None,
        typer.Option(
            "--record", metavar="DIR", help="With --contract: save both sets of answers there, without the key."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the set-up: key set or not (never its value), key kind, region, base URL, reachability, paths."""
    from qwenvid.config import write_env_placeholder
    from qwenvid.store.ledger_file import check_ledger

    state = state_of(ctx, json_out)
    out = state.out
    if contract or record_dir is not None:
        _contract(state, record_dir)
        return
    wrote_env = None
    if write_env:
        wrote_env = write_env_placeholder(Path.cwd() / ".env")
        out.info(f"Wrote {wrote_env} (readable by you only). Put your key after DASHSCOPE_API_KEY=.")
    with open_session(state) as opened:  # with --emulator: the in-process emulator is what gets checked
        report = _doctor_report(opened.settings)
        report["ledger_ok"], report["ledger_detail"] = check_ledger(opened.settings.ledger_path)
        report["reachable"], report["reach_detail"] = _reachable(opened.settings.base_url)
        if report["key_set"] and report["reachable"]:
            report["key_accepted"], report["key_detail"] = _key_accepted(opened.session)
        from qwenvid.tasks.uploads import doctor_uploads

        report.update(doctor_uploads(opened.session))  # which upload path; a bucket is written to and cleaned
    report["wrote_env"] = str(wrote_env) if wrote_env else None
    report["emulator_default"] = state.emulator_source if state.emulator else None
    if out.json:
        out.result_json(report)
    else:
        _print_doctor(out, report)
    # Scripts can gate on doctor: the documented codes for a key problem (3) or an unreachable service (6).
    if not report["key_set"] or report["key_kind"] == "coding-plan" or report["key_accepted"] is False:
        raise typer.Exit(int(ExitCode.AUTH))
    if not report["reachable"]:
        raise typer.Exit(int(ExitCode.NETWORK))
    if report["ledger_ok"] is False:
        raise typer.Exit(int(ExitCode.ERROR))
    if report["uploads_ok"] is False:
        raise typer.Exit(report["uploads_exit"])


def _contract(state: Any, record_dir: Path | None) -> None:
    """Run the unbilled probes against the emulator (the reference) and the configured service; compare."""
    from qwenvid.config import require_key
    from qwenvid.emulator.config import EmulatorConfig
    from qwenvid.emulator.server import EmulatorThread
    from qwenvid.tasks.contract import differences, record, run_probes

    out = state.out
    with open_session(state) as opened:
        require_key(opened.settings)
        reference = EmulatorThread(EmulatorConfig()).start()
        try:
            expected = run_probes(reference.base_url, "sk-qwenvid-contract-reference")
        finally:
            reference.stop(wait=False)
        key = opened.settings.api_key or ""
        actual = run_probes(opened.settings.base_url, key, ledger=opened.session.ledger,
                            origin="emulated" if opened.emulated else "local")  # fmt: skip
        found = differences(expected, actual)
        if record_dir is not None:
            record(record_dir, "service", actual, key, _write_text)
            record(record_dir, "emulator", expected, key, _write_text)
    if out.json:
        out.result_json({"base_url": opened.settings.base_url, "probes": len(actual), "differences": found})
    else:
        out.result(f"Contract check of {opened.settings.base_url}: {len(actual)} unbilled calls, "
                   f"{len(found)} difference(s) from the emulator")  # fmt: skip
        for line in found:
            out.result(f"  {line}")
        if record_dir is not None:
            out.info(f"Answers saved in {record_dir} (service.json, emulator.json; no key in them).")
    if found:
        raise typer.Exit(int(ExitCode.ERROR))


def _write_text(path: Path, text: str) -> None:
    path.write_text(text + "\n", encoding="utf-8")


def _doctor_report(settings: Any) -> dict[str, Any]:
    from qwenvid.config import explain_key_kind
    from qwenvid.config.ledger_url import masked

    kind = settings.key_kind
    return {
        "key_set": settings.has_key,
        "key_source": settings.key_source,
        "key_kind": kind,
        "key_kind_text": explain_key_kind(kind) if kind else None,
        "region": settings.region,
        "region_source": settings.region_source,
        "base_url": settings.base_url,
        "base_url_source": settings.base_url_source,
        "workspace_id": settings.workspace_id,
        "reachable": None,
        "key_accepted": None,
        "home": str(settings.home),
        "ledger": masked(settings.ledger_url) if settings.ledger_url else str(settings.ledger_path),
        "config": str(settings.config_path),
        "output_dir": str(settings.output_dir),
        "confirm_above_seconds": settings.confirm_above_seconds,
        "price_table": bool(settings.prices),
        "warnings": list(settings.warnings),
    }


def _reachable(base_url: str) -> tuple[bool, str]:
    """Can we open an HTTP connection to the service at all? Any HTTP answer counts."""
    import httpx

    from qwenvid.wire.deadlines import bounded_transport
    from qwenvid.wire.http import send_bounded

    try:
        with httpx.Client(timeout=5.0, transport=bounded_transport()) as client:
            response = send_bounded(client, "GET", base_url, budget=10.0, limit=1 << 20)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    # Any HTTP answer means the service is there; the base URL itself is no endpoint, so 404 is what it says.
    return True, f"the service answered with HTTP {response.status_code}"


def _key_accepted(session: Any) -> tuple[bool | None, str]:
    """One cheap authenticated call (the task list) tells whether the key works for this region."""
    from qwenvid.errors import AuthenticationError

    try:
        session.list_remote(page_size=1)
    except AuthenticationError as exc:
        return False, exc.message
    except QwenvidError as exc:
        return None, exc.message
    return True, "the task list answered"


def _print_doctor(out: Output, report: dict[str, Any]) -> None:
    def mark(value: bool | None) -> str:
        return {True: "ok", False: "NO", None: "?"}[value]

    key = "set" if report["key_set"] else "not set"
    lines = [
        f"API key:      {key}" + (f" (from {report['key_source']})" if report["key_source"] else ""),
    ]
    if report["key_kind"]:
        lines.append(f"Key kind:     {report['key_kind']}: {report['key_kind_text']}")
    lines += [
        f"Region:       {report['region']} (from {report['region_source']})",
        f"Workspace:    {report['workspace_id'] or 'none (the shared host of the region)'}",
        f"Base URL:     {report['base_url']} (from {report['base_url_source']})",
        *([f"Emulator:     the in-process emulator by default (from {report['emulator_default']})"]
          if report.get("emulator_default") else []),
        f"Reachable:    {mark(report['reachable'])} ({report['reach_detail']})",
    ]
    if report["key_accepted"] is not None or report.get("key_detail"):
        lines.append(f"Key accepted: {mark(report['key_accepted'])} ({report.get('key_detail', '')})")
    lines += [
        f"State folder: {report['home']}",
        f"Ledger:       {report['ledger']} ({mark(report['ledger_ok'])}: {report['ledger_detail']})",
        f"Config file:  {report['config']}",
        f"Uploads:      {report['uploads']}",
        *([f"Bucket:       {mark(report['uploads_ok'])} ({report['uploads_detail']})"]
          if report["uploads_ok"] is not None else []),
        f"Videos go to: {report['output_dir']}",
        f"Confirm above {report['confirm_above_seconds']:g} billable seconds"
        + ("; amounts from your price table" if report["price_table"] else ""),
    ]
    for line in lines:
        out.result(line)
    for warning in report["warnings"]:
        out.warning(warning)
    if not report["key_set"]:
        if report.get("wrote_env"):
            out.info(f"Next: put your key in {report['wrote_env']} (after DASHSCOPE_API_KEY=), then run doctor again.")
        else:
            out.info(
                "Next: export DASHSCOPE_API_KEY=sk-... (or `qwenvid doctor --write-env`), or try `qwenvid --emulator`."
            )
    elif report["key_kind"] == "coding-plan" or report["key_accepted"] is False:
        out.info(
            f"Next: create a standard key in the Model Studio console (API keys) for {report['region']} and set "
            "DASHSCOPE_API_KEY to it (keys are region-specific: --region or QWEN_REGION picks the region)."
        )
    elif not report["reachable"]:
        out.info("Next: check the network (or a proxy) and the base URL; `--debug` shows where the request went.")


def register(app: typer.Typer) -> None:
    app.command(epilog=MODELS_EXAMPLES)(models)
    app.command(epilog=DOCTOR_EXAMPLES)(doctor)
