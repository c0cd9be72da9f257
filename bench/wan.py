#!/usr/bin/env python3
"""upkeep over a wide-area network (issue 23): the bench fixture served through a latency proxy.

Called by `bench/run.sh --wan [N ...]`. For each transport (git:// and https://) and each N it:
  1. builds the bench fixture (bench.build_fixture) with upstream URLs on the proxy;
  2. serves it: `bench/latency_proxy.py` (DELAY each way, default 25 ms) in front of git daemon
     (one `--inetd` daemon per connection) or in front of `bench/git_http_server.py` (git
     http-backend, HTTPS with a test CA made with the openssl CLI);
  3. measures cold, nothing changed and 10% changed: upkeep at its shipped defaults and at higher
     concurrency, against `git clone --mirror` / `git ls-remote` / `git fetch` loops (xargs -P, best
     of several -P) and nvchecker (best of several max_concurrency);
  4. stores bench/results/wan-<transport>-nNNNN.json and regenerates bench/RESULTS.md.

Only the Python standard library is used.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the fixture, measurement and report helpers)

BENCH_DIR = bench.BENCH_DIR
RESULTS_DIR = bench.RESULTS_DIR
# [service] concurrency and per-host-concurrency `git` as shipped (src/config/service.rs); the
# shipped config is written without a [service] section, so it runs on the real defaults.
SHIPPED = (32, 16)
# The shipped defaults, the defaults before issue 23, and more.
UPKEEP_SETTINGS = [SHIPPED, (4, 2), (64, 64)]


def _env_list(name, default):
    """A comma-separated override of a list of settings (to fit a run in the time there is)."""
    raw = os.environ.get(name, "")
    return [int(x) for x in raw.split(",") if x.strip()] or default


FLOOR_P = _env_list("BENCH_WAN_FLOOR_P", [4, 8, 16, 32, 64])
CLONE_P = _env_list("BENCH_WAN_CLONE_P", [4, 8, 16])
NV_CONCURRENCY = _env_list("BENCH_WAN_NV", [4, 8, 16, 32, 64])


def _env_settings():
    """`BENCH_WAN_UPKEEP=32/16,64/64`: upkeep's settings (concurrency/per-host); shipped is always run."""
    raw = [x.strip() for x in os.environ.get("BENCH_WAN_UPKEEP", "").split(",") if x.strip()]
    chosen = [tuple(int(v) for v in x.split("/")) for x in raw] or UPKEEP_SETTINGS
    return [SHIPPED] + [c for c in chosen if c != SHIPPED]


# `BENCH_WAN_CASES=noop`: only nothing changed (upkeep's cold run still makes its state, but the
# clone floors and the 10% case are skipped), for sizes where the whole set takes too long.
CASES = set(os.environ.get("BENCH_WAN_CASES", "cold,noop,changed").split(","))
# `BENCH_WAN_PEER_REPEAT=1`: fewer nothing-changed repeats for the floors and nvchecker than for
# upkeep (over https at N = 2,000 one floor run takes minutes).
PEER_REPEAT = int(os.environ.get("BENCH_WAN_PEER_REPEAT", "0"))


def log(msg):
    bench.log(f"wan: {msg}")


def make_ca(work):
    """A test CA and a certificate for 127.0.0.1 signed by it (openssl CLI)."""
    tls = work / "tls"
    tls.mkdir(exist_ok=True)
    ca_key, ca, key, csr, cert = (tls / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = tls / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    quiet = dict(check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", ca_key, "-out", ca, "-subj", "/CN=upkeep bench CA"], **quiet)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=127.0.0.1"], **quiet)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext], **quiet)
    return ca, cert, key


def wait_listening(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def serve(kind, work, proxy_port, delay_ms, tls):
    """Starts the server and the proxy in front of it; returns the processes."""
    py = sys.executable
    procs = []
    proxy = [py, str(BENCH_DIR / "latency_proxy.py"), "--listen", str(proxy_port),
             "--delay-ms", str(delay_ms), "--stats", str(work / "proxy-stats.json")]
    if kind == "git":
        proxy += ["--git-daemon-inetd", str(work / "up")]
    else:
        http_port = bench.free_port()
        ca, cert, key = tls
        server = subprocess.Popen([py, str(BENCH_DIR / "git_http_server.py"), "--root", str(work / "up"),
                                   "--port", str(http_port), "--cert", str(cert), "--key", str(key)],
                                  stderr=open(work / "http-server.log", "w"))
        procs.append(server)
        wait_listening(http_port, server, "git_http_server.py")
        proxy += ["--connect", f"127.0.0.1:{http_port}"]
    p = subprocess.Popen(proxy, stderr=open(work / "proxy.log", "w"))
    procs.append(p)
    wait_listening(proxy_port, p, "latency_proxy.py")
    return procs


def proxy_snapshot(proxy, stats):
    """The proxy's counters now (it writes them on SIGUSR1), or {} if it does not answer."""
    stats.unlink(missing_ok=True)
    proxy.send_signal(signal.SIGUSR1)
    for _ in range(200):
        try:
            return json.loads(stats.read_text())
        except (OSError, ValueError):
            time.sleep(0.02)
    return {}


def server_cpu(procs):
    """CPU seconds (user + sys) the serving side has used so far: the proxy and the HTTP server,
    with their waited-for children (every git daemon, upload-pack and http-backend)."""
    total = 0
    for p in procs:
        try:
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime (proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def one_minute_load():
    return float(Path("/proc/loadavg").read_text().split()[0])


def stop(procs):
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def snapshot(src, dst):
    """A real copy of `src` at `dst` (state files are changed in place, so no hard links).
    `cp -a` rather than shutil.copytree: at N = 2,000 the mirrors and clones are ~100,000 small
    files, which copytree took ~10 minutes to copy on the bench machine."""
    shutil.rmtree(dst, ignore_errors=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], check=True)


def settings_label(c, h):
    return f"{c}/{h}"


def xargs(p, args_file, per, *cmd):
    return ["xargs", "-P", str(p), "-n", str(per), "-a", str(args_file), *cmd]


def run(kind, n, args):
    work = Path(args.work) / f"wan-{kind}-n{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    proxy_port = bench.free_port()
    scheme = "git" if kind == "git" else "https"
    base = f"{scheme}://127.0.0.1:{proxy_port}"
    bench.build_fixture(work, n, proxy_port, url_base=base)
    servers_toml = (work / "upkeep.toml").read_text().split("[[servers]]", 1)[1]
    configs = {}
    for c, h in _env_settings():
        path = work / f"upkeep-{c}-{h}.toml"
        text = bench.config_toml(work / "state", [], c, h)
        if (c, h) == SHIPPED:
            # Only the [service] section goes; the rest ([advisories] off: this machine has no
            # internet, and osv.dev would only time out) stays as in every other setting.
            head, tail = text.split("[service]", 1)
            text = head + tail.split("\n\n", 1)[1]
        text += "[[servers]]" + servers_toml
        path.write_text(text)
        configs[settings_label(c, h)] = path
    nv_text = (work / "nvchecker.toml").read_text()
    nv_configs = {}
    for c in NV_CONCURRENCY:
        path = work / f"nvchecker-{c}.toml"
        path.write_text(nv_text.replace(f"max_concurrency = {bench.CONCURRENCY}\n", f"max_concurrency = {c}\n", 1))
        nv_configs[c] = path

    env = dict(os.environ, UPKEEP_LOG=os.environ.get("UPKEEP_LOG", "warn"))
    tls = None
    if kind == "https":
        tls = make_ca(work)
        # libgit2 (OpenSSL) and the git CLI (curl) trust the test CA; nothing else is served here.
        env.update(SSL_CERT_FILE=str(tls[0]), GIT_SSL_CAINFO=str(tls[0]))
    procs = serve(kind, work, proxy_port, args.delay_ms, tls)
    urls = work / "urls.txt"
    nvchecker = str(Path(args.venv) / "bin" / "nvchecker")
    res = {"transport": kind, "n": n, "delay_ms": args.delay_ms, "repeat": args.repeat,
           "shipped": settings_label(*SHIPPED)}

    stats_file = work / "proxy-stats.json"

    def m(cmd, label, stdout=None):
        """One measurement, with the load before it and the connections it opened through the proxy."""
        load = one_minute_load()
        before = proxy_snapshot(procs[-1], stats_file)
        cpu_before = server_cpu(procs)
        r = bench.measure(cmd, work, label, env, stdout)
        r["server_cpu"] = round(server_cpu(procs) - cpu_before, 2)
        after = proxy_snapshot(procs[-1], stats_file)
        r["load_before"] = load
        if before and after:
            r["proxy"] = {"connections": after["connections"] - before["connections"],
                          "peak_open": after["peak_open"],
                          "bytes_down": after["bytes_down"] - before["bytes_down"]}
        return r

    def upkeep(setting):
        return [args.upkeep, "--config", str(configs[setting]), "sync", "--now", "--json"]

    shipped = settings_label(*SHIPPED)
    try:
        log(f"{kind} N={n}: warm-up ls-remote")
        subprocess.run(xargs(8, urls, 1, "git", "ls-remote"), stdout=subprocess.DEVNULL, check=True, env=env)

        # Cold: upkeep at its shipped defaults from an empty state; the clone floor at each -P.
        log(f"{kind} N={n}: cold upkeep ({shipped})")
        cold = {"upkeep": m(upkeep(shipped), "upkeep-cold", work / "report-cold.json")}
        cold["upkeep"]["report"] = bench.summarize_report(work / "report-cold.json")
        cold["floor"] = {}
        for p in (CLONE_P if "cold" in CASES else []):
            floor = work / f"floor-{p}"
            floor.mkdir()
            (work / f"clone-args-{p}.txt").write_text("".join(
                f"{base}/{bench.repo_name(i)}.git {floor / bench.repo_name(i)}.git\n" for i in range(n)))
            log(f"{kind} N={n}: cold floor, git clone --mirror -P {p}")
            cold["floor"][p] = m(xargs(p, work / f"clone-args-{p}.txt", 2, "git", "clone", "-q", "--mirror"),
                                 f"floor-cold-{p}")
        res["cold"] = cold

        # Nothing changed: every side at every setting, median of the repeats.
        noop = {"upkeep": {}, "floor": {}, "nvchecker": {}}
        for setting in configs:
            log(f"{kind} N={n}: nothing changed, upkeep {setting} x{args.repeat}")
            runs = [m(upkeep(setting), f"upkeep-noop-{setting.replace('/', '-')}-{r}",
                      work / f"report-noop-{setting.replace('/', '-')}.json") for r in range(args.repeat)]
            noop["upkeep"][setting] = bench.median_of(runs)
            noop["upkeep"][setting]["report"] = bench.summarize_report(
                work / f"report-noop-{setting.replace('/', '-')}.json")
        peer_repeat = PEER_REPEAT or args.repeat
        for p in FLOOR_P:
            log(f"{kind} N={n}: nothing changed, ls-remote -P {p} x{peer_repeat}")
            noop["floor"][p] = bench.median_of(
                [m(xargs(p, urls, 1, "git", "ls-remote"), f"floor-noop-{p}-{r}") for r in range(peer_repeat)])
        for c in NV_CONCURRENCY:
            log(f"{kind} N={n}: nothing changed, nvchecker {c} x{peer_repeat}")
            noop["nvchecker"][c] = bench.median_of(
                [m([nvchecker, "-c", str(nv_configs[c])], f"nvchecker-noop-{c}-{r}") for r in range(peer_repeat)])
        res["noop"] = noop

        if "changed" in CASES:
            res["changed_upstreams"], res["changed"] = measure_changed(work, n, configs, cold, m, upkeep,
                                                                       nvchecker, nv_configs)
    finally:
        stop(procs)
    res["load_after"] = bench.machine_info()["load"]
    try:
        res["proxy"] = json.loads((work / "proxy-stats.json").read_text())
    except (OSError, ValueError):
        res["proxy"] = {}
    return res


def measure_changed(work, n, configs, cold, m, upkeep, nvchecker, nv_configs):
    """10% changed: the same upstream state for every side; each side's own state is restored
    before each of its settings, so every run sees the same change. Returns (releases, results).
    upkeep's mirrors are restored with its state: a run pushes its PR branches there, and the next
    setting would otherwise find branches its state does not know (and refuse to overwrite them)."""
    changed = bench.release_to_ten_percent(work, n)
    snapshot(work / "state", work / "state-before-change")
    snapshot(work / "mirrors", work / "mirrors-before-change")
    best_clone = min(cold["floor"], key=lambda p: cold["floor"][p]["wall"])
    snapshot(work / f"floor-{best_clone}", work / "floor-before-change")
    (work / "floor-dirs.txt").write_text("".join(
        f"{work / 'floor' / bench.repo_name(i)}.git\n" for i in range(n)))
    ch = {"upkeep": {}, "floor": {}, "nvchecker": {}}
    for setting in configs:
        snapshot(work / "state-before-change", work / "state")
        snapshot(work / "mirrors-before-change", work / "mirrors")
        log(f"N={n}: 10% changed, upkeep {setting}")
        label = f"upkeep-changed-{setting.replace('/', '-')}"
        ch["upkeep"][setting] = m(upkeep(setting), label, work / f"report-{label}.json")
        ch["upkeep"][setting]["report"] = bench.summarize_report(work / f"report-{label}.json")
    for p in FLOOR_P:
        snapshot(work / "floor-before-change", work / "floor")
        log(f"N={n}: 10% changed, git fetch -P {p}")
        ch["floor"][p] = m(["xargs", "-P", str(p), "-I{}", "-a", str(work / "floor-dirs.txt"),
                            "git", "-C", "{}", "fetch", "-q", "--prune"], f"floor-changed-{p}")
    for c in NV_CONCURRENCY:
        log(f"N={n}: 10% changed, nvchecker {c}")
        ch["nvchecker"][c] = m([nvchecker, "-c", str(nv_configs[c])], f"nvchecker-changed-{c}")
    return changed, ch


# ---------------------------------------------------------------- report

def best(side):
    """(key, measurement) of the fastest setting of one side, among the runs where no server
    failed (a failed server costs less than a synced one)."""
    clean = {k: v for k, v in side.items() if not v.get("report", {}).get("statuses", {}).get("failed")}
    key = min(clean or side, key=lambda k: side[k]["wall"])
    return key, side[key]


def fmt(u):
    return f"{u['wall']:.2f} s ({u['user'] + u['sys']:.2f} s CPU)"


def conns(u):
    """The connections a measurement opened through the proxy, and the most open at once."""
    pr = u.get("proxy")
    text = f"{pr['connections']} conn (peak {pr['peak_open']} open)" if pr else "conn ?"
    return text + (f", server {u['server_cpu']:.2f} s CPU" if "server_cpu" in u else "")


def setting_line(label, side, prefix=""):
    def failed(v):
        n = v.get("report", {}).get("statuses", {}).get("failed")
        return f" ({n} failed: not counted)" if n else ""
    return f"{label} " + ", ".join(
        f"{prefix}{k}: {v['wall']:.2f}" + (f" {v['walls']}" if len(v.get("walls", [])) > 1 else "") + failed(v)
        for k, v in side.items())


def section(res):
    n, kind, shipped = res["n"], res["transport"], res["shipped"]
    scheme = "git://, git daemon" if kind == "git" else "https://, git http-backend, TLS 1.3, HTTP/1.1"
    m = res["machine"]
    lines = [
        f"### {kind}, N = {n}, {res['delay_ms']:g} ms each way",
        "",
        f"Upstreams over {scheme}, through bench/latency_proxy.py. Machine: {m['nproc']} cores "
        f"({m['cpu']}), load before the run {m['load']}, after it {res.get('load_after', '?')}; {m['date']}; {m['git']}; nvchecker "
        f"{m['nvchecker']}; upkeep at {m['upkeep_commit']}. Proxy, whole run: {res.get('proxy', {})}.",
        "",
        "| case | upkeep, shipped defaults (" + shipped + ") | upkeep, best setting | floor, best -P | "
        "nvchecker, best concurrency | shipped / floor | shipped / nvchecker | best / floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    noop, ch, cold = res["noop"], res.get("changed"), res["cold"]
    rows = [("nothing changed", noop, "git ls-remote")]
    if ch:
        rows.append((f"10% changed ({res['changed_upstreams']} new releases)", ch, "git fetch"))
    for label, case, floor_name in rows:
        s = case["upkeep"][shipped]
        bk, b = best(case["upkeep"])
        fk, f = best(case["floor"])
        nk, nv = best(case["nvchecker"])
        lines.append(
            f"| {label} | {fmt(s)} | {bk}: {fmt(b)} | {floor_name} -P {fk}: {fmt(f)} | {nk}: {fmt(nv)} | "
            f"{bench.ratio(s['wall'], f['wall'])} | {bench.ratio(s['wall'], nv['wall'])} | "
            f"{bench.ratio(b['wall'], f['wall'])} |")
    u = cold["upkeep"]
    if cold["floor"]:
        fk, f = best(cold["floor"])
        lines.append(f"| cold | {fmt(u)} | - | git clone --mirror -P {fk}: {fmt(f)} | - | "
                     f"{bench.ratio(u['wall'], f['wall'])} | - | - |")
    else:
        lines.append(f"| cold (makes the state; no floor run at this size) | {fmt(u)} | - | - | - | - | - | - |")
    lines += ["", "Every setting (wall s; nothing changed: the median, then every repeat):", ""]
    for label, case in (("nothing changed", noop), ("10% changed", ch)):
        if case:
            lines.append(f"- {label}: " + "; ".join([
                setting_line("upkeep", case["upkeep"]), setting_line("floor", case["floor"], "-P "),
                setting_line("nvchecker", case["nvchecker"])]))
    if cold["floor"]:
        lines.append("- cold: " + setting_line("git clone --mirror", cold["floor"], "-P "))
    lines += ["", f"Connections through the proxy (N = {n}; each is a TCP handshake, and over https a TLS one), "
              "and the serving side's CPU during the measurement (the proxy, git daemon and upload-pack, or "
              "the HTTP server and http-backend):", ""]
    for label, case in (("cold", {"upkeep": {shipped: u}, "floor": cold["floor"]}), ("nothing changed", noop),
                        ("10% changed", ch)):
        if case:
            parts = [f"upkeep {k}: {conns(v)}" for k, v in case["upkeep"].items()]
            parts += [f"floor -P {k}: {conns(v)}" for k, v in case["floor"].items()]
            parts += [f"nvchecker {k}: {conns(v)}" for k, v in case.get("nvchecker", {}).items()]
            lines.append(f"- {label}: " + "; ".join(parts))
    lines.append("")
    for case_label, case in (("cold", {shipped: u}), ("nothing changed", noop["upkeep"]),
                             ("10% changed", ch["upkeep"] if ch else {})):
        for setting, v in case.items():
            r = v.get("report", {})
            if r.get("servers"):
                lines.append(f"- upkeep {setting} {case_label}: {v['user'] + v['sys']:.2f} s CPU, 1-min load before "
                             f"{v.get('load_before', '?')}; per-server `duration_ms` p50 {r['duration_ms_p50']}, "
                             f"p95 {r['duration_ms_p95']}, max {r['duration_ms_max']}; statuses {r['statuses']}"
                             + (f"; first errors {r['first_errors']}" if r.get("first_errors") else ""))
    return "\n".join(lines) + "\n"


def results_md_section():
    """The "WAN" part of RESULTS.md from every stored bench/results/wan-*.json ("" if none)."""
    found = []
    for p in RESULTS_DIR.glob("wan-*.json"):
        res = json.loads(p.read_text())
        found.append(((res["transport"], res["n"]), res))
    if not found:
        return ""
    out = ["## Over a WAN (issue 23)", "",
           "Generated by `bench/run.sh --wan` (bench/wan.py). Raw data: `bench/results/wan-<transport>-nNNNN.json`. "
           "Upstreams behind bench/latency_proxy.py (one-way delay each direction, plus one round trip "
           "for each new connection's handshake). upkeep runs at its shipped `[service]` defaults and at "
           "other `concurrency`/`per-host-concurrency` (the defaults before issue 23 were 4/2); the floors "
           "(`xargs -P`) and nvchecker (`max_concurrency`) at the settings listed under each table. "
           "Best = the fastest setting of that side.", ""]
    for _, res in sorted(found, key=lambda x: (x[0][0], x[0][1])):
        out.append(section(res))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upkeep", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--transport", choices=["git", "https", "both"], default="both")
    ap.add_argument("sizes", nargs="*", type=int)
    args = ap.parse_args()
    os.environ["NVCHECKER"] = str(Path(args.venv) / "bin" / "nvchecker")
    kinds = ["git", "https"] if args.transport == "both" else [args.transport]
    RESULTS_DIR.mkdir(exist_ok=True)
    for n in args.sizes or [200]:
        for kind in kinds:
            info = bench.machine_info()
            res = run(kind, n, args)
            res["machine"] = info
            (RESULTS_DIR / f"wan-{kind}-n{n}.json").write_text(json.dumps(res, indent=1) + "\n")
            bench.write_results_md()
            print(section(res), flush=True)


if __name__ == "__main__":
    main()
