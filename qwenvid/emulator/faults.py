"""Fault injection for the emulator: a tiny spec language and a thread-safe plan of armed faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from qwenvid.errors import ValidationError

# Request kinds a fault can target.
TARGETS = ("submit", "query", "list", "cancel", "upload", "policy", "download", "chat", "story")
ANY = "any"

FAULT_HELP = """\
Fault specs (repeat --fault; each fault fires COUNT times, default 1; '*' = every time):

  throttle:TARGET[:COUNT[:RETRY_AFTER]]   429 Throttling.RateQuota with a Retry-After header (default 1 s);
                                          upload/download answer like OSS: 503 SlowDown
  5xx:TARGET[:COUNT]                      500 InternalError (no task is created by a failed submit)
  503:TARGET[:COUNT]                      503 ServiceUnavailable
  5xx-after-create[:COUNT]                submit creates the task, then answers 500 (ambiguous outcome)
  slow:TARGET:SECONDS[:COUNT]             answer SECONDS late (real time), e.g. slow:query:2.5;
                                          a slow submit waits before it reads the body (no task yet)
  late-after-create:SECONDS[:COUNT]       submit creates the task, then answers SECONDS late (real time):
                                          past the client's read timeout it is an ambiguous outcome
  drop-before-create[:COUNT]              submit: headers sent, then the connection drops; no task exists
  drop-after-create[:COUNT]               submit: the task is created, then the connection drops
  drop:TARGET[:COUNT]                     any request: headers sent, then the connection drops
  truncate:download[:COUNT]               a result download sends about half of its body, then drops
  fail:CODE[:COUNT]                       the next task(s) end FAILED with CODE after running,
                                          e.g. fail:DataInspectionFailed, fail:InternalError.Algo
  reject:CODE[:COUNT]                     submit is refused at once with HTTP 400 and CODE
                                          (e.g. reject:DataInspectionFailed = input moderation)
  expire:SECONDS                          task TTL and result-URL TTL become SECONDS (default 24 h)
  expire:task:SECONDS | expire:url:SECONDS  only one of the two

TARGET is one of: submit, query, list, cancel, upload (the OSS form post), policy (getPolicy),
download (result files), chat (chat completions), story (speech and text-to-image), or any.
In prompts and story text, [[emu:inspect]], [[emu:429]] and [[emu:500]] make the chat, speech and
image endpoints refuse (moderation, throttling, server error).
Examples: --fault throttle:submit:2  --fault 5xx:query:3  --fault fail:DataInspectionFailed:1
"""

KINDS = (
    "throttle",
    "5xx",
    "503",
    "5xx-after-create",
    "slow",
    "drop",
    "drop-before-create",
    "drop-after-create",
    "late-after-create",
    "truncate",
    "fail",
    "reject",
    "expire",
)


@dataclass(frozen=True)
class Fault:
    """One armed fault. `count` None = fires every time."""

    kind: str
    target: str = ANY
    count: int | None = 1
    seconds: float | None = None  # slow: delay; throttle: Retry-After; expire: TTL
    code: str | None = None  # fail / reject: the DashScope code
    scope: str | None = None  # expire: "task", "url" or None for both

    def matches(self, kind: str, target: str) -> bool:
        return self.kind == kind and self.target in (target, ANY)


def _bad(spec: str, why: str) -> ValidationError:
    return ValidationError(f"bad fault spec {spec!r}: {why}", field="fault", value=spec, allowed=FAULT_HELP)


def _count(spec: str, text: str | None) -> int | None:
    if text is None or text == "":
        return 1
    if text in ("*", "always", "inf"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise _bad(spec, f"COUNT must be a whole number or '*', not {text!r}") from None
    if value < 1:
        raise _bad(spec, "COUNT must be at least 1")
    return value


def _seconds(spec: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(spec, f"SECONDS must be a number, not {text!r}") from None
    if value < 0:
        raise _bad(spec, "SECONDS cannot be negative")
    return value


def _target(spec: str, text: str) -> str:
    if text not in (*TARGETS, ANY):
        raise _bad(spec, f"unknown target {text!r}; use one of {', '.join((*TARGETS, ANY))}")
    return text


def parse_fault(spec: str) -> Fault:
    """Parse one spec such as 'throttle:submit:2' (see FAULT_HELP); raises ValidationError."""
    parts = [part.strip() for part in spec.strip().split(":")]
    kind, args = parts[0].lower(), parts[1:]
    if kind not in KINDS:
        raise _bad(spec, f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
    if kind in ("5xx-after-create", "drop-before-create", "drop-after-create"):
        _arity(spec, args, 0, 1)
        return Fault(kind, "submit", _count(spec, _get(args, 0)))
    if kind in ("throttle", "5xx", "503", "drop", "truncate"):
        _arity(spec, args, 1 if kind != "truncate" else 0, 3 if kind == "throttle" else 2)
        target = _target(spec, _get(args, 0) or "download")
        retry_after = _seconds(spec, args[2]) if kind == "throttle" and len(args) > 2 else None
        return Fault(kind, target, _count(spec, _get(args, 1)), seconds=retry_after)
    if kind == "late-after-create":
        _arity(spec, args, 1, 2)
        return Fault(kind, "submit", _count(spec, _get(args, 1)), seconds=_seconds(spec, args[0]))
    if kind == "slow":
        _arity(spec, args, 2, 3)
        return Fault(kind, _target(spec, args[0]), _count(spec, _get(args, 2)), seconds=_seconds(spec, args[1]))
    if kind in ("fail", "reject"):
        _arity(spec, args, 1, 2)
        if not args[0]:
            raise _bad(spec, "CODE is required, e.g. DataInspectionFailed")
        return Fault(kind, "submit", _count(spec, _get(args, 1)), code=args[0])
    # expire
    _arity(spec, args, 1, 2)
    if len(args) == 2:
        if args[0] not in ("task", "url"):
            raise _bad(spec, "expire takes 'task' or 'url' before SECONDS")
        return Fault(kind, count=None, seconds=_seconds(spec, args[1]), scope=args[0])
    return Fault(kind, count=None, seconds=_seconds(spec, args[0]))


def _get(args: list[str], index: int) -> str | None:
    return args[index] if len(args) > index else None


def _arity(spec: str, args: list[str], least: int, most: int) -> None:
    if not least <= len(args) <= most:
        raise _bad(spec, "wrong number of ':' fields; see the fault list in the emulator help")


class FaultPlan:
    """The armed faults; `take()` consumes one firing of the first fault that matches."""

    def __init__(self, faults: list[Fault] | tuple[Fault, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults)

    def arm(self, fault: Fault | str) -> Fault:
        parsed = parse_fault(fault) if isinstance(fault, str) else fault
        with self._lock:
            self._faults.append(parsed)
        return parsed

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, kind: str, target: str = ANY) -> Fault | None:
        """The first armed fault of `kind` for `target`, counting one use of it; None if none is armed."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if not fault.matches(kind, target):
                    continue
                if fault.count is not None:
                    if fault.count <= 1:
                        del self._faults[index]
                    else:
                        self._faults[index] = replace(fault, count=fault.count - 1)
                return fault
        return None

    def expiry(self, scope: str) -> float | None:
        """The TTL an `expire` fault sets for 'task' or 'url' (the latest armed wins), if any."""
        with self._lock:
            for fault in reversed(self._faults):
                if fault.kind == "expire" and fault.scope in (None, scope):
                    return fault.seconds
        return None


def describe(fault: Fault) -> dict[str, object]:
    """A JSON-friendly view of an armed fault (for the control endpoint)."""
    return {
        "kind": fault.kind,
        "target": fault.target,
        "count": fault.count,
        "seconds": fault.seconds,
        "code": fault.code,
        "scope": fault.scope,
    }
