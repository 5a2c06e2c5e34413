"""Pieces the bench scripts share, kept in one place so that every script measures the same way.

The scripts run as `python bench/bench_x.py`, which puts this directory first on sys.path, so
they import this module as `common`. Not a benchmark itself (bench/run runs only bench_*.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def load_harness() -> Any:
    """tests/harness.py, the way the tests start real instances (so benches match the tests)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import harness

    return harness


def join_or_terminate(process: multiprocessing.process.BaseProcess) -> None:
    """Wait a little for a helper process to leave, then terminate it: no bench leaves one."""
    process.join(5)
    if process.is_alive():
        process.terminate()
        process.join()


def postgres_cpu_seconds(pgdata: Path) -> float:
    """CPU time (user + system) of one PostgreSQL cluster: its postmaster and its children."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(entry.name) == postmaster or int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by this process and by the PostgreSQL cluster, phase by phase."""

    def __init__(self, pgdata: Path) -> None:
        self._pgdata = pgdata
        self.totals: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        own, pg = time.process_time(), postgres_cpu_seconds(self._pgdata)
        try:
            yield
        finally:
            total = self.totals.setdefault(name, [0.0, 0.0])
            total[0] += time.process_time() - own
            total[1] += postgres_cpu_seconds(self._pgdata) - pg

    def per_item_ms(self, name: str, items: int) -> tuple[float, float]:
        own, pg = self.totals.get(name, [0.0, 0.0])
        return 1000 * own / max(items, 1), 1000 * pg / max(items, 1)


class Profiles:
    """With `--profile DIR`: pyinstrument (if installed) over chosen phases, one report each.

    The sampler costs time in this process, so figures from a profiled run are not figures.
    """

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._profilers: dict[str, Any] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self._directory is None:
            yield
            return
        from pyinstrument import Profiler

        profiler = self._profilers.setdefault(name, Profiler(interval=0.001, async_mode="disabled"))
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()

    def write(self) -> None:
        if self._directory is None:
            return
        self._directory.mkdir(parents=True, exist_ok=True)
        for name, profiler in self._profilers.items():
            (self._directory / f"{name}.txt").write_text(
                profiler.output_text(unicode=False, color=False)
            )
            (self._directory / f"{name}-flat.txt").write_text(
                profiler.output_text(unicode=False, color=False, flat=True)
            )


def run_on_own_cluster(
    name: str, main: Callable[[Any, Path], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """`main(cluster, directory)` on an embedded PostgreSQL (the tests' `PostgresCluster`) in
    a temporary directory of its own, which is stopped and removed whatever happens."""
    directory = Path(tempfile.mkdtemp(prefix=f"federatie-bench-{name}-"))
    cluster = None
    try:
        cluster = load_harness().PostgresCluster(directory / "pg")
        return asyncio.run(main(cluster, directory))
    finally:
        if cluster is not None:
            cluster.stop()
        stop_leftover_postgres(directory / "pg")
        shutil.rmtree(directory, ignore_errors=True)


def stop_leftover_postgres(pgdata: Path, grace: float = 15.0) -> None:
    """Stop the cluster by its postmaster's pid if it still runs after `PostgresCluster.stop`.

    pgserver only stops a server when its own list of handle holders says this is the last
    one, and after a failed run that list can disagree; a bench must not leave it running.
    """
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        if str(pgdata) not in Path(f"/proc/{pid}/cmdline").read_text():
            return  # not our postmaster (or gone, and the pid reused)
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)


def exit_on_sigterm() -> None:
    """`timeout` and friends send SIGTERM: exit through the `finally` blocks, not around them."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def write_json(path: str | None, figures: dict[str, Any], *, sort_keys: bool = False) -> None:
    """With `--json FILE`: the figures as JSON, the file bench/run reads and merges."""
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2, sort_keys=sort_keys)
            fh.write("\n")


def print_if_verbose(figures: dict[str, Any]) -> None:
    """With BENCH_VERBOSE set: every figure, not only the summary lines."""
    if os.environ.get("BENCH_VERBOSE"):
        print(json.dumps(figures, indent=2, sort_keys=True))
