"""Answer checks the wizard's questions share: text lengths and whole numbers in a range, said in the option's words."""

from __future__ import annotations

from collections.abc import Callable

Check = Callable[[str], bool | str]

def text_check(option: str, *, max_chars: int, required: bool) -> Check:
    def check(text: str) -> bool | str:
        value = text.strip()
        if required and not value:
            return f"{option} is required (1-{max_chars} characters)"
        if len(value) > max_chars:
            return f"{option} is {len(value)} characters; at most {max_chars} are allowed"
        return True

    return check

def int_check(option: str, low: int, high: int, *, extra: tuple[int, ...] = (), optional: bool = True) -> Check:
    allowed = " or ".join([*(str(v) for v in extra), f"a whole number {low}-{high}"])

    def check(text: str) -> bool | str:
        value = text.strip()
        if not value:
            return True if optional else f"{option}: enter {allowed}"
        try:
            number = int(value)
        except ValueError:
            return f"{option} {value!r} is not allowed: enter {allowed}"
        if number in extra or low <= number <= high:
            return True
        return f"{option} {number} is not allowed: enter {allowed}"

    return check
