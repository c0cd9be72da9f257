#!/usr/bin/env python3
"""upkeep benchmark: fixture generation, measurement against the git floors and nvchecker, report.

Called by bench/run.sh (which builds upkeep and the nvchecker venv). For each N it:
  1. builds N upstream bare repos (one seed history shared through alternates, a unique tail per
     repo) and N local mirror repos with an upkeep.lock pin, serves the upstreams with git daemon;
  2. measures `upkeep sync --now` cold / nothing changed / 10% changed, and the floors at the same
     concurrency (git clone --mirror / git ls-remote / git fetch via xargs -P) and nvchecker;
  3. stores bench/results/nNNNN.json and regenerates bench/RESULTS.md from every stored result.

Only the Python standard library is used.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
ANALYSIS_MARK = "<!-- analysis: everything below this line is kept when the tables are regenerated -->"

SEED_TAGS = 60  # repo i gets the first 20..60 of them
COMMITS_PER_TAG = 5  # 300 seed commits
CONCURRENCY = 4

MIT = """MIT License

Copyright (c) {years} Example MCP Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def tag_name(t):
    return f"v1.{t // 10}.{t % 10}"


class FastImport:
    """Builds a git fast-import stream: in memory, or streamed straight into `git fast-import`
    when `git_dir` is given (the large upstream's stream is hundreds of MB)."""

    def __init__(self, git_dir=None):
        self.parts = []
        self.proc = None
        if git_dir is not None:
            self.proc = subprocess.Popen(
                ["git", "--git-dir", str(git_dir), "fast-import", "--quiet", "--done"],
                stdin=subprocess.PIPE)

    def _emit(self, b):
        if self.proc:
            self.proc.stdin.write(b)
        else:
            self.parts.append(b)

    def data(self, content):
        b = content if isinstance(content, bytes) else content.encode()
        self._emit(b"data %d\n" % len(b) + b + b"\n")

    def line(self, text):
        self._emit(text.encode() + b"\n")

    def commit(self, ref, mark, ts, msg, parent, files, who="Dev <dev@example.com>",
               merge=None, renames=(), deletes=()):
        self.line(f"commit {ref}")
        self.line(f"mark :{mark}")
        self.line(f"author {who} {ts} +0000")
        self.line(f"committer {who} {ts} +0000")
        self.data(msg)
        if parent:
            self.line(f"from {parent}")
        if merge:
            self.line(f"merge {merge}")
        for old, new in renames:
            self.line(f'R "{old}" "{new}"')
        for path in deletes:
            self.line(f"D {path}")
        for path, content in files:
            self.line(f"M 100644 inline {path}")
            self.data(content)

    def tag(self, name, target, ts, annotated):
        if annotated:
            self.line(f"tag {name}")
            self.line(f"from {target}")
            self.line(f"tagger Release Bot <release@example.com> {ts} +0000")
            self.data(f"Release {name}\n")
        else:
            self.line(f"reset refs/tags/{name}")
            self.line(f"from {target}")

    def run(self, git_dir=None):
        self.line("done")
        if self.proc:
            self.proc.stdin.close()
            if self.proc.wait() != 0:
                raise RuntimeError("git fast-import failed")
            return
        subprocess.run(
            ["git", "--git-dir", str(git_dir), "fast-import", "--quiet", "--done"],
            input=b"".join(self.parts),
            check=True,
        )


def git_out(*args):
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def refs_of(git_dir, prefix):
    """{refname: (objectname, peeled-or-empty)} under prefix."""
    out = git_out(
        "--git-dir", str(git_dir), "for-each-ref",
        "--format=%(objectname) %(*objectname) %(refname)", prefix,
    )
    refs = {}
    for line in out.splitlines():
        parts = line.split(" ")
        if len(parts) == 3:
            refs[parts[2]] = (parts[0], parts[1])
        else:
            refs[parts[-1]] = (parts[0], "")
    return refs


def init_bare(path, alternates=None, head="main"):
    """A bare repository written by hand: thousands of `git init` processes would dominate setup."""
    (path / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (path / "objects" / "pack").mkdir(exist_ok=True)
    (path / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (path / "refs" / "tags").mkdir(exist_ok=True)
    (path / "HEAD").write_text(f"ref: refs/heads/{head}\n")
    (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n")
    if alternates:
        (path / "objects" / "info" / "alternates").write_text(f"{alternates}\n")


def write_packed_refs(path, refs):
    lines = ["# pack-refs with: peeled fully-peeled sorted \n"]
    for name in sorted(refs):
        oid, peeled = refs[name]
        lines.append(f"{oid} {name}\n")
        if peeled:
            lines.append(f"^{peeled}\n")
    (path / "packed-refs").write_text("".join(lines))


def repo_name(i):
    return f"r{i:04d}"


def tags_for(i):
    return 20 + (i * 13) % 41


def mirror_lock(url, ref="refs/tags/v1.0.0"):
    """The mirror's pin file: upkeep.lock pinning `ref` of the upstream at `url`."""
    return (f"# The upstream release this mirror rebuilds (edited by upkeep).\n"
            f"upstream = \"{url}\"\nref = \"{ref}\"\n")


def server_toml(name, url, mirror):
    """One `[[servers]]` entry: git tags `v*`, a local mirror with a lockfile pin."""
    return (
        f'[[servers]]\nname = "{name}"\nupstream = "{url}"\n'
        f'owners = ["{name}-owners@example.com"]\n'
        f'release = {{ channel = "git-tags", tag-pattern = "^v(.+)$" }}\n\n'
        f'[servers.mirror]\nforge = "local"\nrepo = "{mirror}"\nbase = "main"\n'
        f'pin-file = "upkeep.lock"\npin-format = "lockfile"\n'
    )


def config_toml(state, servers, concurrency=CONCURRENCY, per_host=CONCURRENCY):
    """The config: state, cache and file outbox under `state`, the concurrency, the servers."""
    return (
        f'[state]\npath = "{state / "upkeep.db"}"\ncache-dir = "{state / "cache"}"\n\n'
        f'[email]\nfrom = "upkeep@example.com"\ntransport = "file"\ndir = "{state / "outbox"}"\n\n'
        f'[service]\nconcurrency = {concurrency}\nper-host-concurrency = {per_host}\n\n'
        # The bench has no internet: an advisory lookup would only time out against osv.dev.
        '[advisories]\nenabled = false\n\n'
        + "\n".join(servers)
    )


def build_fixture(work, n, port, url_base=None):
    """Upstreams under work/up, mirrors under work/mirrors, config at work/upkeep.toml. Upstream
    URLs are `<url_base>/rNNNN.git` (default `git://127.0.0.1:<port>`, the bench's git daemon)."""
    url_base = url_base or f"git://127.0.0.1:{port}"
    t0 = time.time()
    up = work / "up"
    mirrors = work / "mirrors"
    seed = work / "seed.git"
    for d in (up, mirrors, seed, work / "mirror-seed.git"):
        shutil.rmtree(d, ignore_errors=True)
    up.mkdir(parents=True)
    mirrors.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(seed)], check=True)

    # The shared history: 300 commits, 60 tags (every third annotated), one LICENSE change.
    fi = FastImport()
    ts = 1_700_000_000
    tag_commit = {}
    for c in range(SEED_TAGS * COMMITS_PER_TAG):
        files = [(f"src/mod{c % 25}.js", f"export const v = {c};\n// change {c}\n")]
        if c == 0:
            files.append(("LICENSE", MIT.format(years="2024")))
            files.append(("README.md", "# example-mcp\n\nAn MCP server.\n"))
        if c == 150:
            files.append(("LICENSE", MIT.format(years="2024-2025")))
        t, last = divmod(c, COMMITS_PER_TAG)
        if last == COMMITS_PER_TAG - 1:
            files.append(("package.json", f'{{"name": "example-mcp", "version": "{tag_name(t)[1:]}"}}\n'))
        fi.commit("refs/heads/main", c + 1, ts + c * 3600, f"change {c}\n", f":{c}" if c else None, files)
        if last == COMMITS_PER_TAG - 1:
            tag_commit[t] = c + 1
            fi.tag(tag_name(t), f":{c + 1}", ts + c * 3600 + 60, annotated=(t % 3 == 0))
    # Each repo's unique tail: 2 commits on top of its last seed tag, the second tagged.
    mark = 10_000
    for i in range(n):
        k = tags_for(i)
        name = repo_name(i)
        base = f":{tag_commit[k - 1]}"
        cts = ts + SEED_TAGS * COMMITS_PER_TAG * 3600 + i
        fi.commit(f"refs/r/{name}/heads/main", mark, cts, f"{name}: local fix\n", base,
                  [("src/unique.js", f"export const repo = '{name}';\n")])
        fi.commit(f"refs/r/{name}/heads/main", mark + 1, cts + 60, f"{name}: release\n", f":{mark}",
                  [("src/unique.js", f"export const repo = '{name}';\nexport const release = {k};\n"),
                   ("package.json", f'{{"name": "{name}", "version": "{tag_name(k)[1:]}"}}\n')])
        fi.tag(f"r/{name}/{tag_name(k)}", f":{mark + 1}", cts + 120, annotated=(i % 2 == 0))
        mark += 2
    fi.run(seed)
    # fast-import writes `tag` objects whose ref is refs/tags/<name>: move them into place below.
    seed_refs = refs_of(seed, "refs/tags")
    tails = refs_of(seed, "refs/r")
    tails.update({k: v for k, v in seed_refs.items() if k.startswith("refs/tags/r/")})
    seed_objects = (seed / "objects").resolve()

    for i in range(n):
        name = repo_name(i)
        k = tags_for(i)
        path = up / f"{name}.git"
        init_bare(path, alternates=seed_objects)
        refs = {f"refs/tags/{tag_name(t)}": seed_refs[f"refs/tags/{tag_name(t)}"] for t in range(k)}
        refs["refs/heads/main"] = tails[f"refs/r/{name}/heads/main"]
        refs[f"refs/tags/{tag_name(k)}"] = tails[f"refs/tags/r/{name}/{tag_name(k)}"]
        write_packed_refs(path, refs)

    # Mirrors: one commit each holding the pin, built in one fast-import, shared by alternates.
    mseed = work / "mirror-seed.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(mseed)], check=True)
    fi = FastImport()
    for i in range(n):
        name = repo_name(i)
        url = f"{url_base}/{name}.git"
        lock = mirror_lock(url)
        fi.commit(f"refs/m/{name}", i + 1, ts, f"Mirror pin for {name}\n", None,
                  [("upkeep.lock", lock), ("README.md", f"Rebuild of {name}.\n")],
                  who="Mirror Admin <mirror@example.com>")
    fi.run(mseed)
    mrefs = refs_of(mseed, "refs/m")
    mseed_objects = (mseed / "objects").resolve()
    for i in range(n):
        name = repo_name(i)
        path = mirrors / f"{name}.git"
        init_bare(path, alternates=mseed_objects)
        (path / "refs" / "heads" / "main").write_text(mrefs[f"refs/m/{name}"][0] + "\n")

    servers = [server_toml(repo_name(i), f"{url_base}/{repo_name(i)}.git",
                           mirrors / f"{repo_name(i)}.git") for i in range(n)]
    (work / "upkeep.toml").write_text(config_toml(work / "state", servers))

    nv = [f'[__config__]\noldver = "{work / "nv-old.json"}"\nnewver = "{work / "nv-new.json"}"\n'
          f"max_concurrency = {CONCURRENCY}\n"]
    for i in range(n):
        name = repo_name(i)
        nv.append(f'[{name}]\nsource = "git"\ngit = "{url_base}/{name}.git"\nuse_max_tag = true\n')
    (work / "nvchecker.toml").write_text("\n".join(nv))
    (work / "urls.txt").write_text("".join(f"{url_base}/{repo_name(i)}.git\n" for i in range(n)))
    log(f"fixture: {n} upstreams + {n} mirrors in {time.time() - t0:.1f}s")


def release_to_ten_percent(work, n):
    """A new commit + annotated tag v2.0.0 on every tenth upstream (i % 10 == 0)."""
    seed = work / "seed.git"
    fi = FastImport()
    ts = 1_800_000_000
    changed = [i for i in range(n) if i % 10 == 0]
    for j, i in enumerate(changed):
        name = repo_name(i)
        packed = (work / "up" / f"{name}.git" / "packed-refs").read_text()
        main = next(l.split(" ")[0] for l in packed.splitlines() if l.endswith(" refs/heads/main"))
        fi.commit(f"refs/r/{name}/heads/main", j + 1, ts + i, f"{name}: 2.0\n", main,
                  [("src/unique.js", f"export const repo = '{name}';\nexport const major = 2;\n")])
        fi.tag(f"r/{name}/v2.0.0", f":{j + 1}", ts + i + 60, annotated=True)
    fi.run(seed)
    tails = refs_of(seed, "refs/r")
    tails.update(refs_of(seed, "refs/tags/r"))
    for i in changed:
        name = repo_name(i)
        path = work / "up" / f"{name}.git"
        refs = {}
        for line in (path / "packed-refs").read_text().splitlines():
            if line.startswith("#"):
                continue
            if line.startswith("^"):
                refs[last] = (refs[last][0], line[1:])
                continue
            oid, last = line.split(" ")
            refs[last] = (oid, "")
        refs["refs/heads/main"] = tails[f"refs/r/{name}/heads/main"]
        refs["refs/tags/v2.0.0"] = tails[f"refs/tags/r/{name}/v2.0.0"]
        # Rewritten in place: nothing reads the upstreams between runs.
        write_packed_refs(path, refs)
    return len(changed)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(work, port):
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", f"--base-path={work / 'up'}", "--export-all",
         "--listen=127.0.0.1", f"--port={port}", "--max-connections=64", str(work / "up")],
        stdout=subprocess.DEVNULL, stderr=open(work / "daemon.log", "w"),
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("git daemon did not start")


def measure(cmd, work, label, env=None, stdout=None):
    """Runs cmd under /usr/bin/time; returns wall, user, sys, max RSS (KiB) and exit code."""
    tfile = work / f"time-{label}.txt"
    err = open(work / f"stderr-{label}.txt", "w")
    out = open(stdout, "w") if stdout else subprocess.DEVNULL
    rc = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(tfile), *cmd],
                        stdout=out, stderr=err, env=env).returncode
    wall, user, sys_, rss = tfile.read_text().strip().splitlines()[-1].split()
    return {"wall": float(wall), "user": float(user), "sys": float(sys_), "rss_kib": int(rss), "rc": rc}


def median_of(runs):
    """The run with the median wall time (its CPU and RSS are reported with it)."""
    ordered = sorted(runs, key=lambda r: r["wall"])
    pick = dict(ordered[len(ordered) // 2])
    pick["walls"] = [r["wall"] for r in runs]
    pick["rss_kib"] = max(r["rss_kib"] for r in runs)
    return pick


def summarize_report(path):
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        return {"error": f"no report: {e}"}
    servers = report.get("servers", [])
    statuses = {}
    for s in servers:
        statuses[s.get("status")] = statuses.get(s.get("status"), 0) + 1
    durations = sorted(s.get("duration_ms", 0) for s in servers)
    errors = [s.get("error") for s in servers if s.get("error")]
    return {
        "servers": len(servers),
        "statuses": statuses,
        "duration_ms_p50": durations[len(durations) // 2] if durations else None,
        "duration_ms_p95": durations[int(len(durations) * 0.95)] if durations else None,
        "duration_ms_max": durations[-1] if durations else None,
        "duration_ms_sum": sum(durations),
        "first_errors": errors[:3],
    }


def run_n(n, args):
    work = Path(args.work) / f"n{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    port = free_port()
    build_fixture(work, n, port)
    daemon = start_daemon(work, port)
    upkeep = [args.upkeep, "--config", str(work / "upkeep.toml"), "sync", "--now", "--json"]
    env = dict(os.environ, UPKEEP_LOG=os.environ.get("UPKEEP_LOG", "warn"))
    nvchecker = [str(Path(args.venv) / "bin" / "nvchecker"), "-c", str(work / "nvchecker.toml")]
    res = {"n": n, "concurrency": CONCURRENCY, "repeat": args.repeat}
    P = str(CONCURRENCY)
    try:
        # Warm the page cache and the daemon once so neither side pays for it.
        subprocess.run(["xargs", "-P", P, "-n", "1", "-a", str(work / "urls.txt"), "git", "ls-remote"],
                       stdout=subprocess.DEVNULL, check=True)

        # Cold: upkeep (empty cache and state) and the clone floor.
        log(f"N={n}: cold upkeep")
        res["upkeep_cold"] = measure(upkeep, work, "upkeep-cold", env, work / "report-cold.json")
        res["upkeep_cold"]["report"] = summarize_report(work / "report-cold.json")
        log(f"N={n}: cold floor (git clone --mirror)")
        (work / "floor").mkdir()
        (work / "clone-args.txt").write_text("".join(
            f"git://127.0.0.1:{port}/{repo_name(i)}.git {work / 'floor' / repo_name(i)}.git\n" for i in range(n)))
        res["floor_cold"] = measure(["xargs", "-P", P, "-n", "2", "-a", str(work / "clone-args.txt"),
                                     "git", "clone", "-q", "--mirror"], work, "floor-cold")

        # Nothing changed: repeated runs, median.
        log(f"N={n}: nothing changed x{args.repeat}")
        runs = {"upkeep": [], "floor": [], "nvchecker": []}
        for r in range(args.repeat):
            runs["upkeep"].append(measure(upkeep, work, f"upkeep-noop{r}", env, work / f"report-noop{r}.json"))
            runs["floor"].append(measure(["xargs", "-P", P, "-n", "1", "-a", str(work / "urls.txt"),
                                          "git", "ls-remote"], work, f"floor-noop{r}"))
            runs["nvchecker"].append(measure(nvchecker, work, f"nvchecker{r}"))
        res["upkeep_noop"] = median_of(runs["upkeep"])
        res["upkeep_noop"]["report"] = summarize_report(work / f"report-noop{args.repeat - 1}.json")
        res["floor_noop"] = median_of(runs["floor"])
        res["nvchecker_noop"] = median_of(runs["nvchecker"])

        # 10% changed: the same upstream state for both sides.
        changed = release_to_ten_percent(work, n)
        res["changed"] = changed
        log(f"N={n}: {changed} upstreams changed: upkeep, then git fetch floor, then nvchecker")
        res["upkeep_changed"] = measure(upkeep, work, "upkeep-changed", env, work / "report-changed.json")
        res["upkeep_changed"]["report"] = summarize_report(work / "report-changed.json")
        (work / "floor-dirs.txt").write_text("".join(f"{work / 'floor' / repo_name(i)}.git\n" for i in range(n)))
        res["floor_changed"] = measure(["xargs", "-P", P, "-I{}", "-a", str(work / "floor-dirs.txt"),
                                        "git", "-C", "{}", "fetch", "-q", "--prune"], work, "floor-changed")
        res["nvchecker_changed"] = measure(nvchecker, work, "nvchecker-changed")
    finally:
        daemon.terminate()
        daemon.wait()
    return res


def machine_info():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": sh("nproc"),
        "memory": sh("free -h | awk '/^Mem:/ {print $2 \" total, \" $7 \" available\"}'"),
        "cpu": cpu,
        "load": sh("cut -d' ' -f1-3 /proc/loadavg"),
        "kernel": platform.release(),
        "git": sh("git --version"),
        "rustc": sh("rustc --version"),
        "nvchecker": sh(f"{os.environ.get('NVCHECKER', 'nvchecker')} --version"),
        "upkeep_commit": sh(f"git -C {BENCH_DIR} rev-parse --short HEAD"),
    }


# ---------------------------------------------------------------- report

def fmt_case(u):
    return f"{u['wall']:.2f} s · {u['user'] + u['sys']:.2f} s CPU · {u['rss_kib'] / 1024:.0f} MiB"


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def table(res):
    n = res["n"]
    rows = [
        "| case | upkeep (wall · user+sys · peak RSS) | floor | upkeep / floor | nvchecker | upkeep / nvchecker | upkeep ms per server | upkeep statuses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    cases = [
        ("cold (first sync)", "upkeep_cold", "floor_cold", "git clone --mirror", None),
        ("nothing changed", "upkeep_noop", "floor_noop", "git ls-remote", "nvchecker_noop"),
        (f"10% changed ({res.get('changed', '?')} new releases)", "upkeep_changed", "floor_changed", "git fetch", "nvchecker_changed"),
    ]
    for label, uk, fk, fname, nk in cases:
        u, f = res[uk], res[fk]
        nv = res.get(nk) if nk else None
        st = u.get("report", {}).get("statuses", {})
        st_txt = ", ".join(f"{k}: {v}" for k, v in sorted(st.items(), key=lambda kv: str(kv[0])))
        if u.get("rc"):
            st_txt += f" (exit {u['rc']})"
        rows.append(
            f"| {label} | {fmt_case(u)} | {fname}: {fmt_case(f)} | {ratio(u['wall'], f['wall'])} | "
            f"{fmt_case(nv) if nv else '-'} | {ratio(u['wall'], nv['wall']) if nv else '-'} | "
            f"{u['wall'] * 1000 / n:.1f} | {st_txt} |"
        )
    return "\n".join(rows)


def targets(all_res):
    lines = []
    for res in all_res:
        n = res["n"]
        noop, ls = res["upkeep_noop"]["wall"], res["floor_noop"]["wall"]
        nv = res["nvchecker_noop"]["wall"]
        cold, clone = res["upkeep_cold"]["wall"], res["floor_cold"]["wall"]
        rss = max(res[k]["rss_kib"] for k in ("upkeep_cold", "upkeep_noop", "upkeep_changed")) / 1024
        ok = lambda b: "met" if b else "**missed**"
        lines.append(
            f"- N={n}: nothing-changed {noop / ls:.2f}x ls-remote (target <= 1.3x: {ok(noop <= 1.3 * ls)}), "
            f"{noop / nv:.2f}x nvchecker (target < 1x: {ok(noop < nv)}); cold {cold / clone:.2f}x clone "
            f"(target <= 1.3x: {ok(cold <= 1.3 * clone)}); peak RSS {rss:.0f} MiB"
            + (f" (target <= 150 MiB at 2,000: {ok(rss <= 150)})" if n >= 2000 else "")
        )
    if len(all_res) >= 2:
        lo, hi = all_res[0], all_res[-1]
        for key, name in (("upkeep_cold", "cold"), ("upkeep_noop", "nothing changed"), ("upkeep_changed", "10% changed")):
            a = lo[key]["wall"] * 1000 / lo["n"]
            b = hi[key]["wall"] * 1000 / hi["n"]
            lines.append(f"- time per server, {name}: {a:.1f} ms at N={lo['n']} -> {b:.1f} ms at N={hi['n']} "
                         f"({b / a:.2f}x; flat = within 1.3x: {'met' if b <= 1.3 * a else '**missed**'})")
    return "\n".join(lines)


def large_section(res):
    """The "Large upstream" section of RESULTS.md, from bench/results/large.json (bench/large.py)."""
    m, fx, rep = res["machine"], res["fixture"], res.get("report", {})
    cold, noop = res["upkeep_cold"], res["upkeep_noop"]
    clone, ls = res["floor_clone"], res["floor_ls_remote"]
    log_, diff = res["floor_log"], res["floor_diff"]
    both = {k: log_[k] + diff[k] for k in ("wall", "user", "sys")}
    both["rss_kib"] = max(log_["rss_kib"], diff["rss_kib"])
    rows = [
        "| case | upkeep (wall · user+sys · peak RSS) | floor | upkeep / floor (wall) |",
        "|---|---|---|---|",
        f"| cold (clone + release diff + PR) | {fmt_case(cold)} | git clone --mirror: {fmt_case(clone)} | "
        f"{ratio(cold['wall'], clone['wall'])} |",
        f"| nothing changed (median of {len(noop.get('walls', [1]))}) | {fmt_case(noop)} | "
        f"git ls-remote + git log + git diff --stat -M: {fmt_case({k: ls[k] + both[k] for k in ('wall', 'user', 'sys')} | {'rss_kib': max(ls['rss_kib'], both['rss_kib'])})} | "
        f"{ratio(noop['wall'], ls['wall'] + both['wall'])} |",
        f"| (floor parts) | | ls-remote {fmt_case(ls)}; log {fmt_case(log_)}; diff --stat -M {fmt_case(diff)} | |",
    ]
    c = rep.get("cold", {})
    w = res.get("worktree_check", {})
    lines = [
        "## Large upstream", "",
        f"Generated by `bench/run.sh --large` (bench/large.py). Raw data: `bench/results/large.json`.", "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), memory {m['memory']}, load before the run {m['load']}; "
        f"{m['date']}; {m['git']}; {m['rustc']}; upkeep at {m['upkeep_commit']}.", "",
        f"Upstream: {fx['files_at_v1_1']:,} files at v1.1.0, {fx['commits_total']:,} commits "
        f"({fx['mainline_commits']:,} mainline, {fx['merges']:,} merges), {fx['tags']} release tags, a "
        f"{fx['pack_mib']} MiB pack (fast-import {fx['generate_s']} s, repack {fx['repack_s']} s). "
        f"v1.0.0..v1.1.0: {fx['commits_in_range']:,} commits; the mirror pins v1.0.0.", "",
        "\n".join(rows), "",
        f"Floors on the bare clone: `git log --oneline v1.0.0..v1.1.0 | wc -l` = {log_.get('out')}; "
        f"`git diff --stat -M v1.0.0 v1.1.0 | tail -1` = `{diff.get('out')}`.", "",
        f"upkeep's release diff (cold run, {c.get('duration_ms')} ms in the server): {c.get('commits')} commits "
        f"({c.get('listed')} listed, {c.get('truncated')} truncated), {c.get('authors')} authors; "
        f"{c.get('files_changed')} files changed, +{c.get('insertions')} -{c.get('deletions')} "
        f"({c.get('largest_listed')} largest listed); {c.get('binary_or_large')} binary or large "
        f"({c.get('binary_listed')} listed); {c.get('renames')} renames ({c.get('renames_listed')} listed, "
        f"exact only: {c.get('renames_exact_only')}); {c.get('signals_count')} signals {c.get('signals')}; "
        f"PR {c.get('pr_action')}, body {c.get('pr_body_chars')} chars; report entry {c.get('report_kib')} KiB; "
        f"status {c.get('status')}{' error ' + str(c.get('error')) if c.get('error') else ''}.", "",
        f"No working tree: the cache dir holds {w.get('cache_entries')}, a bare repository "
        f"(`rev-parse --is-bare-repository` = {w.get('cache_is_bare')}) whose top level is {w.get('cache_repo_top')}: "
        f"{w.get('cache_files')} files, {w.get('cache_pack_mib')} MiB of pack and index, "
        f"{w.get('cache_other_kib')} KiB else; the whole state dir is {w.get('state_mib')} MiB; upstream names "
        f"found under the state dir: {w.get('upstream_names_found')}.",
    ]
    if "strace_written_dirs" in w:
        lines += ["", f"strace of a second cold sync (exit {w['strace_rc']}): files opened for writing, created or "
                  f"renamed, by directory: {w['strace_written_dirs']}; outside the state dir: "
                  f"{w['strace_outside_state'] or 'none'}; state dir afterwards {w['strace_state_mib']} MiB."]
    return "\n".join(lines) + "\n"


def write_results_md():
    all_res = []
    for p in sorted(RESULTS_DIR.glob("n*.json"), key=lambda p: int(p.stem[1:])):
        all_res.append(json.loads(p.read_text()))
    if not all_res:
        return
    kept = ""
    if RESULTS_MD.exists():
        text = RESULTS_MD.read_text()
        if ANALYSIS_MARK in text:
            kept = text.split(ANALYSIS_MARK, 1)[1]
    out = ["# upkeep benchmark results", "",
           "Generated by `bench/run.sh` (see bench/README.md for the method). Raw data: `bench/results/nNNNN.json`.",
           "Concurrency 4 on every side (upkeep `concurrency` and `per-host-concurrency`, `xargs -P 4`, "
           "nvchecker `max_concurrency`). Nothing-changed figures are the median of the repeated runs.", ""]
    for res in all_res:
        m = res["machine"]
        out += [f"## N = {res['n']}", "",
                f"Machine: {m['nproc']} cores ({m['cpu']}), memory {m['memory']}, load before the run {m['load']}; "
                f"{m['date']}; {m['git']}; {m['rustc']}; nvchecker {m['nvchecker']}; upkeep at {m['upkeep_commit']}.",
                "", table(res), ""]
        walls = res["upkeep_noop"].get("walls")
        if walls:
            out.append(f"Nothing-changed runs (wall s): upkeep {walls}, ls-remote {res['floor_noop']['walls']}, "
                       f"nvchecker {res['nvchecker_noop']['walls']}.")
        for key in ("upkeep_cold", "upkeep_noop", "upkeep_changed"):
            r = res[key].get("report", {})
            if r.get("servers"):
                out.append(f"- `{key}` per-server `duration_ms`: p50 {r['duration_ms_p50']}, p95 {r['duration_ms_p95']}, "
                           f"max {r['duration_ms_max']}, sum {r['duration_ms_sum']} (sum / wall = "
                           f"{r['duration_ms_sum'] / 1000 / res[key]['wall']:.2f} servers in flight on average)"
                           + (f"; first errors: {r['first_errors']}" if r.get("first_errors") else ""))
        out.append("")
    out += ["## Targets (issue 8)", "", targets(all_res), ""]
    large = RESULTS_DIR / "large.json"
    if large.exists():
        out += [large_section(json.loads(large.read_text()))]
    import wan  # bench/wan.py renders its own section (it imports this module)
    wan_md = wan.results_md_section()
    if wan_md:
        out += [wan_md]
    import postgres  # bench/postgres.py renders its own section (it imports this module)
    pg_md = postgres.results_md_section()
    if pg_md:
        out += [pg_md]
    out += [ANALYSIS_MARK]
    RESULTS_MD.write_text("\n".join(out) + (kept if kept else "\n"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upkeep")
    ap.add_argument("--venv", default="")
    ap.add_argument("--work")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("sizes", nargs="*", type=int)
    args = ap.parse_args()
    if not args.report_only and not (args.upkeep and args.venv and args.work):
        ap.error("--upkeep, --venv and --work are required unless --report-only")
    os.environ["NVCHECKER"] = str(Path(args.venv) / "bin" / "nvchecker")
    if not args.report_only:
        RESULTS_DIR.mkdir(exist_ok=True)
        for n in args.sizes:
            info = machine_info()
            res = run_n(n, args)
            res["machine"] = info
            (RESULTS_DIR / f"n{n}.json").write_text(json.dumps(res, indent=1) + "\n")
            write_results_md()
            print(f"\n## N = {n}\n\n{table(res)}\n", flush=True)
    write_results_md()
    print(RESULTS_MD.read_text())


if __name__ == "__main__":
    main()
