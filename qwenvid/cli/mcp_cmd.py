"""`qwenvid mcp` (the MCP server for agents) and `qwenvid skill` (the SKILL.md for agents that load skills)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._session import state_of

MCP_HELP = """Serve qwenvid to an AI agent over the Model Context Protocol (stdio).

Started by the agent's client (see "Using qwenvid from an agent" in the README), not by hand: it reads
MCP messages on stdin and writes them on stdout. Tools: list_models, estimate_cost, generate (every
mode; the same request again returns the task already made for it instead of paying again),
task_status, wait_for_task (progress notifications; call again while not done), fetch_video,
cancel_task, list_tasks, run_plan, plan_status, media_info, media_frame, media_concat, media_add_audio.

Spending is bounded by each call's max_seconds and, above confirm_above_seconds, by the person's own
yes, asked through the client (MCP elicitation); a client that cannot ask gets a refusal.
The API key never appears in a tool result or a log line.

With --emulator the server runs its own in-process emulator (free, no key); its tasks end with the
server. To keep tasks across server restarts, run `qwenvid emulator` and point --base-url at it."""

MCP_EXAMPLES = examples(
    "qwenvid mcp",
    "qwenvid --emulator mcp",
    "qwenvid --base-url http://127.0.0.1:8765/api/v1 mcp",
)

SKILL_EXAMPLES = examples("qwenvid skill", "qwenvid skill install skills")

skill_app = typer.Typer(
    name="skill",
    help="Print the SKILL.md that teaches an agent to use qwenvid safely (or install it into a skills folder).",
    epilog=SKILL_EXAMPLES,
    invoke_without_command=True,
    no_args_is_help=False,
)


def mcp(ctx: typer.Context) -> None:
    """Serve qwenvid to an AI agent over the Model Context Protocol (stdio)."""
    state = state_of(ctx)
    from qwenvid.mcp.server import serve  # the MCP SDK loads here, never on other commands' start-up

    serve(
        emulator=state.emulator,
        base_url=state.base_url,
        region=state.region,
        realistic=state.emulator_realistic,
        faults=state.emulator_faults,
    )


@skill_app.callback()
def skill(ctx: typer.Context) -> None:
    """Print the SKILL.md that teaches an agent to use qwenvid safely (or install it into a skills folder)."""
    if ctx.invoked_subcommand is None:
        from qwenvid.skill import skill_text

        state_of(ctx).out.result(skill_text().rstrip("\n"))


@skill_app.command(epilog=examples("qwenvid skill install skills"))
def install(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The skills folder; the skill goes into FOLDER/qwenvid/SKILL.md.")],
) -> None:
    """Write the skill into a skills folder as FOLDER/qwenvid/SKILL.md; prints the file written."""
    from qwenvid.skill import install as write_skill

    state_of(ctx).out.result(str(write_skill(folder.expanduser())))


def register(app: typer.Typer) -> None:
    app.command("mcp", help=MCP_HELP, epilog=MCP_EXAMPLES)(mcp)
    app.add_typer(skill_app, name="skill")
