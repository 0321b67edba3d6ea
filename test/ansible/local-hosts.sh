#!/usr/bin/env bash
# Three local "VMs" for the Ansible role: containers on the local Docker engine, made from a
# debootstrap root filesystem (python3, no registry needed), each with its own address on a
# user-defined bridge network, and with the host's Docker socket mounted so that the agent
# inside can start function containers.
#
#   test/ansible/local-hosts.sh up     # image (once), network, containers fnagent-test-{1,2,3}
#   test/ansible/local-hosts.sh down   # remove containers and network (the image stays)
#   test/ansible/local-hosts.sh purge  # down, and remove the image
#
# Environment: FNAGENT_TEST_HOSTS (3), FNAGENT_TEST_SUBNET (172.31.77.0/24),
# FNAGENT_TEST_MIRROR (the first URI of the host's apt sources, else deb.debian.org).
set -euo pipefail

IMAGE=fnagent-test/ansible-host:bookworm
NETWORK=fnagent-test
PREFIX=fnagent-test
COUNT=${FNAGENT_TEST_HOSTS:-3}
SUBNET=${FNAGENT_TEST_SUBNET:-172.31.77.0/24}
BASE=${SUBNET%.*}   # 172.31.77
SOCKET=/var/run/docker.sock

mirror() {
  if [ -n "${FNAGENT_TEST_MIRROR:-}" ]; then echo "$FNAGENT_TEST_MIRROR"; return; fi
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')
  echo "${uri:-http://deb.debian.org/debian}"
}

build_image() {
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then return; fi
  command -v debootstrap >/dev/null || { echo "local-hosts: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  local root
  root=$(mktemp -d /tmp/fnagent-host-rootfs.XXXXXX)
  echo "local-hosts: debootstrap bookworm from $(mirror) (a few minutes, once)"
  debootstrap --variant=minbase --include=python3,python3-apt,ca-certificates,xz-utils,procps \
    bookworm "$root" "$(mirror)" >/tmp/fnagent-host-debootstrap.log 2>&1 \
    || { tail -20 /tmp/fnagent-host-debootstrap.log >&2; exit 1; }
  # The same apt mirror inside; no recommends; a small image.
  echo "deb $(mirror) bookworm main" >"$root/etc/apt/sources.list"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90fnagent-test"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  tar -C "$root" -c . | docker import \
    --change 'CMD ["/bin/sleep", "infinity"]' \
    --change 'ENV LANG=C.UTF-8' \
    - "$IMAGE" >/dev/null
  rm -rf "$root"
  echo "local-hosts: image $IMAGE ready"
}

up() {
  build_image
  docker network inspect "$NETWORK" >/dev/null 2>&1 \
    || docker network create --driver bridge --subnet "$SUBNET" "$NETWORK" >/dev/null
  local gid
  gid=$(stat -c %g "$SOCKET")
  for i in $(seq 1 "$COUNT"); do
    local name="$PREFIX-$i"
    if ! docker container inspect "$name" >/dev/null 2>&1; then
      docker run -d --name "$name" --hostname "node$i" \
        --network "$NETWORK" --ip "$BASE.$((10 + i))" \
        -v "$SOCKET:$SOCKET" \
        --tmpfs /run --tmpfs /tmp \
        --label fnagent-test=1 \
        "$IMAGE" >/dev/null
      # The socket's group inside must be the host's docker group (the role adds the agent to it).
      docker exec "$name" sh -c "getent group docker >/dev/null || groupadd -g $gid docker"
    fi
    docker start "$name" >/dev/null
    echo "local-hosts: $name  $BASE.$((10 + i))"
  done
}

down() {
  for i in $(seq 1 "$COUNT"); do
    docker rm -f "$PREFIX-$i" >/dev/null 2>&1 || true
  done
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  purge) down; docker image rm "$IMAGE" >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 up|down|purge" >&2; exit 2 ;;
esac
