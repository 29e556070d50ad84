"""`qwenvid config`: where the config file is, every setting with its source, get/set/unset one key."""

from __future__ import annotations

from typing import Annotated

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import JsonOpt
from qwenvid.cli._session import load_settings, state_of
from qwenvid.errors import ConfigError, QwenvidError

CONFIG_SUMMARY = "Show the settings and where each one comes from; get, set or unset a key of config.toml."
CONFIG_EXAMPLES = examples(
    "qwenvid config",
    "qwenvid config path",
    "qwenvid config get region",
    "qwenvid config set confirm_above_seconds 20",
    "qwenvid config set prices.currency USD",
    "qwenvid config set prices.wan2.6-t2v.720P 0.10",
    "qwenvid config unset prices.wan2.6-t2v",
)
KeyArg = Annotated[
    str,
    typer.Argument(
        help="A key: region, base_url, output_dir, confirm_above_seconds, wait_timeout, query_qps (at most 20), "
        "preview, emulator, output_name, prices.currency, prices.MODEL (or prices.default) or prices.MODEL.TIER "
        "(e.g. 720P); your own upload bucket: oss_bucket, oss_region, oss_endpoint, oss_prefix, oss_url_expires "
        "(credentials: environment or .env)."
    ),
]

config_app = typer.Typer(
    name="config",
    help=CONFIG_SUMMARY,
    epilog=CONFIG_EXAMPLES,
    invoke_without_command=True,
    no_args_is_help=False,
)


@config_app.callback()
def config(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show the settings and where each one comes from; get, set or unset a key of config.toml."""
    if ctx.invoked_subcommand is None:
        show(ctx, json_out)


@config_app.command(epilog=examples("qwenvid config path", "qwenvid config path --json"))
def path(ctx: typer.Context) -> None:
    """Print where the config file is (it may not exist yet: every key is optional)."""
    state = state_of(ctx)
    target = load_settings(state).config_path
    if state.out.json:
        state.out.result_json({"config_file": str(target), "exists": target.is_file()})
        return
    state.out.result(str(target))


@config_app.command(epilog=examples("qwenvid config show", "qwenvid config show --json"))
def show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every setting: its value in effect, where it comes from, and what it does."""
    from qwenvid.config.file import effective

    state = state_of(ctx, json_out)
    settings = load_settings(state)
    rows = effective(settings)
    if state.out.json:
        state.out.result_json(
            {"config_file": str(settings.config_path),
             "settings": [{"key": r.key, "value": r.value, "source": r.source, "about": r.about} for r in rows]}
        )  # fmt: skip
        return
    state.out.table(
        ["key", "value", "from", "about"],
        [[r.key, r.value, r.source, r.about] for r in rows],
        keep_whole={"key"},
    )
    state.out.info(f"Config file: {settings.config_path}. Precedence: flags, environment, .env, config file.")
    state.out.info('[prices]: currency = "USD", then MODEL = rate per second, or MODEL = { 720P = rate, ... }.')


@config_app.command(
    epilog=examples(
        "qwenvid config get region",
        "qwenvid config get confirm_above_seconds",
        "qwenvid config get region --json",
    )
)
def get(ctx: typer.Context, key: KeyArg) -> None:
    """Print the value in effect for one key."""
    from qwenvid.config.file import check_key, effective, price_lookup

    state = state_of(ctx)
    settings = load_settings(state)
    wanted = "[prices]" if key in ("prices", "[prices]") else key
    found = next(((row.value, row.source) for row in effective(settings) if row.key == wanted), None)
    if found is None and key.startswith(("prices.", "[prices].")):
        check_key(key)
        value = price_lookup(settings, key)
        if value is None:
            from qwenvid.suggest import did_you_mean

            known = ["prices.currency", "prices.default", *(f"prices.{name}" for name in settings.prices or {})]
            raise QwenvidError(  # exit 1, as `git config --get` of an unset key: nothing wrong, just nothing there
                f"{key} is not set{did_you_mean(key, known)}.",
                hint="`qwenvid config show` lists the prices in effect; `config set` sets one.",
            )
        found = (value, "config file")
    if found is None:
        check_key(key)  # an unknown key, with "did you mean"
        raise ConfigError(f"Unknown config key {key!r}.", hint="`qwenvid config show` lists every key.")
    value, source = found
    if state.out.json:
        state.out.result_json({"key": key, "value": value, "source": source})
        return
    state.out.result(value)


@config_app.command(
    name="set",
    epilog=examples("qwenvid config set region cn-beijing", "qwenvid config set prices.default 0.1"),
    context_settings={"ignore_unknown_options": True},  # a VALUE like -5 is a value, refused by the check
)
def set_(ctx: typer.Context, key: KeyArg, value: Annotated[str, typer.Argument(help="The new value.")]) -> None:
    """Write one key into config.toml (comments and layout are kept); a value qwenvid would refuse is not written."""
    from qwenvid.config.file import set_value

    state = state_of(ctx)
    target = load_settings(state).config_path
    set_value(target, key, value)
    if state.out.json:
        state.out.result_json({"key": key, "value": value, "config_file": str(target), "changed": True})
        return
    state.out.info(f"Set {key} = {value} in {target}.")


@config_app.command(epilog=examples("qwenvid config unset wait_timeout"))
def unset(ctx: typer.Context, key: KeyArg) -> None:
    """Remove one key from config.toml, so that its default (or another layer) applies again."""
    from qwenvid.config.file import unset_value

    state = state_of(ctx)
    target = load_settings(state).config_path
    removed = unset_value(target, key)
    if state.out.json:
        state.out.result_json({"key": key, "value": None, "config_file": str(target), "changed": removed})
    elif removed:
        state.out.info(f"Removed {key} from {target}.")
    else:
        state.out.info(f"{key} is not set in {target}; nothing changed.")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
