#!/usr/bin/env bash
# upkeep benchmark: one command. Usage: bench/run.sh [N ...]   (default: 100 500 2000)
#                                   or: bench/run.sh --large [--reuse]   (one 100k-file, 50k-commit upstream)
#                                   or: bench/run.sh --wan [N ...]       (through a latency proxy; default 200)
#                                   or: bench/run.sh --postgres [N ...]  (state on PostgreSQL, 1 and 3 replicas; default 2000)
# Builds upkeep (release), installs nvchecker into a venv, then runs bench/bench.py for each N:
# fixture generation, git daemon, upkeep sync --now (cold / nothing changed / 10% changed) against
# the git floors and nvchecker, and regenerates bench/RESULTS.md.
# Environment: CARGO_TARGET_DIR (default target/), BENCH_WORK (default $CARGO_TARGET_DIR/bench-work),
# BENCH_REPEAT (nothing-changed repetitions, default 3), BENCH_VENV (default $CARGO_TARGET_DIR/bench-venv),
# BENCH_PG_BIN (--postgres: the PostgreSQL server binaries, default /usr/lib/postgresql/15/bin),
# BENCH_PG_POOL (--postgres: [state] pool-size of every PostgreSQL config; default: upkeep's).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
work="${BENCH_WORK:-$target/bench-work}"
venv="${BENCH_VENV:-$target/bench-venv}"
large=0
wan=0
postgres=0
if [ "${1:-}" = "--large" ]; then
  large=1
  shift
elif [ "${1:-}" = "--wan" ]; then
  wan=1
  shift
elif [ "${1:-}" = "--postgres" ]; then
  postgres=1
  shift
fi
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then
  if [ "$wan" = 1 ]; then sizes=(200); elif [ "$postgres" = 1 ]; then sizes=(2000); else sizes=(100 500 2000); fi
fi

for tool in git python3 xargs; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done
[ -x /usr/lib/git-core/git-daemon ] || git daemon --help >/dev/null 2>&1 || { echo "bench: git daemon is required" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then
  echo "bench: installing GNU time" >&2
  apt-get install -y -q time >/dev/null
fi

echo "bench: cargo build --release" >&2
cargo build --release --locked -q
bin="$target/release/upkeep"

if [ "$large" = 1 ]; then
  # No peer here: the floors are git itself. Extra arguments (--reuse) go to bench/large.py.
  mkdir -p "$work"
  exec python3 "$root/bench/large.py" --upkeep "$bin" --work "$work" --repeat "${BENCH_REPEAT:-3}" "$@"
fi

if [ "$postgres" = 1 ]; then
  # No peer here: SQLite is the comparison. psql polls the runs of the serve replicas.
  pg_bin="${BENCH_PG_BIN:-/usr/lib/postgresql/15/bin}"
  [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ] || { echo "bench: --postgres needs the PostgreSQL 15 server binaries in $pg_bin (apt-get install -y postgresql-15, or set BENCH_PG_BIN)" >&2; exit 1; }
  command -v psql >/dev/null || { echo "bench: --postgres needs psql" >&2; exit 1; }
  if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null && id postgres >/dev/null 2>&1 || { echo "bench: as root, --postgres runs PostgreSQL as the postgres user with setpriv" >&2; exit 1; }
  fi
  mkdir -p "$work"
  exec python3 "$root/bench/postgres.py" --upkeep "$bin" --work "$work" --repeat "${BENCH_REPEAT:-3}" "${sizes[@]}"
fi

if [ ! -x "$venv/bin/nvchecker" ]; then
  echo "bench: installing nvchecker into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q nvchecker
fi

mkdir -p "$work"
if [ "$wan" = 1 ]; then
  # Upstreams behind a latency proxy (BENCH_DELAY_MS each way, default 25) over git:// and https://
  # (BENCH_TRANSPORT: git, https or both); default N = 200.
  command -v openssl >/dev/null || { echo "bench: openssl is required for --wan (the test CA)" >&2; exit 1; }
  exec python3 "$root/bench/wan.py" --upkeep "$bin" --venv "$venv" --work "$work" \
    --repeat "${BENCH_REPEAT:-3}" --delay-ms "${BENCH_DELAY_MS:-25}" --transport "${BENCH_TRANSPORT:-both}" "${sizes[@]}"
fi
exec python3 "$root/bench/bench.py" --upkeep "$bin" --venv "$venv" --work "$work" \
  --repeat "${BENCH_REPEAT:-3}" "${sizes[@]}"
