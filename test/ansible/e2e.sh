#!/usr/bin/env bash
# End-to-end run of the Ansible role against three local containers standing in for VMs
# (local-hosts.sh), each with its own address:
#   1. hosts up (the base root filesystem is made by debootstrap once and cached),
#   2. npm pack + a node_modules archive on the "controller" (this machine; cached by lock file),
#   3. configure.yml, first run,
#   4. start-agents.yml (no systemd inside: nohup + runuser), then wait until every agent's
#      `fnagent --json peers` shows the three hosts' addresses alive,
#   5. `fnagent fn create` on host 1, `fnagent invoke` from host 3 (docker exec, each host's own
#      socket),
#   6. configure.yml again: every host must report changed=0,
#   7. hosts down, always (FNAGENT_E2E_KEEP=1 keeps them for a look).
# Every wait is bounded; the first failure stops the run, says what failed, and prints the
# agents' logs. Needs: Docker engine, debootstrap, ansible (Debian packages), npm; root.
# The runtime images fnagent/nodejs:24 and fnagent/python:3 must be on the engine (the test
# suite's global setup builds them; else run `fnagent runtime build`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$repo/node_modules/.bin:$PATH"   # Node 24 of the project
export ANSIBLE_CONFIG="$repo/ansible/ansible.cfg"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_PIPELINING=True
export FNAGENT_TEST_PREFIX=${FNAGENT_TEST_PREFIX:-fnagent-test}
export FNAGENT_TEST_SUBNET=${FNAGENT_TEST_SUBNET:-172.31.77.0/24}
export FNAGENT_TEST_NETWORK=${FNAGENT_TEST_NETWORK:-fnagent-test}
cache=${FNAGENT_CACHE_DIR:-${HOME:-/root}/.cache/fnagent}
work=$(mktemp -d /tmp/fnagent-e2e.XXXXXX)
export FNAGENT_TEST_PACK_DIR=$work/pack
base=${FNAGENT_TEST_SUBNET%.*}
hosts=(1 2 3)
peers_timeout=${FNAGENT_E2E_PEERS_TIMEOUT:-120}
playbook_timeout=${FNAGENT_E2E_PLAYBOOK_TIMEOUT:-900}
started=$SECONDS
step=setup
agents_started=0

say() { printf 'e2e [%3ds] %s\n' "$((SECONDS - started))" "$*"; }
phase() { step=$1; say "== $1"; }
fail() { echo "e2e: FAILED in step '$step': $*" >&2; exit 1; }
name() { echo "$FNAGENT_TEST_PREFIX-$1"; }
# The fnagent CLI inside host $1, as root, on that host's own socket.
cli() { local h=$1; shift; timeout 120 docker exec "$(name "$h")" /usr/local/bin/fnagent "$@"; }

on_exit() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ]; then
    echo "e2e: exit $rc in step '$step' after $((SECONDS - started)) s" >&2
  fi
  if [ "$rc" != 0 ] && [ "$agents_started" = 1 ]; then
    for h in "${hosts[@]}"; do
      if docker container inspect "$(name "$h")" >/dev/null 2>&1; then
        echo "---- $(name "$h"): fnagent peers" >&2
        timeout 20 docker exec "$(name "$h")" /usr/local/bin/fnagent peers >&2 2>&1
        echo "---- $(name "$h"): tail of /var/log/fnagent.log" >&2
        timeout 20 docker exec "$(name "$h")" tail -n 40 /var/log/fnagent.log >&2 2>&1
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
  (cd "$repo" && timeout "$playbook_timeout" ansible-playbook -i test/ansible/inventory.yml "$@") 2>&1 \
    | tee "$log" || rc=$?
  [ "$rc" = 0 ] || fail "ansible-playbook $* exited $rc (see above)"
}

phase prerequisites
for tool in docker ansible-playbook debootstrap npm node; do
  command -v "$tool" >/dev/null || fail "$tool is missing (run .ci/setup)"
done
timeout 30 docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd)"
for image in fnagent/nodejs:24 fnagent/python:3; do
  docker image inspect "$image" >/dev/null 2>&1 \
    || fail "runtime image $image is missing on the engine (node cli/bin.js runtime build)"
done

phase "hosts up"
"$here/local-hosts.sh" down || fail "leftover hosts from an earlier run could not be removed"
timeout 900 "$here/local-hosts.sh" up || fail "local-hosts.sh up"

phase "package"
version=$(node -p "require('$repo/package.json').version")
mkdir -p "$FNAGENT_TEST_PACK_DIR"
(cd "$repo" && timeout 300 npm pack --silent --pack-destination "$FNAGENT_TEST_PACK_DIR" >/dev/null) \
  || fail "npm pack"
# The production node_modules, made with npm ci from the lock file once per lock file.
deps_key=$(cat "$repo/package.json" "$repo/package-lock.json" | sha256sum | cut -c1-16)
deps_archive=$cache/ansible-e2e-node_modules-$deps_key.tgz
if [ ! -s "$deps_archive" ]; then
  mkdir -p "$cache" "$work/deps"
  cp "$repo/package.json" "$repo/package-lock.json" "$work/deps/"
  (cd "$work/deps" && timeout 600 npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null) \
    || fail "npm ci --omit=dev"
  tar -C "$work/deps" -czf "$deps_archive.tmp" node_modules && mv "$deps_archive.tmp" "$deps_archive"
  rm -rf "$work/deps"
fi
cp "$deps_archive" "$FNAGENT_TEST_PACK_DIR/fnagent-$version-node_modules.tgz"

phase "first run of configure.yml"
playbook first ansible/configure.yml -e "fnagent_version=$version"

phase "start the agents"
agents_started=1
playbook start test/ansible/start-agents.yml

phase "wait until every agent sees three alive members"
want=$(printf "$base.%d\n" $((10 + 1)) $((10 + 2)) $((10 + 3)) | paste -sd, -)
# The addresses (/ip4/A/tcp/...) of the alive members in a `fnagent --json peers` answer.
alive_addresses() {
  node -e '
    let view; try { view = JSON.parse(require("fs").readFileSync(0, "utf8")) } catch { process.exit(0) }
    const ips = new Set()
    for (const m of view) if (m.state === "alive")
      for (const a of m.addrs ?? []) { const x = /^\/ip4\/([0-9.]+)\/tcp\//.exec(a); if (x) ips.add(x[1]) }
    console.log([...ips].sort().join(","))'
}
deadline=$((SECONDS + peers_timeout))
while :; do
  ok=1
  seen=()
  for h in "${hosts[@]}"; do
    got=$(cli "$h" --json peers 2>/dev/null | alive_addresses || true)
    seen+=("$(name "$h"): ${got:-none}")
    [ "$got" = "$want" ] || ok=0
  done
  [ "$ok" = 1 ] && break
  [ "$SECONDS" -lt "$deadline" ] \
    || fail "after ${peers_timeout}s the agents do not all see $want alive: ${seen[*]}"
  sleep 1
done
say "every agent sees $want alive"
for h in "${hosts[@]}"; do cli "$h" peers; done

phase "deploy on host 1, invoke from host 3"
cat >"$work/hello.js" <<'EOF'
function main(params) {
  return { greeting: `hello ${params.name}`, kind: 'nodejs:24' }
}
EOF
# (not docker cp: /tmp is a tmpfs in the hosts, which docker cp does not write to)
timeout 30 docker exec -i "$(name 1)" sh -c 'cat >/root/hello.js' <"$work/hello.js" || fail "copy hello.js"
cli 1 fn create e2e-hello /root/hello.js --wait-replicas 3 \
  || fail "fnagent fn create on $(name 1)"
result=$(cli 3 invoke e2e-hello -p name ansible --result) \
  || fail "fnagent invoke on $(name 3): ${result:-no output}"
result=$(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1])))' "$result" 2>/dev/null || echo "$result")
node -e '
  const r = JSON.parse(process.argv[1])
  if (r.greeting !== "hello ansible") { console.error("unexpected result:", process.argv[1]); process.exit(1) }
' "$result" || fail "the invocation from $(name 3) returned $result"
say "invoked e2e-hello (deployed on $(name 1)) from $(name 3): $result"

phase "second run of configure.yml (must change nothing)"
playbook second ansible/configure.yml -e "fnagent_version=$version"
recap=$(sed -n '/^PLAY RECAP/,$p' "$work/second.log" | grep -E '^node[0-9]+ +:' || true)
echo "$recap"
[ "$(echo "$recap" | grep -c .)" = "${#hosts[@]}" ] \
  || fail "the recap of the second run does not list the ${#hosts[@]} hosts"
if echo "$recap" | grep -Ev 'changed=0 .*unreachable=0 +failed=0' | grep -q .; then
  grep -E '^changed: ' "$work/second.log" >&2 || true
  fail "the second run is not idempotent: $(echo "$recap" | grep -v 'changed=0 ' | tr -s ' ' | paste -sd';' -)"
fi
say "second run: changed=0 on every host"

step=done
say "PASS: three agents on $want, function deployed on $(name 1) and invoked from $(name 3), second run changed=0"
