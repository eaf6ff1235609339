"""``python -m bench [NAME ...]``: run every benchmark, or the ones named.

Each benchmark prints a table and writes ``bench/results/<name>.json``.
The orchestrator pins itself (and the python clients it runs) to the load
core; servers run on the server core (see ``bench/README.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from bench.common import RESULTS_DIR, WORK_DIR, conditions, pin_self_to_load_core, two_cores

BENCHMARKS = ("connect", "idle_memory", "fanout", "order_latency", "order_rate", "replay",
              "strategies", "login_flood", "plain_ws", "market_day", "churn", "cluster",
              "kis_feed", "failover", "market_sim")


def _runner(name: str) -> Callable[[], Coroutine[Any, Any, dict[str, Any]]]:
    module = importlib.import_module(f"bench.{name}")
    run: Callable[[], Coroutine[Any, Any, dict[str, Any]]] = module.run
    return run


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--clean", action="store_true",
                        help="delete bench/results/work (databases, server logs) at the end")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)

    # SIGTERM unwinds like Ctrl-C, so every server and load generator is stopped
    signal.signal(signal.SIGTERM, _interrupt)
    pin_self_to_load_core()
    if not two_cores():
        print("warning: fewer than 2 cores or no taskset: servers and load share cores")
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    print(f"bench: {', '.join(names)}  conditions: {conditions()}", flush=True)

    failed: list[str] = []
    timings: dict[str, float] = {}
    t_all = time.monotonic()
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        t0 = time.monotonic()
        try:
            asyncio.run(_runner(name)())
        except Exception:
            traceback.print_exc()
            failed.append(name)
        timings[name] = time.monotonic() - t0
        print(f"  ({name} took {timings[name]:.1f} s)", flush=True)
    total = time.monotonic() - t_all
    print(f"\nbench: done in {total:.1f} s "
          f"({', '.join(f'{n} {t:.0f}s' for n, t in timings.items())}); "
          f"results in {RESULTS_DIR.relative_to(RESULTS_DIR.parent.parent)}/")
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}")
    if args.clean:
        shutil.rmtree(WORK_DIR, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
