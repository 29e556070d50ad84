"""One time zone for every time qwenvid shows or writes: UTC, labelled (the server speaks UTC+8 without a zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

# DashScope task times ("2025-09-29 14:18:52.331") are Beijing wall-clock time with no zone (dashscope-api.md §3.2).
SERVER_TIMEZONE = timezone(timedelta(hours=8))


def as_utc(value: object) -> datetime | None:
    """A time from anywhere (server string, ledger ISO string, datetime, epoch ms) as an aware UTC datetime."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / 1000.0, UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000.0, UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A zone-less string is the server's (ours always carry +00:00).
    return (moment if moment.tzinfo else moment.replace(tzinfo=SERVER_TIMEZONE)).astimezone(UTC)


def iso_utc(value: object) -> str | None:
    """For JSON and sidecars: ISO 8601 in UTC with its offset ("2026-01-31T06:18:52.331+00:00")."""
    moment = as_utc(value)
    return moment.isoformat(timespec="milliseconds") if moment else (None if value in (None, "") else str(value))


def shown(value: object, *, label: bool = True) -> str:
    """For people: "2026-01-31 06:18:52 UTC" (or '-' when there is no time); `label=False` for a table
    column whose header says "(UTC)"."""
    moment = as_utc(value)
    if moment is None:
        return "-" if value in (None, "") else str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if label else "%Y-%m-%d %H:%M:%S")


# Ledger fields that hold the server's own (zone-less UTC+8) times; every other time there is UTC already.
SERVER_TIME_FIELDS = ("submit_time", "end_time")


def with_utc_times(row: dict[str, object]) -> dict[str, object]:
    """A ledger row's dict with the server's times in UTC, like every other time qwenvid prints."""
    return {key: iso_utc(value) if key in SERVER_TIME_FIELDS else value for key, value in row.items()}


# Test-only: seconds added to this machine's wall clock, to play a client whose clock is wrong (a skew
# test runs real processes against the emulator; faketime cannot be used). Read here and nowhere else.
CLOCK_SKEW_ENV = "QWENVID_TEST_CLOCK_SKEW"


def wall_now() -> datetime:
    """This machine's wall clock in UTC: every time qwenvid writes or compares with the service's."""
    import os

    skew = os.environ.get(CLOCK_SKEW_ENV)
    now = datetime.now(UTC)
    if skew:
        try:
            now += timedelta(seconds=float(skew))
        except ValueError:
            pass
    return now
