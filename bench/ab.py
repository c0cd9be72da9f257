#!/usr/bin/env python3
"""A/B: two upkeep binaries on one fixture, runs interleaved (issue 13's criterion: "no slower
than bench/RESULTS.md, within noise; re-run both binaries on the same fixture").

    python3 bench/ab.py --a /path/to/upkeep-A --b /path/to/upkeep-B --work DIR [--n 500] [--repeat 3]

One fixture (bench.py's: N upstreams behind one git daemon, N local mirrors), one config per side
(the same text, each with its own state directory), concurrency 4 and per-host 4 as in
RESULTS.md. Cases, each repeated, A and B alternating and the order flipped every repeat (AB, BA,
AB, ...) so neither side always runs second on a warmer machine:
- cold: empty state, every server cloned and a PR opened;
- nothing changed: after cold;
- 10% changed: a new release on every tenth upstream; each side's state is restored to its
  nothing-changed copy before each run, so every run sees the same change.
The load average is read before every run. Results: bench/results/ab-nNNNN.json and the
"A/B" section of bench/RESULTS.md (replaced, other sections kept).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

AB_MARK_START = "<!-- ab:start -->"
AB_MARK_END = "<!-- ab:end -->"


def load():
    return Path("/proc/loadavg").read_text().split()[:3]


def side_config(work, side):
    """Each side gets its own state and its own copy of the mirrors: a PR one side opens must not
    turn the other side's cold run into an update."""
    text = (work / "upkeep.toml").read_text()
    state = work / f"state-{side}"
    text = text.replace(str(work / "state"), str(state))
    mirrors = work / f"mirrors-{side}"
    shutil.copytree(work / "mirrors", mirrors, symlinks=True)
    text = text.replace(str(work / "mirrors") + "/", str(mirrors) + "/")
    if side == "b" and os.environ.get("AB_B_EXTRA"):
        text += "\n" + os.environ["AB_B_EXTRA"] + "\n"
    path = work / f"upkeep-{side}.toml"
    path.write_text(text)
    return path, state


def order(r):
    return ["a", "b"] if r % 2 == 0 else ["b", "a"]


def run(args):
    n = args.n
    work = Path(args.work) / f"ab-n{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    port = bench.free_port()
    bench.build_fixture(work, n, port)
    daemon = bench.start_daemon(work, port)
    env = dict(os.environ, UPKEEP_LOG=os.environ.get("UPKEEP_LOG", "warn"))
    bins = {"a": args.a, "b": args.b}
    cfg = {side: side_config(work, side) for side in bins}
    runs = {case: {"a": [], "b": []} for case in ("cold", "noop", "changed")}

    def one(case, side, r):
        path, state = cfg[side]
        before = load()
        label = f"{case}-{side}-{r}"
        m = bench.measure([bins[side], "--config", str(path), "sync", "--now", "--json"],
                          work, label, env, work / f"report-{label}.json")
        m["load_before"] = before
        m["report"] = bench.summarize_report(work / f"report-{label}.json")
        runs[case][side].append(m)
        bench.log(f"ab: {label}: {m['wall']:.2f} s (load {' '.join(before)}) {m['report'].get('statuses')}")

    try:
        subprocess.run(["xargs", "-P", "4", "-n", "1", "-a", str(work / "urls.txt"), "git", "ls-remote"],
                       stdout=subprocess.DEVNULL, check=True)
        for r in range(args.repeat):
            for side in order(r):
                shutil.rmtree(cfg[side][1], ignore_errors=True)
                # A fresh copy of the mirrors too: a cold run must not meet its own earlier PRs.
                shutil.rmtree(work / f"mirrors-{side}")
                shutil.copytree(work / "mirrors", work / f"mirrors-{side}", symlinks=True)
                one("cold", side, r)
        for r in range(args.repeat):
            for side in order(r):
                one("noop", side, r)
        for side in bins:
            bench.log(f"ab: saving {side}'s nothing-changed state")
            shutil.copytree(cfg[side][1], work / f"saved-{side}", symlinks=True)
            shutil.copytree(work / f"mirrors-{side}", work / f"saved-mirrors-{side}", symlinks=True)
        changed = bench.release_to_ten_percent(work, n)
        for r in range(args.repeat):
            for side in order(r):
                shutil.rmtree(cfg[side][1])
                shutil.copytree(work / f"saved-{side}", cfg[side][1], symlinks=True)
                # The mirrors too: an earlier repeat's PR update must not meet the restored state.
                shutil.rmtree(work / f"mirrors-{side}")
                shutil.copytree(work / f"saved-mirrors-{side}", work / f"mirrors-{side}", symlinks=True)
                one("changed", side, r)
    finally:
        daemon.terminate()
        daemon.wait()
    return {"n": n, "repeat": args.repeat, "changed_upstreams": changed, "a": args.a_label,
            "b": args.b_label, "machine": bench.machine_info(), "runs": runs}


def section(res):
    mi = res["machine"]
    lines = [AB_MARK_START, f"## A/B at N = {res['n']} (issue 13)", "",
             f"Generated by `bench/ab.py` (raw data: `bench/results/ab-n{res['n']}.json`). "
             f"A = {res['a']}, B = {res['b']}, both release builds of the same toolchain, on one fixture "
             f"(bench.py's, {res['n']} upstreams behind one git daemon), concurrency 4 and per-host 4 as "
             f"above, runs interleaved (A B, then B A, ...). Machine: {mi['nproc']} cores ({mi['cpu']}), "
             f"memory {mi['memory']}; {mi['date']}; {mi['git']}; {mi['rustc']}. The machine is shared "
             "with other engineers' builds: the load average before each run is listed.", "",
             "| case | A median (runs) | B median (runs) | B / A (median) | load before each run (1-min avg), A; B |",
             "|---|---|---|---|---|"]
    names = {"cold": "cold (first sync)", "noop": "nothing changed",
             "changed": f"10% changed ({res['changed_upstreams']} new releases)"}
    for case, label in names.items():
        a, b = res["runs"][case]["a"], res["runs"][case]["b"]
        ma = statistics.median(x["wall"] for x in a)
        mb = statistics.median(x["wall"] for x in b)
        fmt = lambda xs: ", ".join(f"{x['wall']:.2f}" for x in xs)  # noqa: E731
        ld = lambda xs: ", ".join(x["load_before"][0] for x in xs)  # noqa: E731
        lines.append(f"| {label} | {ma:.2f} s ({fmt(a)}) | {mb:.2f} s ({fmt(b)}) | {mb / ma:.2f}x | "
                     f"{ld(a)}; {ld(b)} |")
    statuses = {case: {s: res["runs"][case][s][-1]["report"].get("statuses") for s in ("a", "b")}
                for case in names}
    lines += ["", f"Statuses of the last run of each (A, B): {json.dumps(statuses)}.", AB_MARK_END]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--a-label", default="A")
    p.add_argument("--b-label", default="B")
    p.add_argument("--work", required=True)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    res = run(args)
    out = bench.RESULTS_DIR / f"ab-n{args.n}.json"
    out.write_text(json.dumps(res, indent=1))
    md = bench.RESULTS_MD.read_text()
    new = section(res)
    if AB_MARK_START in md:
        head, rest = md.split(AB_MARK_START, 1)
        md = head + new + rest.split(AB_MARK_END, 1)[1]
    else:
        md = md.rstrip("\n") + "\n\n" + new + "\n"
    bench.RESULTS_MD.write_text(md)
    print(new)


if __name__ == "__main__":
    main()
