#!/usr/bin/env bash
# Local "VMs" for the Ansible role: privileged containers booted with systemd (/sbin/init) from a
# debootstrap root filesystem (docker import, no registry; privileged but for CAP_SYS_RESOURCE,
# see host_up), each with its own address on a
# user-defined bridge network, its own Docker engine (dockerd inside, /var/lib/docker on a volume so
# that overlay2 works), sshd, iptables, and the runtime image loaded into that engine. A fake cloud
# metadata server answers on 169.254.169.254:80 (a container on the same network; every host routes
# 169.254.169.254 to it, as an OpenStack router does), so that a function's attempt to reach it is a
# real test of the isolation rule.
#
#   test/ansible/local-hosts.sh up [N...]   # image (once), network, metadata server, hosts (default 1..3)
#   test/ansible/local-hosts.sh down        # remove the hosts, their volumes, the metadata server, the network
#   test/ansible/local-hosts.sh purge       # down, and remove the images and the cached root filesystem
#   test/ansible/local-hosts.sh image       # only make the image
#
# The root filesystem is cached as a tarball under $FNAGENT_CACHE_DIR (~/.cache/fnagent), named by
# a hash of what goes into it (suite, packages, this recipe's version); the image is tagged with the
# same hash. debootstrap shares the runtime builder's package cache ($FNAGENT_CACHE_DIR/debs).
#
# Environment: FNAGENT_TEST_HOSTS (3), FNAGENT_TEST_SUBNET (172.31.77.0/24; hosts get .11, .12, ...,
# the metadata server .250), FNAGENT_TEST_NETWORK (fnagent-test), FNAGENT_TEST_PREFIX (fnagent-test),
# FNAGENT_TEST_RUNTIMES (fnagent/nodejs:24), FNAGENT_DEBIAN_MIRROR or FNAGENT_TEST_MIRROR (else the
# first Debian URI of the host's apt sources, else deb.debian.org).
set -euo pipefail

SUITE=bookworm
# A VM's worth: systemd as PID 1, the Docker engine, sshd and iptables (the isolation targets),
# and what Ansible's modules need (python3, apt, psutil), certificates, xz, ps, ip.
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,python3-psutil,ca-certificates,xz-utils,procps,iproute2,iptables,docker.io,openssh-server,sudo
# Bump when the recipe below changes: the cached root filesystem and the image are made anew.
RECIPE_VERSION=3
REPO=fnagent-test/systemd-host
NETWORK=${FNAGENT_TEST_NETWORK:-fnagent-test}
PREFIX=${FNAGENT_TEST_PREFIX:-fnagent-test}
COUNT=${FNAGENT_TEST_HOSTS:-3}
SUBNET=${FNAGENT_TEST_SUBNET:-172.31.77.0/24}
BASE=${SUBNET%.*}   # 172.31.77
RUNTIMES=${FNAGENT_TEST_RUNTIMES:-fnagent/nodejs:24}
CACHE=${FNAGENT_CACHE_DIR:-${HOME:-/root}/.cache/fnagent}
METADATA=$PREFIX-metadata
METADATA_IP=$BASE.250

KEY=$(printf '%s\n' "$RECIPE_VERSION" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-16)
IMAGE=$REPO:$SUITE-$KEY
TARBALL=$CACHE/systemd-host-$SUITE-$KEY.tar

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
  WORK=$(mktemp -d "$CACHE/systemd-host-XXXXXX")
  trap cleanup_work EXIT
  root=$WORK/root
  m=$(mirror)
  log "debootstrap $SUITE from $m into the cache (once; log: $WORK/debootstrap.log)"
  if ! debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$CACHE/debs" \
      "$SUITE" "$root" "$m" >"$WORK/debootstrap.log" 2>&1; then
    tail -30 "$WORK/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
  fi
  umount -R -l "$root/proc" "$root/sys" 2>/dev/null || true
  echo "deb $m $SUITE main" >"$root/etc/apt/sources.list"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90fnagent-test"
  # A container boot: no consoles, no udev, no clock or kernel-module units; the engine starts at boot.
  for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
      systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
      systemd-timesyncd.service systemd-logind.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  # Root over `docker exec`; sshd stays (a port for the isolation check), password logins off.
  printf 'PasswordAuthentication no\n' >"$root/etc/ssh/sshd_config.d/fnagent-test.conf"
  # The docker group the role adds the agent to exists already (docker.io's postinst).
  : >"$root/etc/machine-id"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale
  tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -C "$root" -cf "$WORK/rootfs.tar" .
  mv "$WORK/rootfs.tar" "$TARBALL"
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
    --change 'CMD ["/sbin/init"]' \
    --change 'ENV container=docker LANG=C.UTF-8' \
    --change "LABEL fnagent.test.recipe=$KEY" \
    "$TARBALL" "$IMAGE" >/dev/null
  log "image $IMAGE ready"
}

# Waits (bounded) until systemd in $1 has finished booting and the engine answers.
wait_booted() {
  local name=$1 state=
  for _ in $(seq 1 90); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in
      running | degraded)
        if docker exec "$name" docker info >/dev/null 2>&1; then return 0; fi ;;
    esac
    sleep 1
  done
  log "$name did not boot within 90 s (systemd: ${state:-no answer})"
  docker exec "$name" systemctl --failed --no-pager >&2 || true
  return 1
}

metadata_up() {
  docker container inspect "$METADATA" >/dev/null 2>&1 && return
  # Answers on 169.254.169.254:80 (on its loopback; the hosts route that address to it).
  docker run -d --name "$METADATA" --network "$NETWORK" --ip "$METADATA_IP" --cap-add NET_ADMIN \
    --label fnagent-test=1 --entrypoint /bin/sh "$IMAGE" \
    -c 'ip addr add 169.254.169.254/32 dev lo && mkdir -p /srv/latest && echo meta >/srv/latest/meta-data &&
        exec python3 -m http.server --bind 0.0.0.0 --directory /srv 80' >/dev/null
}

host_up() {
  local i=$1 name="$PREFIX-$1"
  if ! docker container inspect "$name" >/dev/null 2>&1; then
    # "Privileged" spelled out: every capability this engine may grant (it runs without
    # CAP_SYS_RESOURCE itself, so --privileged fails here), no seccomp or AppArmor profile, /proc and
    # /sys unmasked, and the cgroup hierarchies writable (cgroup v1: systemd and the inner engine
    # manage their subtree below this container's own cgroup).
    docker run -d --name "$name" --hostname "node$i" \
      --cap-add ALL --cap-drop SYS_RESOURCE \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --security-opt systempaths=unconfined \
      --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --network "$NETWORK" --ip "$BASE.$((10 + i))" \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
      -v "$name-docker:/var/lib/docker" \
      --label fnagent-test=1 \
      "$IMAGE" >/dev/null
  fi
  docker start "$name" >/dev/null
  wait_booted "$name"
  # The inner engine's containers get a cgroup parent of their own: the hierarchy is the machine's
  # (host cgroupns), and the default parent "/docker" is the outer engine's.
  if ! docker exec "$name" grep -qs "fnagent-test-inner-$name" /etc/docker/daemon.json; then
    docker exec "$name" sh -c "echo '{\"cgroup-parent\": \"/fnagent-test-inner-$name\"}' >/etc/docker/daemon.json && systemctl restart docker"
    wait_booted "$name"
  fi
  docker exec "$name" sh -c "ip route replace 169.254.169.254/32 via $METADATA_IP"
  local image
  for image in $RUNTIMES; do
    if ! docker exec "$name" docker image inspect "$image" >/dev/null 2>&1; then
      docker save "$image" | docker exec -i "$name" docker load >/dev/null
    fi
  done
  log "$name  $BASE.$((10 + i))  (systemd, dockerd, sshd; runtimes: $RUNTIMES)"
}

up() {
  build_image
  local image
  for image in $RUNTIMES; do
    docker image inspect "$image" >/dev/null 2>&1 || { log "runtime image $image is missing on the engine"; exit 1; }
  done
  if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
    docker network create --driver bridge --subnet "$SUBNET" --ip-range "$BASE.128/26" \
      --label fnagent-test=1 "$NETWORK" >/dev/null
  fi
  metadata_up
  local hosts=("$@")
  [ "${#hosts[@]}" -gt 0 ] || mapfile -t hosts < <(seq 1 "$COUNT")
  local pids=() i
  for i in "${hosts[@]}"; do
    host_up "$i" & pids+=($!)
  done
  local rc=0
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  return "$rc"
}

down() {
  local names name
  # The function containers first, by their own engine (it removes their cgroups too).
  for name in $(docker ps -q --filter "name=^$PREFIX-[0-9]+$" --filter label=fnagent-test=1 2>/dev/null); do
    timeout 60 docker exec "$name" sh -c 'docker ps -aq | xargs -r docker rm -f' >/dev/null 2>&1 || true
  done
  names=$(docker ps -aq --filter "name=^$PREFIX-" --filter label=fnagent-test=1 2>/dev/null || true)
  if [ -n "$names" ]; then
    # shellcheck disable=SC2086
    docker rm -f -v $names >/dev/null 2>&1 || true
  fi
  docker volume ls -q | grep "^$PREFIX-[0-9]*-docker$" | xargs -r docker volume rm >/dev/null 2>&1 || true
  # The inner engines' (now empty) cgroup parents.
  rmdir /sys/fs/cgroup/*/"fnagent-test-inner-$PREFIX"-* 2>/dev/null || true
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then
    log "network $NETWORK is still there (containers attached?)"
    return 1
  fi
}

purge() {
  down || true
  docker images -q "$REPO" | sort -u | xargs -r docker image rm -f >/dev/null 2>&1 || true
  rm -f "$CACHE"/systemd-host-*.tar
}

cmd=${1:-}
shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  purge) purge ;;
  image) build_image ;;
  *) echo "usage: $0 up [N...]|down|purge|image" >&2; exit 2 ;;
esac
