#!/usr/bin/env bash
# The whole test suite (`cargo test --locked`) several times in a row while CPU-bound loops
# occupy every core: proof that no test depends on how fast the machine is. Any failure fails
# the script; a failed test is never re-run (a retry would hide exactly what this looks for).
#
#   tests/under-load.sh            # 3 runs, one busy loop per core
#   RUNS=5 HOGS=8 tests/under-load.sh
#
# The suite is compiled first, without the extra load, so the runs measure the tests. Each
# run's full output is kept in target/under-load/run-N.log.
set -euo pipefail

cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
hogs="${HOGS:-$(nproc)}"
logs=target/under-load
mkdir -p "$logs"

hog_pids=()
stop_hogs() {
    if ((${#hog_pids[@]})); then
        kill "${hog_pids[@]}" 2>/dev/null || true
        wait "${hog_pids[@]}" 2>/dev/null || true
    fi
    hog_pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM

echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

start=$(date +%s)
cargo test --locked --no-run >"$logs/build.log" 2>&1 || {
    tail -n 30 "$logs/build.log"
    echo "under-load: the suite does not build" >&2
    exit 1
}
echo "build: $(($(date +%s) - start)) s (without extra load)"

for _ in $(seq "$hogs"); do
    sh -c 'while :; do :; done' &
    hog_pids+=("$!")
done
echo "started $hogs busy loops (pids ${hog_pids[*]})"

failed=0
summary=()
for n in $(seq "$runs"); do
    log="$logs/run-$n.log"
    start=$(date +%s)
    if cargo test --locked --no-fail-fast >"$log" 2>&1; then
        result=passed
    else
        result=FAILED
        failed=1
    fi
    secs=$(($(date +%s) - start))
    passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$log")
    failures=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
    line="run $n: $result in ${secs} s ($passed passed, $failures failed; load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "$line"
    summary+=("$line")
    if [[ $result == FAILED ]]; then
        grep -E '^test .* FAILED$|panicked at|^error' "$log" | head -n 40 || true
        echo "  full output: $log"
    fi
done
stop_hogs

echo
echo "summary ($runs runs of cargo test --locked, $hogs busy loops on $(nproc) cores):"
printf '  %s\n' "${summary[@]}"
if ((failed)); then
    echo "under-load: FAILED" >&2
    exit 1
fi
echo "under-load: every run passed"
