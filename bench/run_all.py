"""`make bench`: every benchmark scenario on one fresh local stack, one table.

    python -m bench.run_all [--only engine,history,...] [--quick]

Each scenario measures its figure and its baseline in the same run (medians of several
runs where a scenario repeats, with the spread as a noise figure). The table goes to
stdout and the figures, machine-readable, to `bench/results/latest.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import bench_bar_replay, bench_functions
from bench.common import Child, Figure, leftover_processes
from candleflow.core.settings import default_stack_dir
from candleflow.stack import Stack, StackInfo
from candleflow.store.migrate import migrate

RESULTS = Path(__file__).resolve().parent / "results"


def ingest(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_ingest

    runs = [bench_ingest.run(info.kafka_bootstrap, lines=100_000 if quick else 300_000) for _ in range(3)]
    replay = sorted(r["replay_ticks_per_s"] for r in runs)
    bare = sorted(r["bare_ticks_per_s"] for r in runs)
    return [
        Figure("ingest", "replay --speed max", replay[1], "ticks/s", "bare aiokafka producer", bare[1],
               ">= 0.7x", replay, bare),
    ]  # fmt: skip


def engine(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_engine

    return asyncio.run(bench_engine.run(info, ticks=300_000 if quick else 1_000_000, repeats=1 if quick else 3))


def replay(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_replay

    figures: list[Figure] = asyncio.run(bench_replay.run(info, ticks=200_000 if quick else 1_000_000))
    return figures


def history(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_history

    result = bench_history.run(
        info, symbols=10, days=10 if quick else 90, requests=50 if quick else 200, rounds=1 if quick else 5
    )
    figures = []
    for countback in bench_history.COUNTBACKS:
        data = result[f"countback_{countback}"]
        for stat in ("p50", "p99"):
            target = "<= 1.5x bare SQL" if stat == "p50" else "<= 10 ms" if countback == 2000 else ""
            http, bare = data["http"], data["sql_rows"]
            figures.append(
                Figure("history", f"/udf/history countback {countback:,} {stat}", http[f"{stat}_ms"], "ms",
                       "bare SQL", bare[f"{stat}_ms"], target, runs=http[f"runs_{stat}"],
                       baseline_runs=bare[f"runs_{stat}"], higher_is_better=False,
                       note=f"endpoint query alone: {data['sql'][f'{stat}_ms']} ms; "
                            f"/udf/time: {data['http_floor'][f'{stat}_ms']} ms; "
                            f"server (middleware, mean): {data['server_mean_ms']} ms; "
                            f"through aiohttp's client: {data['http_aiohttp'][f'{stat}_ms']} ms; "
                            f"CPU waited: {data['cpu_waiting']}")
            )  # fmt: skip
    return figures


def live_latency(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_sse

    result = bench_sse.run(info, seconds=3.0 if quick else 10.0)
    base = result["kafka_round_trip"]
    figures = []
    for r in result["scenarios"]:
        stages = ", ".join(f"{s} {r['stages'][s].get('mean_ms', '-')} ms" for s in bench_sse.STAGES)
        for stat in ("p50_ms", "p99_ms"):
            figures.append(
                Figure("live latency", f"tick -> SSE client {stat[:3]}, {r['scenario']}, {r['rate_per_s']:g} ticks/s",
                       r[stat], "ms", "bare aiokafka round trip", base[stat], r["target"], higher_is_better=False,
                       note=f"served {r['served']}/{r['clients']}, RSS {r['worker_rss_mb']} MB; means: {stages}")
            )  # fmt: skip
    return figures


def scale_out(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_scale

    results = bench_scale.run(
        info, seconds=3.0 if quick else 10.0, warmup=1.0 if quick else bench_scale.WARMUP_S, quick=quick
    )
    together = {r["clients"]: r for r in results if r["web_processes"] == 0}
    figures = []
    for r in results:
        base = together.get(r["clients"]) if r["web_processes"] else None
        target = bench_scale.target(r)
        for stat in ("p50_ms", "p99_ms"):
            figures.append(
                Figure("scale-out", f"tick -> SSE client socket {stat[:3]}, {r['clients']:,} clients, {r['topology']}",
                       r[stat], "ms", "all-in-one worker, same clients" if base else "-",
                       base[stat] if base else None, target if stat == "p99_ms" else "", higher_is_better=False,
                       note=f"served {r['served']:,}/{r['clients']:,}; connections per chart process "
                            f"{r['held_per_process']}; CPU per chart process {r['cpu_per_process']} cores, "
                            f"engine {r['engine_cpu']}; RSS per chart process {r['rss_mb_per_process']} MB, "
                            f"engine {r['engine_rss_mb']} MB; {r['events_per_client_s']} bar events per client "
                            f"per s of {r['bytes_per_event']} bytes, {r['cpu_us_per_event']} CPU µs per event; "
                            f"stage means ms {r['stages_ms']}; p99 as the readers process read it "
                            f"{r['read_p99_ms']} ms; load {r['load_avg']}")
            )  # fmt: skip
    return figures


def memory(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_memory

    return asyncio.run(bench_memory.run(info, minutes=bench_memory.soak_minutes(default=2.0 if quick else 10.0)))


def access(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_access

    return bench_access.run(info, quick)


def sources(info: StackInfo, quick: bool) -> list[Figure]:
    from bench import bench_sources

    return bench_sources.run(trades=50_000 if quick else 200_000)


SCENARIOS: dict[str, Callable[[StackInfo, bool], list[Figure]]] = {
    "ingest": ingest,
    "engine": engine,
    "replay": replay,
    "history": history,
    "latency": live_latency,
    "access": access,
    "scale": scale_out,
    "memory": memory,
    "functions": bench_functions.scenario,
    "sources": sources,
    "bar_replay": lambda info, quick: list(bench_bar_replay.scenario(info, quick)),
}


def table(figures: list[Figure]) -> str:
    lines = [
        "| scenario | figure | value | baseline (same run) | ratio | spread | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        baseline = f"{f.baseline:,.1f} {f.unit} ({f.baseline_name})" if f.baseline is not None else f.baseline_name
        note = f" — {f.note}" if f.note else ""
        lines.append(
            f"| {f.scenario} | {f.figure}{note} | {f.value:,.1f} {f.unit} | {baseline} | {ratio} "
            f"| {f.spread:.0%} | {f.target} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    directory = Path(tempfile.mkdtemp(prefix="candleflow-bench-stack-"))
    directory.chmod(0o755)
    stack = Stack(directory, jar_dir=default_stack_dir() / "kafka" / "libs", quiet=True)
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    started = time.monotonic()
    try:
        info = stack.up()
        asyncio.run(migrate(info.database_url))
        for name in chosen:
            print(f"== {name}", file=sys.stderr, flush=True)
            began = time.monotonic()
            try:
                figures.extend(SCENARIOS[name](info, args.quick))
            except Exception as exc:  # one broken scenario must not hide the others
                failures[name] = f"{type(exc).__name__}: {exc}"
                print(f"   {name} failed: {failures[name]}", file=sys.stderr)
            finally:
                Child.stop_all()  # whatever a failed scenario left running
            print(f"   {name}: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    finally:
        Child.stop_all()
        stack.down()
        shutil.rmtree(directory, ignore_errors=True)
        leftovers = leftover_processes()
        if leftovers:
            failures["teardown"] = f"processes left behind (now killed): {'; '.join(leftovers)}"
    print(table(figures))
    for name, reason in failures.items():
        print(f"\n{name}: FAILED — {reason}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
                "seconds": round(time.monotonic() - started),
                "quick": args.quick,
                "figures": [f.as_dict() for f in figures],
                "failures": failures,
            },
            indent=2,
        )
    )
    print(f"\nfigures in {RESULTS / 'latest.json'}; {time.monotonic() - started:.0f} s in all")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
