#!/usr/bin/env bash
# Smoke test of the container image: builds deploy/Dockerfile, then runs the image the way
# deploy/README.md and the Kubernetes Deployment do (non-root, read-only root filesystem, no
# capabilities, state on a volume) against a real local upstream and mirror, and checks:
#   - `--version` and `check` work; the process runs as uid 10001; CA certificates are present;
#   - `serve` starts, the image's own HEALTHCHECK reports healthy (and unhealthy when nothing
#     answers on its port); /healthz, /readyz, /metrics answer on the published port;
#   - POST /sync refuses a missing token and runs with the right one; the run opens the rebuild
#     PR (the bot branch lands in the mirror) and its state lands on the volume;
#   - SIGHUP keeps the service up; `docker stop` (SIGTERM) exits 0;
#   - a new container on the same volume sees the recorded run (`status --json`).
#
#   deploy/docker-smoke.sh                         # from the repository root; builds upkeep:smoke
#   UPKEEP_IMAGE=upkeep:1.2 UPKEEP_SMOKE_BUILD=0 deploy/docker-smoke.sh   # test an existing image
#
# Needs a local Docker engine (the config file is bind-mounted), git and curl. Leaves nothing
# behind: its container and volumes are removed on exit.
set -euo pipefail

IMAGE=${UPKEEP_IMAGE:-upkeep:smoke}
BUILD=${UPKEEP_SMOKE_BUILD:-1}
id=upkeep-smoke-$$
state=$id-state
fixture=$id-fixture
# upkeep refuses service secrets shorter than 32 characters.
token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
read_token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
tmp=$(mktemp -d)

step() { printf '\n== %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    if docker inspect "$id" >/dev/null 2>&1; then
        printf -- '--- container log\n' >&2
        docker logs "$id" 2>&1 | tail -n 40 >&2
    fi
    exit 1
}
cleanup() {
    docker rm -f "$id" "$id-sick" >/dev/null 2>&1 || true
    docker volume rm "$state" "$fixture" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Poll `$@` once a second until it succeeds, for at most $1 seconds.
wait_until() {
    local limit=$1
    shift
    for _ in $(seq "$limit"); do
        if "$@"; then return 0; fi
        sleep 1
    done
    return 1
}
health() { docker inspect -f '{{.State.Health.Status}}' "$1"; }
is_health() { [ "$(health "$1")" = "$2" ]; }

cd "$(dirname "$0")/.."

if [ "$BUILD" = 1 ]; then
    step "build $IMAGE"
    docker build -f deploy/Dockerfile -t "$IMAGE" .
fi

step "image metadata"
[ "$(docker inspect -f '{{.Config.User}}' "$IMAGE")" = "10001:10001" ] || fail "image user is not 10001:10001"
docker inspect -f '{{json .Config.Volumes}}' "$IMAGE" | grep -q '"/var/lib/upkeep"' || fail "no /var/lib/upkeep volume"
docker inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE" | grep -q '/healthz' || fail "no HEALTHCHECK on /healthz"
echo ok

step "upkeep --version"
version=$(docker run --rm "$IMAGE" --version)
want=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
[ "$version" = "upkeep $want" ] || fail "--version printed '$version', want 'upkeep $want'"
echo "$version"

step "runs as uid 10001, not root"
uid=$(docker run --rm --entrypoint id "$IMAGE" -u)
[ "$uid" = 10001 ] || fail "runs as uid $uid"
echo "uid $uid"

step "CA certificates"
# Debian's bundle holds well over 100 roots; libgit2 (OpenSSL) and the HTTP client read it.
certs=$(docker run --rm --entrypoint grep "$IMAGE" -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt)
[ "$certs" -gt 100 ] || fail "only $certs CA certificates in /etc/ssl/certs/ca-certificates.crt"
echo "$certs certificates"

step "fixture: a local upstream (v1.0.0, v1.1.0) and a mirror pinned at v1.0.0"
g() { git -c user.name=Smoke -c user.email=smoke@example.org -c init.defaultBranch=main "$@"; }
up=/srv/upstream.git
mkdir -p "$tmp/srv" "$tmp/work"
g init -q "$tmp/work/up"
printf 'MIT License\n\nCopyright (c) 2025 Smoke Test\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software, to deal in the Software without restriction.\n' >"$tmp/work/up/LICENSE"
for v in 1.0.0 1.1.0; do
    echo "$v" >"$tmp/work/up/README.md"
    g -C "$tmp/work/up" add -A
    g -C "$tmp/work/up" commit -qm "release $v"
    g -C "$tmp/work/up" tag "v$v"
done
g clone -q --bare "$tmp/work/up" "$tmp/srv/upstream.git"
g init -q "$tmp/work/mirror"
printf 'upstream = "file://%s"\nref = "refs/tags/v1.0.0"\n' "$up" >"$tmp/work/mirror/upkeep.lock"
g -C "$tmp/work/mirror" add -A
g -C "$tmp/work/mirror" commit -qm "pin the upstream"
g clone -q --bare "$tmp/work/mirror" "$tmp/srv/mirror.git"
# Into a volume owned by uid 10001 (libgit2 refuses repositories owned by another user).
docker volume create "$fixture" >/dev/null
tar -C "$tmp/srv" --owner=10001 --group=10001 --numeric-owner -cf - . |
    docker run --rm -i --user 0 -v "$fixture:/srv" --entrypoint tar "$IMAGE" -xf - -C /srv

# The schedule never fires during the test (1 January): runs come from POST /sync only.
cat >"$tmp/upkeep.toml" <<EOF
[state]
path = "/var/lib/upkeep/upkeep.db"
cache-dir = "/var/lib/upkeep/cache"

[schedule]
cron = "0 0 1 1 *"
timezone = "UTC"

[email]
from = "upkeep@example.com"
transport = "file"
dir = "/var/lib/upkeep/outbox"

[service]
listen = "0.0.0.0:9187"
sync-token-env = "UPKEEP_SYNC_TOKEN"
read-token-env = "UPKEEP_READ_TOKEN"
grace-period = "10s"

[[servers]]
name = "smoke"
upstream = "file://$up"
owners = ["smoke-owners@example.com"]
release = { channel = "git-tags", tag-pattern = "^v(.+)$" }

[servers.mirror]
forge = "local"
repo = "/srv/mirror.git"
base = "main"
pin-file = "upkeep.lock"
pin-format = "lockfile"
EOF
chmod 0644 "$tmp/upkeep.toml"
config=(-v "$tmp/upkeep.toml:/etc/upkeep/upkeep.toml:ro")
# As the Kubernetes Deployment runs it: read-only root, a writable /tmp, no capabilities.
hardened=(--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges)

step "upkeep check"
docker run --rm "${hardened[@]}" "${config[@]}" "$IMAGE" check --config /etc/upkeep/upkeep.toml ||
    fail "check rejected the config"

step "serve (the image's default command)"
docker volume create "$state" >/dev/null
docker run -d --name "$id" -p 127.0.0.1::9187 "${hardened[@]}" "${config[@]}" \
    -v "$state:/var/lib/upkeep" -v "$fixture:/srv" \
    -e UPKEEP_SYNC_TOKEN="$token" -e UPKEEP_READ_TOKEN="$read_token" "$IMAGE" >/dev/null
base=http://$(docker port "$id" 9187/tcp | head -n1)
echo "listening on $base"
# The image's HEALTHCHECK (interval 30 s) decides; allow for its first interval and a retry.
wait_until 90 is_health "$id" healthy || fail "health is '$(health "$id")', want healthy"
echo "health: healthy"
[ "$(curl -fsS "$base/healthz")" = ok ] || fail "/healthz"
curl -fsS "$base/readyz" | grep -qx ready || fail "/readyz not ready"
docker top "$id" -o pid,uid,args | grep -Eq '^ *[0-9]+ +10001 +upkeep serve' || fail "serve is not running as uid 10001"
echo "/healthz ok, /readyz ready, serve runs as uid 10001"

step "POST /sync"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/sync")
[ "$code" = 401 ] || fail "POST /sync without a token answered $code, want 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" "$base/sync?server=smoke")
[ "$code" = 202 ] || fail "POST /sync with the token answered $code, want 202"
echo "401 without the token, 202 with it"
api_status() { curl -fsS -H "Authorization: Bearer $read_token" "$base/status"; }
pr_opened() { api_status | grep -Eq '"open_pr": ?\{"[^}]*"version": ?"1\.1\.0"'; }
wait_until 60 pr_opened || fail "no open PR for 1.1.0 in /status: $(api_status)"
docker run --rm -v "$fixture:/srv:ro" --entrypoint sh "$IMAGE" -c \
    'test -e /srv/mirror.git/refs/heads/upkeep/smoke || grep -q " refs/heads/upkeep/smoke$" /srv/mirror.git/packed-refs' ||
    fail "the mirror has no upkeep/smoke branch"
curl -fsS "$base/metrics" | grep -q '^upkeep_runs_total{.*result="ok".*} 1$' ||
    fail "/metrics does not count the run: $(curl -sS "$base/metrics" | grep upkeep_runs_total)"
echo "PR for 1.1.0 opened, branch upkeep/smoke in the mirror, the run counted in /metrics"

step "state on the volume"
docker run --rm -v "$state:/var/lib/upkeep:ro" --entrypoint ls "$IMAGE" -A /var/lib/upkeep >"$tmp/ls"
cat "$tmp/ls"
grep -qx upkeep.db "$tmp/ls" || fail "no upkeep.db on the volume"
grep -qx cache "$tmp/ls" || fail "no cache dir on the volume"

step "SIGHUP reloads, SIGTERM stops cleanly"
docker kill -s HUP "$id" >/dev/null
sleep 2
[ "$(docker inspect -f '{{.State.Running}}' "$id")" = true ] || fail "SIGHUP stopped the service"
docker logs "$id" 2>&1 | grep -qi reload || fail "no reload in the log after SIGHUP"
docker stop -t 30 "$id" >/dev/null
rc=$(docker inspect -f '{{.State.ExitCode}}' "$id")
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM, want 0"
echo "reloaded on SIGHUP, exit 0 on SIGTERM"

step "a new container reads the state from the volume"
docker rm "$id" >/dev/null
docker run --rm "${hardened[@]}" "${config[@]}" -v "$state:/var/lib/upkeep" -v "$fixture:/srv" \
    "$IMAGE" status --json --config /etc/upkeep/upkeep.toml >"$tmp/status.json"
grep -Eq '"latest": ?"1\.1\.0"' "$tmp/status.json" || fail "status after restart: $(cat "$tmp/status.json")"
echo "status --json: latest 1.1.0"

step "the HEALTHCHECK fails when nothing answers"
docker run -d --name "$id-sick" "${hardened[@]}" "${config[@]}" -v "$state:/var/lib/upkeep" \
    -v "$fixture:/srv" -e UPKEEP_HEALTH_PORT=9 --health-interval 1s --health-retries 1 \
    "$IMAGE" >/dev/null
wait_until 30 is_health "$id-sick" unhealthy || fail "health is '$(health "$id-sick")' with a wrong port, want unhealthy"
echo "health: unhealthy"

printf '\nPASS: %s\n' "$IMAGE"
