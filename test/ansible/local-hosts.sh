#!/usr/bin/env bash
# Three local "VMs" for the Ansible role: containers on the local Docker engine, made from a
# debootstrap root filesystem (python3, no registry needed), each with its own address on a
# user-defined bridge network, and with the host's Docker socket mounted so that the agent
# inside can start function containers (on the same network, see inventory.yml).
#
#   test/ansible/local-hosts.sh up     # image (once), network, containers fnagent-test-{1,2,3}
#   test/ansible/local-hosts.sh down   # remove the containers, the function containers the agents
#                                      # started on the network, and the network (the image stays)
#   test/ansible/local-hosts.sh purge  # down, and remove the images and the cached root filesystem
#   test/ansible/local-hosts.sh image  # only make the image
#
# The root filesystem is cached as a tarball under $FNAGENT_CACHE_DIR (~/.cache/fnagent), named by
# a hash of what goes into it (suite, packages, this recipe's version); the image is tagged with the
# same hash. debootstrap shares the runtime builder's package cache ($FNAGENT_CACHE_DIR/debs).
#
# Environment: FNAGENT_TEST_HOSTS (3), FNAGENT_TEST_SUBNET (172.31.77.0/24; the hosts get .11,
# .12, ...; containers the agents start get addresses from the upper half), FNAGENT_TEST_NETWORK
# (fnagent-test), FNAGENT_TEST_PREFIX (fnagent-test), FNAGENT_DEBIAN_MIRROR or FNAGENT_TEST_MIRROR
# (else the first Debian URI of the host's apt sources, else deb.debian.org).
set -euo pipefail

SUITE=bookworm
# What the hosts carry besides debootstrap's minbase: what Ansible's modules need (python3, apt,
# psutil for community.general.pids), certificates, xz for Node.js tarballs, ps.
PACKAGES=python3,python3-apt,python3-psutil,ca-certificates,xz-utils,procps
# Bump when the recipe below changes: the cached root filesystem and the image are made anew.
RECIPE_VERSION=2
REPO=fnagent-test/ansible-host
NETWORK=${FNAGENT_TEST_NETWORK:-fnagent-test}
PREFIX=${FNAGENT_TEST_PREFIX:-fnagent-test}
COUNT=${FNAGENT_TEST_HOSTS:-3}
SUBNET=${FNAGENT_TEST_SUBNET:-172.31.77.0/24}
BASE=${SUBNET%.*}   # 172.31.77
SOCKET=/var/run/docker.sock
CACHE=${FNAGENT_CACHE_DIR:-${HOME:-/root}/.cache/fnagent}

KEY=$(printf '%s\n' "$RECIPE_VERSION" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-16)
IMAGE=$REPO:$SUITE-$KEY
TARBALL=$CACHE/ansible-host-$SUITE-$KEY.tar

log() { echo "local-hosts: $*" >&2; }

mirror() {
  local m=${FNAGENT_TEST_MIRROR:-${FNAGENT_DEBIAN_MIRROR:-}}
  if [ -n "$m" ]; then echo "$m"; return; fi
  m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list 2>/dev/null \
    | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//' \
    | grep -E '^(https?|file):.*/debian/?$' | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

# The root filesystem tarball, made once (debootstrap needs root) and kept in the cache.
make_rootfs() {
  [ -s "$TARBALL" ] && return
  command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  [ "$(id -u)" = 0 ] || { log "making the root filesystem needs root (debootstrap)"; exit 1; }
  mkdir -p "$CACHE/debs"
  local root m
  WORK=$(mktemp -d "$CACHE/ansible-host-XXXXXX")
  trap cleanup_work EXIT
  local work=$WORK
  root=$work/root
  m=$(mirror)
  log "debootstrap $SUITE from $m into the cache (once; log: $work/debootstrap.log)"
  if ! debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$CACHE/debs" \
      "$SUITE" "$root" "$m" >"$work/debootstrap.log" 2>&1; then
    tail -30 "$work/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
  fi
  umount -R -l "$root/proc" "$root/sys" 2>/dev/null || true
  # The same apt mirror inside; no recommends; small.
  echo "deb $m $SUITE main" >"$root/etc/apt/sources.list"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90fnagent-test"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale
  tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -C "$root" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$TARBALL"
  cleanup_work
  log "root filesystem cached: $TARBALL"
}

WORK=
# An interrupted debootstrap leaves proc and sys mounted below the work directory.
cleanup_work() {
  [ -n "$WORK" ] || return 0
  umount -R -l "$WORK/root/proc" "$WORK/root/sys" 2>/dev/null || true
  rm -rf "$WORK"
  WORK=
}

build_image() {
  docker image inspect "$IMAGE" >/dev/null 2>&1 && return
  make_rootfs
  docker import \
    --change 'CMD ["/bin/sleep", "infinity"]' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL fnagent.test.recipe=$KEY" \
    "$TARBALL" "$IMAGE" >/dev/null
  log "image $IMAGE ready"
}

up() {
  build_image
  if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
    # Fixed host addresses in the lower half; the agents' function containers (which join this
    # network, so that the agent inside a host can reach them) get addresses from the upper half.
    docker network create --driver bridge --subnet "$SUBNET" --ip-range "$BASE.128/25" \
      --label fnagent-test=1 "$NETWORK" >/dev/null
  fi
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
    log "$name  $BASE.$((10 + i))"
  done
}

down() {
  for i in $(seq 1 "$COUNT"); do
    docker rm -f "$PREFIX-$i" >/dev/null 2>&1 || true
  done
  # Function containers the agents started on the network (their agents are gone now).
  local left
  left=$(docker ps -aq --filter "network=$NETWORK" 2>/dev/null || true)
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    docker rm -f $left >/dev/null 2>&1 || true
  fi
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then
    log "network $NETWORK is still there (containers attached?)"
    return 1
  fi
}

purge() {
  down || true
  docker images -q "$REPO" | sort -u | xargs -r docker image rm -f >/dev/null 2>&1 || true
  rm -f "$CACHE"/ansible-host-*.tar
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  purge) purge ;;
  image) build_image ;;
  *) echo "usage: $0 up|down|purge|image" >&2; exit 2 ;;
esac
