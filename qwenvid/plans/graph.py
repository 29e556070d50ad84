"""The dependency graph of a plan: references to unknown steps, cycles, run order, and what depends on what."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from qwenvid.plans.model import PlanSpec, Problem


def reference_problems(plan: PlanSpec) -> list[Problem]:
    """Every reference to a step the plan does not have (with a hint for repeated steps)."""
    problems: list[Problem] = []
    for step in plan.steps.values():
        if step.hidden:
            continue
        for ref in step.refs:
            if ref.step == step.id:
                problems.append(Problem(f"{ref.text} refers to the step itself", step.id))
            elif ref.step not in plan.steps:
                variants = sorted(s for s in plan.steps if s.startswith(ref.step + "-") and plan.steps[s].variant)
                hint = f" (it has variants: use one of {', '.join('@' + v for v in variants[:4])})" if variants else ""
                problems.append(Problem(f"unknown step reference {ref.text}{hint}", step.id))
    return problems


def dependencies(plan: PlanSpec) -> dict[str, set[str]]:
    return {sid: {d for d in step.depends_on if d in plan.steps and d != sid} for sid, step in plan.steps.items()}


def cycle_problems(plan: PlanSpec) -> list[Problem]:
    try:
        TopologicalSorter(dependencies(plan)).prepare()
    except CycleError as exc:
        cycle = [str(s) for s in exc.args[1]]
        visible = [s for s in cycle if not plan.steps[s].hidden] or cycle
        return [Problem(f"cycle: {' -> '.join(cycle)}", visible[0])]
    return []


def run_order(plan: PlanSpec) -> list[str]:
    """Steps in an order where every step comes after its inputs (file order among equals)."""
    position = {sid: index for index, sid in enumerate(plan.steps)}
    sorter = TopologicalSorter(dependencies(plan))
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def dependents(plan: PlanSpec, sid: str) -> set[str]:
    """Every step that needs `sid`'s output, directly or not."""
    deps = dependencies(plan)
    found: set[str] = set()
    frontier = {sid}
    while frontier:
        nxt = {s for s, needs in deps.items() if needs & frontier and s not in found}
        found |= nxt
        frontier = nxt
    return found
