"""Benchmark: download a 1 GiB result from an emulator subprocess and report peak RSS and throughput.

Run it as a script (pytest does not collect `bench_*.py`):

    python tests/benchmarks/bench_download_rss.py [--bytes N] [--chunk-size N] [--limit-mb 100]

The emulator runs in its own process (its memory does not count), serving a real MP4 padded
to N bytes with a trailing `free` box (EmulatorConfig.result_padding_bytes). This process
downloads it with qwenvid.wire.download.download_video and prints ru_maxrss. Exit status 1 when the
peak resident memory reaches the limit (default 100 MB).
"""

from __future__ import annotations

import argparse
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from qwenvid.wire.download import download_video

GIB = 1 << 30
SERVE = """
import sys
from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import serve
config = EmulatorConfig(result_padding_bytes=int(sys.argv[1]), pending_seconds=0.1, running_seconds=0.2, limits=False)
try:
    serve("127.0.0.1", 0, config, log_level="warning")
except KeyboardInterrupt:
    pass
"""
BODY = {
    "model": "wan2.6-t2v",
    "input": {"prompt": "A kitten running in the moonlight"},
    "parameters": {"size": "1280*720", "duration": 5},
}


def peak_rss_mb() -> float:
    """ru_maxrss is in KiB on Linux and in bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def start_emulator(padding: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(padding)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    if not base_url.startswith("http"):
        process.terminate()
        raise SystemExit(f"the emulator did not start (first line: {base_url!r})")
    return process, base_url


def finished_video_url(base_url: str, timeout: float = 600.0) -> str:
    headers = {"Authorization": "Bearer sk-bench-0123456789", "X-DashScope-Async": "enable"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as api:
        answer = api.post("/services/aigc/video-generation/video-synthesis", json=BODY)
        answer.raise_for_status()
        task_id = answer.json()["output"]["task_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = api.get(f"/tasks/{task_id}").json()["output"]
            if output["task_status"] == "SUCCEEDED":
                return str(output["video_url"])
            if output["task_status"] in ("FAILED", "CANCELED", "UNKNOWN"):
                raise SystemExit(f"the emulator task ended {output['task_status']}: {output}")
            time.sleep(0.5)
    raise SystemExit("the emulator task did not finish in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=GIB, help="size of the served result (default 1 GiB)")
    parser.add_argument("--chunk-size", type=int, default=1 << 20, help="download_video chunk_size (default 1 MiB)")
    parser.add_argument("--limit-mb", type=float, default=100.0, help="fail when peak RSS reaches this (MB)")
    args = parser.parse_args()

    process, base_url = start_emulator(args.bytes)
    try:
        url = finished_video_url(base_url)
        baseline = peak_rss_mb()
        with tempfile.TemporaryDirectory(prefix="qwenvid-bench-") as folder, httpx.Client(timeout=60.0) as http:
            started = time.perf_counter()
            result = download_video(url, Path(folder), http=http, name_hint="bench", chunk_size=args.chunk_size)
            elapsed = time.perf_counter() - started
            size = result.path.stat().st_size
    finally:
        # SIGINT, not SIGTERM: uvicorn re-raises the signal it caught, and only KeyboardInterrupt
        # lets serve() remove its results folder (with the 1 GiB file) on the way out.
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)

    peak = peak_rss_mb()
    ok = size == args.bytes and peak < args.limit_mb
    print(f"downloaded   {size:,} bytes in {elapsed:.2f} s ({size / elapsed / (1 << 20):.0f} MiB/s)")
    print(f"sha256       {result.sha256}")
    print(f"probe        {result.probe.width}x{result.probe.height}, {result.probe.duration} s")
    print(f"peak RSS     {peak:.1f} MB (before the download: {baseline:.1f} MB; limit {args.limit_mb:g} MB)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
