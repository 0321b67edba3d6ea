#!/usr/bin/env bash
# End-to-end run of the Ansible rollout against local hosts booted with systemd (local-hosts.sh:
# containers running /sbin/init, each with its own Docker engine, sshd, iptables and address), with
# the real unit and handlers, the default dependency mode (bundled) and host isolation on:
#   1. hosts up (image made once by debootstrap + docker import, cached by content hash),
#   2. packages N and N+1 (npm pack of a staged copy carrying its production dependencies),
#   3. configure.yml with N; every agent sees the three hosts alive,
#   4. isolation: a function tries the host's sshd, cluster port and API port and the metadata
#      address 169.254.169.254 (a live fake metadata server); every attempt is refused, while the
#      host itself reaches each of them,
#   5. a function deployed on host 1 is invoked from host 3; a second run changes nothing,
#   6. node4 (fresh): configure.yml --check --limit node4 succeeds; then, with the controller's copy
#      of the key removed, --limit node4 joins the cluster with the existing key; a run over all four
#      (the peer lists change) restarts none of the running members,
#   7. upgrade.yml N -> N+1, first node1 alone (a mixed N / N+1 cluster invokes and replicates), then
#      the rest, while lb-client.ts invokes continuously on nodes that are up: zero failed calls,
#      every node back on N+1 and alive; the report prints calls, failed and the longest pause,
#   8. hosts down, always (FNAGENT_E2E_KEEP=1 keeps them for a look).
# Every wait is bounded; the first failure stops the run, says what failed, and prints the agents'
# journals. Needs: Docker engine, debootstrap, ansible (Debian packages), npm; root; the runtime
# image fnagent/nodejs:24 on the engine (the test suite's global setup builds it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$repo/node_modules/.bin:$PATH"   # Node 24 of the project
export ANSIBLE_CONFIG="$repo/ansible/ansible.cfg"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_PIPELINING=True
export FNAGENT_TEST_PREFIX=${FNAGENT_TEST_PREFIX:-fnagent-test}
export FNAGENT_TEST_SUBNET=${FNAGENT_TEST_SUBNET:-172.31.77.0/24}
export FNAGENT_TEST_NETWORK=${FNAGENT_TEST_NETWORK:-fnagent-test}
export FNAGENT_TEST_HOSTS=4
cache=${FNAGENT_CACHE_DIR:-${HOME:-/root}/.cache/fnagent}
work=$(mktemp -d /tmp/fnagent-e2e.XXXXXX)
export FNAGENT_TEST_PACK_DIR=$work/pack
base=${FNAGENT_TEST_SUBNET%.*}
peers_timeout=${FNAGENT_E2E_PEERS_TIMEOUT:-120}
playbook_timeout=${FNAGENT_E2E_PLAYBOOK_TIMEOUT:-1800}
api_port=3233
cluster_port=7700
started=$SECONDS
step=setup
client_pid=
inv=(-i test/ansible/inventory.yml)
inv4=(-i test/ansible/inventory.yml -i test/ansible/inventory-scaled.yml)

say() { printf 'e2e [%3ds] %s\n' "$((SECONDS - started))" "$*"; }
phase() { step=$1; say "== $1"; }
fail() { echo "e2e: FAILED in step '$step': $*" >&2; exit 1; }
name() { echo "$FNAGENT_TEST_PREFIX-$1"; }
ip() { echo "$base.$((10 + $1))"; }
# The fnagent CLI inside host $1, as root, on that host's own socket.
cli() { local h=$1; shift; timeout 120 docker exec "$(name "$h")" /usr/local/bin/fnagent "$@"; }

on_exit() {
  local rc=$?
  set +e
  [ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
  if [ "$rc" != 0 ]; then
    echo "e2e: exit $rc in step '$step' after $((SECONDS - started)) s" >&2
    for h in 1 2 3 4; do
      if docker container inspect "$(name "$h")" >/dev/null 2>&1; then
        echo "---- $(name "$h"): fnagent peers" >&2
        timeout 20 docker exec "$(name "$h")" /usr/local/bin/fnagent peers >&2 2>&1
        echo "---- $(name "$h"): journal of fnagent.service" >&2
        timeout 20 docker exec "$(name "$h")" journalctl -u fnagent --no-pager -n 30 -o cat >&2 2>&1
      fi
    done
  fi
  if [ "${FNAGENT_E2E_KEEP:-0}" = 1 ]; then
    echo "e2e: keeping the hosts (FNAGENT_E2E_KEEP=1); remove them with $here/local-hosts.sh down" >&2
  else
    "$here/local-hosts.sh" down || echo "e2e: cleaning up the hosts failed" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# Runs a playbook (bounded), its output to the console and to $work/$1.log.
playbook() {
  local log=$work/$1.log
  shift
  local rc=0
  (cd "$repo" && timeout "$playbook_timeout" ansible-playbook "$@") >"$log" 2>&1 || rc=$?
  grep -E '^(PLAY RECAP|node[0-9]+ +:)' "$log" | sed 's/^/    /' || true
  if [ "$rc" != 0 ]; then
    grep -E -B2 -A12 '^(fatal|failed):' "$log" | cut -c1-2000 >&2 || tail -40 "$log" >&2
    fail "ansible-playbook $* exited $rc"
  fi
}

# The recap lines of a playbook log must all say changed=0.
expect_unchanged() {
  local recap
  recap=$(sed -n '/^PLAY RECAP/,$p' "$work/$1.log" | grep -E '^node[0-9]+ +:' || true)
  [ -n "$recap" ] || fail "no recap in $1"
  if echo "$recap" | grep -Ev 'changed=0 .*unreachable=0 +failed=0' | grep -q .; then
    grep -E '^changed: ' "$work/$1.log" >&2 || true
    fail "$1 is not idempotent: $(echo "$recap" | grep -v 'changed=0 ' | tr -s ' ' | paste -sd';' -)"
  fi
}

# Waits until every host in "$@" sees exactly the addresses of "$@" alive.
wait_alive() {
  local want h got ok seen deadline
  want=$(for h in "$@"; do ip "$h"; done | sort | paste -sd, -)
  deadline=$((SECONDS + peers_timeout))
  while :; do
    ok=1
    seen=()
    for h in "$@"; do
      got=$(cli "$h" --json peers 2>/dev/null | node -e '
        let view; try { view = JSON.parse(require("fs").readFileSync(0, "utf8")) } catch { process.exit(0) }
        const ips = new Set()
        for (const m of view) if (m.state === "alive")
          for (const a of m.addrs ?? []) { const x = /^\/ip4\/([0-9.]+)\/tcp\//.exec(a); if (x) ips.add(x[1]) }
        console.log([...ips].sort().join(","))' || true)
      seen+=("$(name "$h"): ${got:-none}")
      [ "$got" = "$want" ] || ok=0
    done
    [ "$ok" = 1 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "after ${peers_timeout}s the agents do not all see $want alive: ${seen[*]}"
    sleep 1
  done
  say "every agent of $* sees $want alive"
}

# A JSON field of `fnagent --json status` on host $1.
status_of() { cli "$1" --json status | node -e 'const s = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(s[process.argv[1]])' "$2"; }
main_pid() { docker exec "$(name "$1")" systemctl show -p MainPID --value fnagent; }

phase prerequisites
for tool in docker ansible-playbook debootstrap npm node; do
  command -v "$tool" >/dev/null || fail "$tool is missing (run .ci/setup)"
done
timeout 30 docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd)"
docker image inspect fnagent/nodejs:24 >/dev/null 2>&1 \
  || fail "runtime image fnagent/nodejs:24 is missing on the engine (node cli/bin.js runtime build)"

phase "hosts up"
"$here/local-hosts.sh" down || fail "leftover hosts from an earlier run could not be removed"
timeout 900 "$here/local-hosts.sh" up 1 2 3 || fail "local-hosts.sh up"

phase "packages N and N+1 (dependencies bundled)"
# The production node_modules, pruned from the installed tree once per lock file (no registry).
deps_key=$(cat "$repo/package.json" "$repo/package-lock.json" | sha256sum | cut -c1-16)
deps_archive=$cache/ansible-e2e-node_modules-$deps_key.tgz
if [ ! -s "$deps_archive" ]; then
  mkdir -p "$cache" "$work/deps"
  cp -a "$(readlink -f "$repo/node_modules")" "$work/deps/node_modules"
  cp "$repo/package.json" "$repo/package-lock.json" "$work/deps/"
  (cd "$work/deps" && timeout 300 npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null) \
    || fail "npm prune --omit=dev"
  tar -C "$work/deps" -czf "$deps_archive.tmp" node_modules && mv "$deps_archive.tmp" "$deps_archive"
  rm -rf "$work/deps"
fi
version_n=$(node -p "require('$repo/package.json').version")
version_n1=$(node -p "const v = '$version_n'.split('.'); v[2] = Number(v[2]) + 1; v.join('.')")
# A staged copy of the checkout (tracked and new files) with node_modules, packed as a release is;
# cached by the content of the files and the dependencies.
files_key=$( (cd "$repo" && git ls-files -co --exclude-standard | grep -v '^node_modules' | sort \
  | xargs -d '\n' sha256sum; echo "$deps_key") | sha256sum | cut -c1-16)
pkg_cache=$cache/ansible-e2e-packages-$files_key
pkg_n=$pkg_cache/fnagent-$version_n.tgz
pkg_n1=$pkg_cache/fnagent-$version_n1.tgz
if [ ! -s "$pkg_n" ] || [ ! -s "$pkg_n1" ]; then
  rm -rf "$cache"/ansible-e2e-packages-*
  stage=$work/stage
  mkdir -p "$stage" "$pkg_cache.tmp"
  (cd "$repo" && git ls-files -co --exclude-standard -z | grep -zv '^node_modules' | xargs -0 tar -cf -) \
    | tar -C "$stage" -xf -
  tar -C "$stage" -xzf "$deps_archive"
  for v in "$version_n" "$version_n1"; do
    node -e 'const f = process.argv[1]; const p = require(f); p.version = process.argv[2]; require("fs").writeFileSync(f, JSON.stringify(p, null, 2))' \
      "$stage/package.json" "$v"
    (cd "$stage" && timeout 300 npm pack --silent --pack-destination "$pkg_cache.tmp" >/dev/null) || fail "npm pack $v"
  done
  mv "$pkg_cache.tmp" "$pkg_cache"
  rm -rf "$stage"
fi
tar -tzf "$pkg_n" >"$work/pkg-n.list"
grep -q '^package/node_modules/libp2p/package.json$' "$work/pkg-n.list" || fail "$pkg_n does not bundle its dependencies"
say "N = $version_n, N+1 = $version_n1 ($(du -h "$pkg_n" | cut -f1) each, node_modules bundled)"

mkdir -p "$FNAGENT_TEST_PACK_DIR"

phase "first run of configure.yml (N)"
export FNAGENT_TEST_PACKAGE=$pkg_n
playbook first "${inv[@]}" ansible/configure.yml
wait_alive 1 2 3
for h in 1 2 3; do
  docker exec "$(name "$h")" systemctl is-active --quiet fnagent || fail "fnagent.service is not active on $(name "$h")"
done
say "fnagent.service active under systemd on every host; $(docker exec "$(name 1)" systemctl show -p ExecStartPre --value fnagent | grep -o 'isolate --config [^ ;]*' | head -1)"

phase "isolation: a function cannot reach the host's sshd, cluster port, API port or the metadata service"
targets=()
for h in 1 2 3; do
  for p in 22 $cluster_port $api_port; do targets+=("$(ip "$h"):$p"); done
done
# The targets are live: each host reaches its own ports and the metadata service.
for h in 1 2 3; do
  docker exec "$(name "$h")" python3 -c '
import socket, sys, urllib.request
for port in sys.argv[2:]:
    socket.create_connection((sys.argv[1], int(port)), timeout=3).close()
urllib.request.urlopen("http://169.254.169.254/latest/meta-data", timeout=3).read()
' "$(ip "$h")" 22 $cluster_port $api_port || fail "$(name "$h") cannot reach its own ports or the metadata service"
done
cat >"$work/probe.js" <<'EOF'
const net = require('net')
const fs = require('fs')
// The container's default gateway: the host, as a function sees it (the bridge address).
function gateway() {
  for (const line of fs.readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f[1] === '00000000' && f[2]) return [3, 2, 1, 0].map((i) => parseInt(f[2].substr(i * 2, 2), 16)).join('.')
  }
}
function attempt(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    const timer = setTimeout(() => { s.destroy(); resolve('timeout') }, 3000)
    s.on('connect', () => { clearTimeout(timer); s.destroy(); resolve('connected') })
    s.on('error', (e) => { clearTimeout(timer); resolve(e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' ? 'refused' : e.code) })
  })
}
async function main(params) {
  const gw = gateway()
  const targets = [...params.targets, `${gw}:22`, `${gw}:${params.clusterPort}`, `${gw}:${params.apiPort}`, '169.254.169.254:80']
  const results = {}
  await Promise.all(targets.map(async (t) => { results[t] = await attempt(t) }))
  return { gateway: gw, results }
}
EOF
timeout 30 docker exec -i "$(name 1)" sh -c 'cat >/root/probe.js' <"$work/probe.js" || fail "copy probe.js"
cli 1 fn create e2e-probe /root/probe.js --wait-replicas 3 >/dev/null || fail "fnagent fn create e2e-probe"
declare -A node_host=()
for h in 1 2 3; do node_host[$(status_of "$h" nodeId)]=$h; done
params=$(node -e 'console.log(JSON.stringify({ targets: process.argv[1].split(" "), clusterPort: +process.argv[2], apiPort: +process.argv[3] }))' \
  "${targets[*]}" "$cluster_port" "$api_port")
echo "$params" >"$work/probe-params.json"
for h in 1 2 3; do
  timeout 30 docker exec -i "$(name "$h")" sh -c 'cat >/root/probe-params.json' <"$work/probe-params.json" || fail "copy params"
done
declare -A probed=()
for round in 1 2; do
  for from in 1 2 3; do
    cli "$from" --json invoke e2e-probe -P /root/probe-params.json >"$work/probe-$round-$from.json" 2>&1 || true
    ran=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.node)' "$work/probe-$round-$from.json" 2>/dev/null) \
      || fail "the probe invoked from $(name "$from") returned: $(head -c 600 "$work/probe-$round-$from.json")"
    h=${node_host[$ran]:-}
    [ -n "$h" ] || fail "the probe ran on an unknown node $ran"
    # Every port of the host it ran on (by its address and by the bridge gateway), the metadata
    # address, and the cluster and API ports of the other members must be refused (REJECT answers
    # at once; a timeout would also mean blocked, but is not what the rules do).
    others=$(for o in 1 2 3; do [ "$o" = "$h" ] || echo "$(ip "$o"):$cluster_port $(ip "$o"):$api_port"; done | paste -sd' ' -)
    verdict=$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).response.result
      const own = process.argv[2], others = process.argv[3].split(" "), ports = process.argv.slice(4)
      const must = [...ports.map((p) => `${own}:${p}`), ...ports.map((p) => `${r.gateway}:${p}`), "169.254.169.254:80", ...others]
      const bad = must.filter((t) => r.results[t] !== "refused")
      console.log(bad.length ? "OPEN " + bad.map((t) => `${t}=${r.results[t]}`).join(" ") : `refused ${must.length}/${must.length}`)
    ' "$work/probe-$round-$from.json" "$(ip "$h")" "$others" 22 $cluster_port $api_port)
    case "$verdict" in
      refused*) probed[$h]=$verdict ;;
      *) fail "a function on $(name "$h") reached: $verdict" ;;
    esac
  done
  [ "${#probed[@]}" = 3 ] && break
done
for h in "${!probed[@]}"; do
  say "function on $(name "$h"): its host's sshd, cluster and API ports (address and gateway), 169.254.169.254, the other members' cluster and API ports: ${probed[$h]}"
done
[ "${#probed[@]}" -ge 1 ] || fail "the probe never ran"

phase "deploy on host 1, invoke from host 3"
cat >"$work/hello.js" <<'EOF'
function main(params) {
  return { greeting: `hello ${params.name}`, kind: 'nodejs:24' }
}
EOF
timeout 30 docker exec -i "$(name 1)" sh -c 'cat >/root/hello.js' <"$work/hello.js" || fail "copy hello.js"
cli 1 fn create e2e-hello /root/hello.js --wait-replicas 3 >/dev/null || fail "fnagent fn create on $(name 1)"
result=$(cli 3 invoke e2e-hello -p name ansible --result) || fail "fnagent invoke on $(name 3): ${result:-no output}"
node -e 'const r = JSON.parse(process.argv[1]); if (r.greeting !== "hello ansible") process.exit(1)' "$result" \
  || fail "the invocation from $(name 3) returned $result"
say "invoked e2e-hello (deployed on $(name 1)) from $(name 3)"

phase "second run of configure.yml (must change nothing)"
playbook second "${inv[@]}" ansible/configure.yml
expect_unchanged second
say "second run: changed=0 on every host"

phase "--check on a fresh host"
timeout 600 "$here/local-hosts.sh" up 4 || fail "local-hosts.sh up 4"
playbook check "${inv4[@]}" ansible/configure.yml --check --limit node4
docker exec "$(name 4)" test ! -e /etc/systemd/system/fnagent.service || fail "--check installed the unit on $(name 4)"
say "configure.yml --check --limit node4 succeeded on a fresh host (and installed nothing)"

phase "--limit newhost joins with the existing key"
pids_before=$(for h in 1 2 3; do main_pid "$h"; done | paste -sd' ' -)
rm -f "$FNAGENT_TEST_PACK_DIR/cluster.key"   # a controller without the credentials folder
playbook limit "${inv4[@]}" ansible/configure.yml --limit node4
[ ! -e "$FNAGENT_TEST_PACK_DIR/cluster.key" ] || fail "a new cluster key was generated on the controller"
key1=$(docker exec "$(name 1)" sha256sum /etc/fnagent/cluster.key | cut -d' ' -f1)
key4=$(docker exec "$(name 4)" sha256sum /etc/fnagent/cluster.key | cut -d' ' -f1)
[ "$key1" = "$key4" ] || fail "$(name 4) got another cluster key"
wait_alive 1 2 3 4
playbook scaled "${inv4[@]}" ansible/configure.yml
pids_after=$(for h in 1 2 3; do main_pid "$h"; done | paste -sd' ' -)
[ "$pids_before" = "$pids_after" ] || fail "members were restarted by the scale-out (MainPID $pids_before -> $pids_after)"
for h in 1 2 3; do
  docker exec "$(name "$h")" grep -q "$(ip 4):$cluster_port" /etc/fnagent/config.json || fail "$(name "$h")'s peer list lacks node4"
done
say "node4 joined with the existing key; the run over all four restarted none of the members (MainPID $pids_after)"

phase "rolling upgrade N -> N+1 under load"
cat >"$work/slow.js" <<'EOF'
function main(params) {
  return new Promise((resolve) => setTimeout(() => resolve({ n: params.n }), 200))
}
EOF
timeout 30 docker exec -i "$(name 1)" sh -c 'cat >/root/slow.js' <"$work/slow.js" || fail "copy slow.js"
cli 1 fn create e2e-slow /root/slow.js --wait-replicas 4 >/dev/null || fail "fnagent fn create e2e-slow"
nodes_json=$(for h in 1 2 3 4; do
  auth=$(cli "$h" --json auth create --description e2e | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).auth)')
  printf '{"name":"node%s","url":"http://%s:%s","auth":"%s"}\n' "$h" "$(ip "$h")" "$api_port" "$auth"
done | paste -sd, -)
node "$here/lb-client.ts" "{\"nodes\":[$nodes_json],\"action\":\"e2e-slow\",\"concurrency\":2}" >"$work/client.json" 2>"$work/client.err" &
client_pid=$!
export FNAGENT_TEST_PACKAGE=$pkg_n1
playbook upgrade-node1 "${inv4[@]}" ansible/upgrade.yml --limit node1
[ "$(status_of 1 version)" = "$version_n1" ] || fail "node1 does not run $version_n1"
[ "$(status_of 2 version)" = "$version_n" ] || fail "node2 does not run $version_n any more"
# Mixed cluster: a function written on N+1 replicates to the N members and runs from them.
cli 1 fn create e2e-mixed /root/hello.js --wait-replicas 4 >/dev/null || fail "fn create on N+1 with 4 replicas"
result=$(cli 3 invoke e2e-mixed -p name mixed --result) || fail "invoke from N: $result"
node -e 'if (JSON.parse(process.argv[1]).greeting !== "hello mixed") process.exit(1)' "$result" || fail "mixed: $result"
say "mixed cluster (node1 on $version_n1, node2..4 on $version_n): written on N+1, replicated to 4, invoked from N"
playbook upgrade "${inv4[@]}" ansible/upgrade.yml
for h in 1 2 3 4; do
  [ "$(status_of "$h" version)" = "$version_n1" ] || fail "$(name "$h") does not run $version_n1"
done
wait_alive 1 2 3 4
sleep 2
kill -TERM "$client_pid"
wait "$client_pid" || fail "the client failed: $(cat "$work/client.err")"
client_pid=
report=$(cat "$work/client.json")
say "client: $report"
node -e '
  const r = JSON.parse(process.argv[1])
  console.log(`e2e upgrade report: calls ${r.calls}, answered ${r.answered}, failed ${r.failed}, sent again to another node ${r.retried}, longest pause ${r.longestPauseMs} ms`)
  if (r.failed !== 0 || r.answered < 10) process.exit(1)
' "$report" || fail "calls failed during the upgrade"

step=done
say "PASS: systemd hosts, isolation refused, cross-host invoke, idempotent, --check, --limit join, rolling upgrade with 0 failed calls"
