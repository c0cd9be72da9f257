#!/usr/bin/env python3
"""upkeep with its state on PostgreSQL (issue 19), beside SQLite, in one session.

Called by `bench/run.sh --postgres [N ...]` (default N = 2000). For each N it:
  1. builds the bench fixture (bench.build_fixture) served by git daemon, one copy of the mirrors
     per state (each backend's runs push their own PR branches), and starts a throwaway
     PostgreSQL 15 cluster in the work directory (as the `postgres` user when run as root;
     trust auth on 127.0.0.1, a free port; pg_stat_statements loaded to count statements);
  2. measures `upkeep sync --now` cold / nothing changed (median of BENCH_REPEAT) / 10% changed
     on SQLite and on PostgreSQL (one process), and three `upkeep serve` replicas sharing one
     PostgreSQL state, each with its own cache dir (copied from a cold `sync --now`) and port,
     started afresh for every tick with the schedule set to fire once, a few seconds later; the
     tick lasts from the fire time until the three scheduled runs it started have
     finished (the `runs` table); every server must be synced by exactly one replica
     (`run_servers` rows whose status is not `skipped`);
  3. stores bench/results/pg-nNNNN.json and regenerates bench/RESULTS.md (section "State on
     PostgreSQL", rendered by results_md_section() below through bench.write_results_md).

Only the Python standard library is used.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the fixture, measurement and report helpers)

PG_BIN = Path(os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
URL_ENV = "UPKEEP_BENCH_DATABASE_URL"
REPLICAS = 3
# `[state] pool-size` of every PostgreSQL config (BENCH_PG_POOL; unset: upkeep's default, not
# written). A set size is stored as pg-nNNNN-poolP.json, so a comparison keeps both results.
POOL = os.environ.get("BENCH_PG_POOL") or None
# Seconds between starting a tick's replicas and its fire time (they start in 1-3 s).
TICK_LEAD_S = 8
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[pgbench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load():
    return Path("/proc/loadavg").read_text().split()[:3]


# ---------------------------------------------------------------- the cluster

class Cluster:
    """A throwaway PostgreSQL cluster under `root` (data dir and unix socket there)."""

    def __init__(self, root):
        self.root = root
        self.port = bench.free_port()
        self.as_postgres = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]

    def pg(self, program, *args, **kw):
        return subprocess.run([*self.as_postgres, str(PG_BIN / program), *args], check=True, **kw)

    def start(self):
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "sock").mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.root / "sock", "postgres", "postgres")
        data = self.root / "data"
        self.pg("initdb", "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8",
                "--locale=C", stdout=subprocess.DEVNULL)
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.root / 'sock'} "
                "-c shared_preload_libraries=pg_stat_statements -c max_connections=200")
        self.pg("pg_ctl", "start", "-w", "-t", "60", "-D", str(data), "-l", str(self.root / "server.log"),
                "-o", opts, stdout=subprocess.DEVNULL)
        self.pid = int((data / "postmaster.pid").read_text().split()[0])
        self.psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.version = self.psql("postgres", "SHOW server_version").strip()

    def stop(self):
        try:
            self.pg("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.root / "data"),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, OSError) as e:
            log(f"pg_ctl stop: {e}")

    def psql(self, db, sql):
        return subprocess.run(
            ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
             "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True).stdout

    def create_db(self, name):
        self.psql("postgres", f"CREATE DATABASE {name}")

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def cpu_s(self):
        """CPU seconds of the whole cluster so far: the postmaster and its live children, each
        with its reaped children (a backend that exited is in the postmaster's cutime)."""
        pids = [self.pid]
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.pid:
                        pids.append(int(p.name))
                except (OSError, IndexError, ValueError):
                    pass
        return sum(proc_cpu(pid) for pid in pids)

    def statements(self, db):
        """(statements, COMMITs) executed in `db` so far (pg_stat_statements, which counts BEGIN
        and COMMIT too; each statement is one round trip, each COMMIT one WAL flush)."""
        out = self.psql("postgres", "SELECT coalesce(sum(s.calls), 0), "
                        "coalesce(sum(s.calls) FILTER (WHERE s.query = 'COMMIT'), 0) FROM pg_stat_statements s "
                        f"JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}'")
        total, commits = out.strip().split("\t")
        return int(total), int(commits)


def proc_cpu(pid):
    """utime + stime + cutime + cstime of `pid`, in seconds (0 once it is gone)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in f[11:15]) / CLK_TCK


def proc_hwm_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_hwm(pid):
    """Reset the peak RSS of `pid` (Linux: `5` into clear_refs), so a tick reports its own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- configs

def config_for(work, mirrors, port, state_block, extra=""):
    """bench's config (email, service, advisories, servers) with its `[state]` replaced by
    `state_block`, the mirrors under `mirrors`, and `extra` sections after the state."""
    url = f"git://127.0.0.1:{port}"
    n = len(list((work / "up").iterdir()))
    servers = [bench.server_toml(bench.repo_name(i), f"{url}/{bench.repo_name(i)}.git",
                                 mirrors / f"{bench.repo_name(i)}.git") for i in range(n)]
    rest = bench.config_toml(work / "unused", servers).split("\n\n", 1)[1]
    return state_block + extra + rest


def pg_state(cache):
    pool = f"pool-size = {int(POOL)}\n" if POOL else ""
    return (f'[state]\nbackend = "postgres"\nurl-env = "{URL_ENV}"\nauto-migrate = true\n'
            f'cache-dir = "{cache}"\n{pool}\n')


def replica_config(work, port, i, listen, fire):
    cron = f"{fire.second} {fire.minute} {fire.hour} {fire.day} {fire.month} *"
    text = config_for(work, work / "mirrors-pg3", port, pg_state(work / f"cache-pg3-{i}"),
                      f'[schedule]\ncron = "{cron}"\n\n')
    text = text.replace("[service]\n", f'[service]\nlisten = "127.0.0.1:{listen}"\n', 1)
    # Each replica its own file outbox (the rows are shared; each email is claimed by one sender).
    text = text.replace(str(work / "unused" / "outbox"), str(work / f"outbox-pg3-{i}"))
    path = work / f"pg3-r{i}.toml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- one process: sync --now

def measure_sync(cluster, db, config, work, label, env):
    """bench.measure of `upkeep sync --now --json`, with the cluster's CPU and statements."""
    cpu0, st0 = (cluster.cpu_s(), cluster.statements(db)) if cluster else (0, (0, 0))
    before = load()
    report = work / f"report-{label}.json"
    r = bench.measure([ARGS.upkeep, "--config", str(config), "sync", "--now", "--json"],
                      work, label, env, report)
    r["report"] = bench.summarize_report(report)
    r["load"] = [before, load()]
    if cluster:
        r["pg_cpu"] = round(cluster.cpu_s() - cpu0, 2)
        st1 = cluster.statements(db)
        r["statements"], r["commits"] = st1[0] - st0[0], st1[1] - st0[1]
    return r


# ---------------------------------------------------------------- three replicas: serve

class Replicas:
    """Three `upkeep serve` processes on one PostgreSQL state, started afresh for each tick with
    the schedule set to fire once, a few seconds after they start. (Not one set of replicas
    re-aimed with SIGHUP: a config reload on PostgreSQL panics at c15f761, see the report.)
    Their catch-up finds nothing to do: the last fire time before the start is a year back."""

    def __init__(self, cluster, work, port, n):
        self.cluster, self.work, self.port, self.n = cluster, work, port, n
        self.procs = []

    def start(self, fire):
        listen = [bench.free_port() for _ in range(REPLICAS)]
        cfgs = [replica_config(self.work, self.port, i, listen[i], fire) for i in range(REPLICAS)]
        env = dict(os.environ, UPKEEP_LOG=os.environ.get("UPKEEP_LOG", "info"),
                   **{URL_ENV: self.cluster.url("pg3")})
        logs = [self.work / f"serve-r{i}.log" for i in range(REPLICAS)]
        seen = [f.read_text().count(" serving ") if f.exists() else 0 for f in logs]
        t0 = time.time()
        self.procs = [subprocess.Popen([ARGS.upkeep, "--config", str(cfg), "serve"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=open(f, "a"))
                      for cfg, f in zip(cfgs, logs)]
        while time.time() < fire.timestamp():
            if all(f.read_text().count(" serving ") > c for f, c in zip(logs, seen)):
                return round(time.time() - t0, 2)
            for i, p in enumerate(self.procs):
                if p.poll() is not None:
                    raise RuntimeError(f"replica {i} exited {p.returncode}: see {logs[i]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the replicas were not serving by the fire time (raise TICK_LEAD_S); see {self.work}/serve-r*.log")

    def stop(self):
        """SIGTERM each; returns their exit codes."""
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        codes = []
        for p in self.procs:
            try:
                codes.append(p.wait(timeout=60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        self.procs = []
        return codes

    def runs_since(self, since):
        out = self.cluster.psql("pg3", "SELECT id, started_at, coalesce(finished_at, ''), result FROM runs "
                                f"WHERE trigger = 'schedule' AND started_at >= '{since}' ORDER BY id")
        return [line.split("\t") for line in out.splitlines() if line]

    def tick(self, label, timeout_s=1800):
        """One scheduled fire time for all three: from it until their three runs finished."""
        fire = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                + datetime.timedelta(seconds=TICK_LEAD_S))
        startup_s = self.start(fire)
        pids = [p.pid for p in self.procs]
        hwm_reset = all(reset_hwm(pid) for pid in pids)
        cpu0 = [proc_cpu(pid) for pid in pids]
        pg0, st0 = self.cluster.cpu_s(), self.cluster.statements("pg3")
        before = load()
        since = fire.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        deadline = time.time() + TICK_LEAD_S + timeout_s
        # Done when each replica has logged the end of its run (the `runs` row alone is not
        # enough: a replica starting its run marks a sibling's run that has not beaten yet as
        # aborted, until that run finishes and overwrites it; see the report). Every result seen
        # meanwhile is kept.
        logs = [self.work / f"serve-r{i}.log" for i in range(REPLICAS)]
        offsets = [f.stat().st_size for f in logs]
        ends = ("run finished", "run failed", "run skipped", "scheduled run skipped")
        seen = {}
        runs = []
        while time.time() < deadline:
            time.sleep(0.5)
            runs = self.runs_since(since)
            for r in runs:
                seen.setdefault(r[0], [])
                if r[3] not in seen[r[0]]:
                    seen[r[0]].append(r[3])
            tails = []
            for f, off in zip(logs, offsets):
                with open(f) as fh:
                    fh.seek(off)
                    tails.append(fh.read())
            if all(any(e in t for e in ends) for t in tails):
                runs = self.runs_since(since)
                break
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"a replica exited during tick {label}: see {self.work}/serve-r*.log")
        else:
            log(f"tick {label}: timed out with {len(runs)} runs")
        cpu = [round(proc_cpu(pid) - c, 2) for pid, c in zip(pids, cpu0)]
        hwm = [proc_hwm_kib(pid) for pid in pids]
        st1 = self.cluster.statements("pg3")
        res = {"fire": since, "startup_s": startup_s, "load": [before, load()], "runs": [], "cpu": cpu,
               "rss_kib": hwm, "rss_is_tick_peak": hwm_reset,
               "pg_cpu": round(self.cluster.cpu_s() - pg0, 2),
               "statements": st1[0] - st0[0], "commits": st1[1] - st0[1]}
        fire_t = parse_ts(since)
        for rid, started, finished, result in runs:
            st = self.cluster.psql("pg3", f"SELECT status, count(*) FROM run_servers WHERE run_id = {rid} GROUP BY status")
            res["runs"].append({
                "id": int(rid), "result": result, "results_seen": seen.get(rid, []),
                "start_s": round((parse_ts(started) - fire_t).total_seconds(), 2),
                "end_s": round((parse_ts(finished) - fire_t).total_seconds(), 2) if finished else None,
                "statuses": {k: int(v) for k, v in (l.split("\t") for l in st.splitlines() if l)},
            })
        ends = [r["end_s"] for r in res["runs"] if r["end_s"] is not None]
        res["wall"] = max(ends) if ends else None
        ids = ",".join(r[0] for r in runs) or "0"
        per = self.cluster.psql("pg3", "SELECT n, count(*) FROM (SELECT server, count(*) AS n FROM run_servers "
                                f"WHERE run_id IN ({ids}) AND status <> 'skipped' GROUP BY server) x GROUP BY n")
        synced = {int(k): int(v) for k, v in (l.split("\t") for l in per.splitlines() if l)}
        res["synced_by"] = synced  # {how many replicas synced it: servers}
        res["servers_synced_once"] = synced.get(1, 0)
        res["servers_never_synced"] = self.n - sum(synced.values())
        res["servers_synced_twice_or_more"] = sum(v for k, v in synced.items() if k > 1)
        res["exit_codes"] = self.stop()
        log(f"tick {label}: {res['wall']} s, runs {[(r['start_s'], r['end_s'], r['statuses']) for r in res['runs']]}, "
            f"synced by: {synced}")
        return res


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


# ---------------------------------------------------------------- the session

def copy_tree(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def run_n(n, args):
    work = Path(args.work) / f"pg-n{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    port = bench.free_port()
    bench.build_fixture(work, n, port)
    for kind in ("pg1", "pg3"):
        copy_tree(work / "mirrors", work / f"mirrors-{kind}")
    sqlite_cfg = work / "upkeep.toml"  # bench's own: SQLite under work/state, mirrors under work/mirrors
    pg1_cfg = work / "pg1.toml"
    pg1_cfg.write_text(config_for(work, work / "mirrors-pg1", port, pg_state(work / "cache-pg1")))
    pg3_cold_cfg = work / "pg3-cold.toml"
    pg3_cold_cfg.write_text(config_for(work, work / "mirrors-pg3", port, pg_state(work / "cache-pg3-0")))
    for cfg in (pg1_cfg, pg3_cold_cfg):  # the file outbox of each state apart
        cfg.write_text(cfg.read_text().replace(str(work / "unused" / "outbox"), str(work / f"outbox-{cfg.stem}")))

    cluster = Cluster(work / "pg")
    daemon = bench.start_daemon(work, port)
    replicas = None
    env = dict(os.environ, UPKEEP_LOG=os.environ.get("UPKEEP_LOG", "warn"))
    env1 = dict(env, **{URL_ENV: cluster.url("pg1")})
    env3 = dict(env, **{URL_ENV: cluster.url("pg3")})
    res = {"n": n, "concurrency": bench.CONCURRENCY, "repeat": args.repeat, "replicas": REPLICAS,
           "pool_size": int(POOL) if POOL else None}
    try:
        cluster.start()
        cluster.create_db("pg1")
        cluster.create_db("pg3")
        res["postgres"] = cluster.version
        log(f"PostgreSQL {cluster.version} on 127.0.0.1:{cluster.port}")
        subprocess.run(["xargs", "-P", str(bench.CONCURRENCY), "-n", "1", "-a", str(work / "urls.txt"),
                        "git", "ls-remote"], stdout=subprocess.DEVNULL, check=True)

        log(f"N={n}: cold: SQLite, PostgreSQL (1 process), PostgreSQL pre-warm for the replicas")
        res["sqlite_cold"] = measure_sync(None, None, sqlite_cfg, work, "sqlite-cold", env)
        res["pg1_cold"] = measure_sync(cluster, "pg1", pg1_cfg, work, "pg1-cold", env1)
        res["pg3_cold"] = measure_sync(cluster, "pg3", pg3_cold_cfg, work, "pg3-cold", env3)
        for i in range(1, REPLICAS):
            copy_tree(work / "cache-pg3-0", work / f"cache-pg3-{i}")
        replicas = Replicas(cluster, work, port, n)

        log(f"N={n}: nothing changed x{args.repeat}, SQLite / PostgreSQL 1 process / 3 replicas in turn")
        runs = {"sqlite": [], "pg1": [], "pg3": []}
        for r in range(args.repeat):
            runs["sqlite"].append(measure_sync(None, None, sqlite_cfg, work, f"sqlite-noop{r}", env))
            runs["pg1"].append(measure_sync(cluster, "pg1", pg1_cfg, work, f"pg1-noop{r}", env1))
            runs["pg3"].append(replicas.tick(f"noop{r}"))
        res["sqlite_noop"] = bench.median_of(runs["sqlite"])
        res["pg1_noop"] = bench.median_of(runs["pg1"])
        ticks = sorted(runs["pg3"], key=lambda t: t["wall"] if t["wall"] is not None else 1e9)
        res["pg3_noop"] = dict(ticks[len(ticks) // 2], walls=[t["wall"] for t in runs["pg3"]])
        res["pg3_noop_ticks"] = runs["pg3"]

        changed = bench.release_to_ten_percent(work, n)
        res["changed"] = changed
        log(f"N={n}: {changed} upstreams changed")
        res["sqlite_changed"] = measure_sync(None, None, sqlite_cfg, work, "sqlite-changed", env)
        res["pg1_changed"] = measure_sync(cluster, "pg1", pg1_cfg, work, "pg1-changed", env1)
        res["pg3_changed"] = replicas.tick("changed")
    finally:
        if replicas:
            replicas.stop()
        cluster.stop()
        daemon.terminate()
        daemon.wait()
    return res


# ---------------------------------------------------------------- report

def fmt1(u):
    return f"{u['wall']:.2f} s · {u['user'] + u['sys']:.2f} s CPU · {u['rss_kib'] / 1024:.0f} MiB"


def statuses(st):
    return ", ".join(f"{k}: {v}" for k, v in sorted(st.items(), key=lambda kv: str(kv[0])))


def commits(r, n):
    return f"{r['commits'] / n:.1f}" if "commits" in r else "?"


def one_process_rows(res):
    n = res["n"]
    rows = ["| case | SQLite (wall · user+sys · peak RSS) | PostgreSQL, 1 process | PG / SQLite (wall) | "
            "PostgreSQL server CPU | statements (COMMITs) per server | PG statuses |",
            "|---|---|---|---|---|---|---|"]
    for label, key in (("cold (first sync)", "cold"), (f"nothing changed (median of {res['repeat']})", "noop"),
                       (f"10% changed ({res.get('changed', '?')} new releases)", "changed")):
        s, p = res[f"sqlite_{key}"], res[f"pg1_{key}"]
        st = statuses(p.get("report", {}).get("statuses", {}))
        if p.get("rc"):
            st += f" (exit {p['rc']})"
        sst = s.get("report", {}).get("statuses", {})
        rows.append(f"| {label} | {fmt1(s)} ({statuses(sst)}) | {fmt1(p)} | {bench.ratio(p['wall'], s['wall'])} | "
                    f"{p['pg_cpu']:.2f} s | {p['statements'] / n:.1f} ({commits(p, n)}) | {st} |")
    return "\n".join(rows)


def replica_rows(res):
    n = res["n"]
    rows = ["| case | tick wall (fire → last run finished) | per replica: start → end (s after fire), "
            "CPU, peak RSS, servers synced | PostgreSQL server CPU | statements (COMMITs) per server | "
            "servers synced by exactly one replica / never / twice or more |",
            "|---|---|---|---|---|---|"]
    for label, key in ((f"nothing changed (median of {res['repeat']} ticks)", "pg3_noop"),
                       (f"10% changed ({res.get('changed', '?')} new releases)", "pg3_changed")):
        t = res[key]
        per = []
        for i, r in enumerate(t["runs"]):
            synced = sum(v for k, v in r["statuses"].items() if k != "skipped")
            per.append(f"{r['start_s']:.2f} → {r['end_s'] if r['end_s'] is not None else '?'}, "
                       f"{t['cpu'][i] if i < len(t['cpu']) else '?'} s, "
                       f"{t['rss_kib'][i] / 1024 if i < len(t['rss_kib']) else 0:.0f} MiB, {synced} "
                       f"({statuses(r['statuses'])})"
                       + (f"; `runs.result` seen meanwhile: {r['results_seen']}"
                          if any(x not in ("running", r["result"]) for x in r.get("results_seen", [])) else ""))
        wall = f"{t['wall']:.2f} s" if t["wall"] is not None else "did not finish"
        if any(t.get("exit_codes", [])):
            wall += f" (replicas exited {t['exit_codes']} on SIGTERM)"
        rows.append(f"| {label} | {wall} | {'<br>'.join(per)} | {t['pg_cpu']:.2f} s | "
                    f"{t['statements'] / n:.1f} ({commits(t, n)}) | {t['servers_synced_once']} / {t['servers_never_synced']} / "
                    f"{t['servers_synced_twice_or_more']} |")
    return "\n".join(rows)


def section(res):
    m = res["machine"]
    n = res["n"]
    if "pool_size" not in res:  # measured before the pool: one connection per process
        pool = "one connection per process (before `pool-size`)"
    elif res["pool_size"]:
        pool = f"`pool-size = {res['pool_size']}`"
    else:
        pool = "upkeep's default `pool-size`"
    lines = [f"### N = {n}, {pool}", "",
             f"Machine: {m['nproc']} cores ({m['cpu']}), memory {m['memory']}, load before the run {m['load']}; "
             f"{m['date']}; PostgreSQL {res.get('postgres')}; {m['git']}; {m['rustc']}; upkeep at "
             f"{m['upkeep_commit']}.", "",
             "One process (`upkeep sync --now --json`), SQLite and PostgreSQL measured in turn in the same "
             "session, on the same upstreams:", "",
             one_process_rows(res), "",
             f"Nothing-changed runs (wall s): SQLite {res['sqlite_noop']['walls']}, PostgreSQL "
             f"{res['pg1_noop']['walls']}; the 3-replica ticks {res['pg3_noop']['walls']}.", "",
             f"{REPLICAS} `upkeep serve` replicas on one PostgreSQL state (each its own cache dir, copied from "
             "a cold `sync --now` of that state, and its own port), one scheduled fire time per tick:", "",
             replica_rows(res), ""]
    loads = [f"{k}: {res[k]['load'][0][0]} → {res[k]['load'][1][0]}"
             for k in ("sqlite_cold", "pg1_cold", "sqlite_noop", "pg1_noop", "pg3_noop",
                       "sqlite_changed", "pg1_changed", "pg3_changed") if res.get(k, {}).get("load")]
    lines += [f"1-minute load average before → after each measurement: {'; '.join(loads)}.", ""]
    c = res.get("pg3_cold")
    if c:
        lines += [f"The replicas' state was made by a cold `sync --now` on PostgreSQL too: {fmt1(c)}, "
                  f"PostgreSQL server CPU {c['pg_cpu']:.2f} s, statuses {statuses(c['report'].get('statuses', {}))}.",
                  ""]
    for key in ("sqlite_cold", "pg1_cold", "sqlite_noop", "pg1_noop", "sqlite_changed", "pg1_changed"):
        r = res[key].get("report", {})
        if r.get("first_errors"):
            lines.append(f"- `{key}` first errors: {r['first_errors']}")
    return "\n".join(lines) + "\n"


def results_md_section():
    """The "State on PostgreSQL" part of RESULTS.md from every bench/results/pg-n*.json ("" if none)."""
    found = sorted((json.loads(p.read_text()) for p in bench.RESULTS_DIR.glob("pg-n*.json")),
                   key=lambda r: (r["n"], r.get("pool_size") or 0))
    if not found:
        return ""
    out = ["## State on PostgreSQL (issue 19)", "",
           "Generated by `bench/run.sh --postgres` (bench/postgres.py). Raw data: `bench/results/pg-nNNNN.json`. "
           "The bench fixture (git daemon upstreams, local mirrors, concurrency 4 and per-host 4) with the state "
           "in SQLite and in a throwaway PostgreSQL cluster on the same machine (127.0.0.1 TCP, trust auth, "
           "default settings: fsync on, `shared_buffers` 128 MB; `pg_stat_statements` loaded to count the "
           "statements, which includes BEGIN and COMMIT). upkeep's wall, CPU and peak RSS come from "
           "`/usr/bin/time` for `sync --now` and from `/proc` for the `serve` replicas (CPU over the tick, "
           "peak RSS since the tick started: `clear_refs`); the PostgreSQL server's CPU is that of the "
           "postmaster and all its backends over the same interval, and is not in upkeep's figures. A tick "
           "lasts from the fire time to the `finished_at` of the last of the three scheduled runs it "
           "started (the `runs` table); a server counts as synced by a replica when that replica's run "
           "has a `run_servers` row for it whose status is not `skipped`.", ""]
    out += [section(r) for r in found]
    return "\n".join(out)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--upkeep", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("sizes", nargs="*", type=int)
    ARGS = ap.parse_args()
    if not (PG_BIN / "initdb").exists():
        sys.exit(f"bench: no PostgreSQL server binaries in {PG_BIN} (apt-get install -y postgresql-15, "
                 "or set BENCH_PG_BIN)")
    bench.RESULTS_DIR.mkdir(exist_ok=True)
    for n in ARGS.sizes or [2000]:
        info = bench.machine_info()
        res = run_n(n, ARGS)
        res["machine"] = info
        name = f"pg-n{n}-pool{int(POOL)}.json" if POOL else f"pg-n{n}.json"
        (bench.RESULTS_DIR / name).write_text(json.dumps(res, indent=1) + "\n")
        bench.write_results_md()
        print(section(res), flush=True)


if __name__ == "__main__":
    main()
