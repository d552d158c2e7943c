"""wrk runs and the rows they make, for bench/serving.py: one row per endpoint and connection
count, its parse from wrk's report, the table, and the median of several rounds."""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass
class Result:  # pylint: disable=too-many-instance-attributes  # one row of the table
    name: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    limit: str = ""
    ratio: float | None = None  # to `limit`, a row of this table
    fastapi: float | None = None  # to the matching FastAPI limit (hello or rows)
    starlette: float | None = None  # to the matching Starlette limit (hello or page)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]
    return float(number) * factor


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    return rps, p50, p99, *failures(output)


def failures(output: str) -> tuple[int, int]:
    """(socket errors of every kind, non-2xx answers) from wrk's report."""
    errors = 0
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors = sum(int(n) for n in found.groups())
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    return errors, non_2xx


def wrk(
    url: str,
    *,
    connections: int,
    duration: int,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[float, float, float, int, int]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    if script:
        command += ["-s", str(script)]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration + 60
    )
    return parse_wrk(done.stdout)


def lua_post(path: Path, body: str, content_type: str, token: str | None = None) -> Path:
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [[{body}]]",
        f'wrk.headers["Content-Type"] = "{content_type}"',
    ]
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def lua_post_rotating(path: Path, body: str, tokens: list[str]) -> Path:
    """A JSON POST whose bearer token goes round `tokens`, one per request."""
    listed = ", ".join(f'"{token}"' for token in tokens)
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = [[{body}]]\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local tokens = {{{listed}}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n"
        '  wrk.headers["Authorization"] = "Bearer " .. tokens[n % #tokens + 1]\n'
        "  return wrk.format()\nend\n"
    )
    return path


def print_table(results: list[Result]) -> None:
    header = (
        f"{'endpoint':40} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'non-2xx':>7} {'xFastAPI':>8} {'xStarl.':>8}  ratio"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.ratio:.2f} x {r.limit}" if r.ratio is not None else ""
        fastapi = f"{r.fastapi:.2f}" if r.fastapi is not None else ""
        starlette = f"{r.starlette:.2f}" if r.starlette is not None else ""
        print(
            f"{r.name:40} {r.connections:5d} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} "
            f"{r.errors:6d} {r.non_2xx:7d} {fastapi:>8} {starlette:>8}  {ratio}"
        )


def combine(rounds: list[list[Result]]) -> list[Result]:
    """One row per endpoint from several rounds of the same rows: the round with the median
    req/s (its latencies with it), errors and non-2xx summed over all rounds, and each ratio
    the median of the ratios within each round (a service row against the limit measured
    moments before it, so a drift of the machine between rounds cancels out)."""
    combined = []
    for same in zip(*rounds, strict=True):
        middle = sorted(same, key=lambda r: r.rps)[len(same) // 2]
        row = replace(
            middle,
            errors=sum(r.errors for r in same),
            non_2xx=sum(r.non_2xx for r in same),
        )
        for attribute in ("ratio", "fastapi", "starlette"):
            values = [v for r in same if (v := getattr(r, attribute)) is not None]
            setattr(row, attribute, statistics.median(values) if values else None)
        combined.append(row)
    return combined
