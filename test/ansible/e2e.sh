#!/usr/bin/env bash
# End-to-end run of the Ansible role against three local containers (local-hosts.sh):
#   1. npm pack + a node_modules archive on the "controller" (this machine),
#   2. configure.yml (fnagent_service_state: none), twice: the second run must change nothing,
#   3. start-agents.yml: start the agents with nohup and wait until they see each other
#      (skipped with FNAGENT_E2E_NO_START=1, for as long as the agent cannot start).
# Needs: Docker engine, debootstrap, ansible, npm. Keeps the containers unless KEEP=0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export FNAGENT_TEST_PACK_DIR=${FNAGENT_TEST_PACK_DIR:-/tmp/fnagent-pack}
export ANSIBLE_CONFIG="$repo/ansible/ansible.cfg"
export ANSIBLE_NOCOLOR=1

"$here/local-hosts.sh" up
[ "${KEEP:-1}" = 0 ] && trap '"$here/local-hosts.sh" down' EXIT

mkdir -p "$FNAGENT_TEST_PACK_DIR"
version=$(node -p "require('$repo/package.json').version")
rm -f "$FNAGENT_TEST_PACK_DIR/fnagent-$version.tgz"
(cd "$repo" && npm pack --silent --pack-destination "$FNAGENT_TEST_PACK_DIR" >/dev/null)
deps="$FNAGENT_TEST_PACK_DIR/deps"
rm -rf "$deps" && mkdir -p "$deps"
tar -xzf "$FNAGENT_TEST_PACK_DIR/fnagent-$version.tgz" -C "$deps" --strip-components=1 package/package.json
(cd "$deps" && npm install --omit=dev --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null)
tar -C "$deps" -czf "$FNAGENT_TEST_PACK_DIR/fnagent-$version-node_modules.tgz" node_modules

cd "$repo"
ansible-playbook -i test/ansible/inventory.yml ansible/configure.yml -e "fnagent_version=$version"
log=$(mktemp)
ansible-playbook -i test/ansible/inventory.yml ansible/configure.yml -e "fnagent_version=$version" | tee "$log"
if grep -E '^node[0-9]+ +:' "$log" | grep -vq 'changed=0'; then
  echo "e2e: the second run changed something (not idempotent)" >&2
  exit 1
fi
echo "e2e: second run changed nothing"
if [ "${FNAGENT_E2E_NO_START:-0}" != 1 ]; then
  ansible-playbook -i test/ansible/inventory.yml test/ansible/start-agents.yml
fi
