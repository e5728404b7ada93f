#!/usr/bin/env bash
# Build a Debian base image with python3 locally, from Debian's packages, for
# machines whose Docker engine cannot pull images (no container registry).
#
#   deploy/build-base-image.sh [--name IMAGE] [--suite SUITE] [--mirror URL]
#                              [--tool mmdebstrap|debootstrap] [--force]
#
# The result (default vektra-base:bookworm) stands in for the public
# python:3.11-slim-bookworm image as deploy/Dockerfile's BASE_IMAGE: a minbase
# Debian root file system (the same release as the host) plus python3,
# python3-venv and ca-certificates, without documentation or apt lists,
# imported with `docker import`.
#
# The root file system is made by mmdebstrap (Debian's faster debootstrap
# successor: parallel downloads with apt, one pass of dpkg, a tarball on
# stdout) or, with --tool debootstrap, by `debootstrap --variant=minbase` in a
# temporary folder. A missing tool is installed with apt-get. Both read the
# Debian mirror from the host's apt sources (default http://deb.debian.org/debian).
#
# Idempotent: does nothing when the image already exists, unless --force.
# Needs root (the root file system's files belong to root and other users).

set -euo pipefail

NAME=${VEKTRA_BASE_IMAGE:-vektra-base:bookworm}
SUITE=bookworm
MIRROR=""
SECURITY_MIRROR=""
TOOL=auto
FORCE=0
# What the Vektra image needs besides minbase: python3 with venv (the builder
# stage makes /opt/vektra with it), TLS roots, the C++ runtime (hnswlib) and
# useradd (passwd).
PACKAGES=python3,python3-venv,ca-certificates,libstdc++6,passwd

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
log() { printf 'build-base-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --name) NAME=$2; shift 2 ;;
        --suite) SUITE=$2; shift 2 ;;
        --mirror) MIRROR=$2; shift 2 ;;
        --tool) TOOL=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
START=$(now)

command -v docker >/dev/null || die "docker is not installed"
if docker image inspect "$NAME" >/dev/null 2>&1 && [ "$FORCE" = 0 ]; then
    log "$NAME already exists: nothing to do (--force rebuilds it)"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root (try: sudo $0)"

# The URI of the host's apt source for SUITE, from deb822 .sources files and
# one-line sources.list files; empty when there is none.
host_mirror() {
    local suite=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""; types = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^[ \t]*#/) continue
                    if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
                    if ($i ~ /^Types:/) { types = $i }
                }
                if (types !~ /(^|[ \t:])deb([ \t]|$)/) next
                n = split(suites, s, /[ \t]+/)
                for (j = 1; j <= n; j++) if (s[j] == suite) { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2 }'
    done
}
pick_mirror() { host_mirror "$1" | head -n 1; }

[ -n "$MIRROR" ] || MIRROR=$(pick_mirror "$SUITE")
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=$(pick_mirror "$SUITE-security")
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${SECURITY_MIRROR%/}

ensure_tool() {
    command -v "$1" >/dev/null && return 0
    log "installing $1 with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # Try the current package lists first; refresh them only if that fails.
    apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 || {
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "$1" >/dev/null
    }
    command -v "$1" >/dev/null
}

if [ "$TOOL" = auto ]; then
    if ensure_tool mmdebstrap; then TOOL=mmdebstrap; else TOOL=debootstrap; fi
fi
case "$TOOL" in
    mmdebstrap|debootstrap) ensure_tool "$TOOL" || die "cannot install $TOOL" ;;
    *) die "--tool must be mmdebstrap or debootstrap" ;;
esac
log "building $NAME: Debian $SUITE ($TOOL, variant minbase) from $MIRROR + $PACKAGES"
T_TOOL=$(since "$START")

# Run inside the new root file system before it is packed: keep it small.
# shellcheck disable=SC2016  # expanded by the shell that runs it
SLIM='set -e; r=$1;
rm -rf "$r"/var/lib/apt/lists/*_* "$r"/var/cache/apt/*.bin "$r"/var/cache/debconf/*-old \
       "$r"/var/log/apt/* "$r"/var/log/*.log "$r"/usr/share/man/* "$r"/usr/share/info/* \
       "$r"/usr/share/locale/* "$r"/usr/share/lintian "$r"/etc/dpkg/dpkg.cfg.d/99mmdebstrap;
find "$r"/var/cache/apt/archives -name "*.deb" -delete;
find "$r"/usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete;
find "$r"/usr/share/doc -mindepth 1 -type d -empty -delete'

TMP_TAG="vektra-base-build:$$"
IMPORT_CHANGES=(
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change 'ENV LANG=C.UTF-8'
    --change 'CMD ["python3"]'
    --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase + python3, built by deploy/build-base-image.sh\""
    --change "LABEL vektra.base.suite=$SUITE"
    --change "LABEL vektra.base.mirror=$MIRROR"
)

T0=$(now)
if [ "$TOOL" = mmdebstrap ]; then
    # Docs are dropped after the install, not by dpkg path-exclude: with an
    # exclude, mmdebstrap filters every package through a Python tar filter,
    # which made the whole build 10 s slower.
    # Merged /usr with usr-is-merged as debootstrap does it (otherwise apt
    # picks usrmerge, which pulls in perl: 50 MB more).
    MERGED_USR=()
    if [ -d /usr/share/mmdebstrap/hooks/merged-usr ]; then
        MERGED_USR=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
    fi
    LOG=$(mktemp "${TMPDIR:-/tmp}/vektra-mmdebstrap.XXXXXX.log")
    trap 'rm -f "$LOG"' EXIT
    if ! mmdebstrap --quiet --mode=root --variant=minbase --components=main \
        --include="$PACKAGES" --dpkgopt=force-unsafe-io \
        --aptopt='APT::Install-Recommends "false"' \
        "${MERGED_USR[@]}" \
        --customize-hook="$SLIM" \
        "$SUITE" - \
        "deb $MIRROR $SUITE main" \
        "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main" 2>"$LOG" |
        docker import "${IMPORT_CHANGES[@]}" - "$TMP_TAG" >/dev/null; then
        tail -n 30 "$LOG" >&2
        docker rmi "$TMP_TAG" >/dev/null 2>&1 || true
        die "mmdebstrap failed"
    fi
    T_ROOTFS=$(since "$T0")
    T_IMPORT="(streamed)"
else
    ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/vektra-rootfs.XXXXXX")
    trap 'rm -rf "$ROOTFS"' EXIT
    debootstrap --variant=minbase --components=main --include="$PACKAGES" \
        "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 ||
        { tail -n 30 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; die "debootstrap failed"; }
    rm -f "$ROOTFS.log"
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SECURITY_MIRROR" "$SUITE" \
        >"$ROOTFS/etc/apt/sources.list"
    bash -c "$SLIM" slim "$ROOTFS"
    T_ROOTFS=$(since "$T0")
    T1=$(now)
    tar --numeric-owner -C "$ROOTFS" -c . |
        docker import "${IMPORT_CHANGES[@]}" - "$TMP_TAG" >/dev/null
    T_IMPORT=$(since "$T1")
fi

# Only a base that runs what the Vektra image needs gets the real name.
T1=$(now)
if ! docker run --rm --network none "$TMP_TAG" python3 -c \
    'import venv, ensurepip, ssl, sqlite3, ctypes, sys; print(sys.version.split()[0])' >/dev/null; then
    docker rmi "$TMP_TAG" >/dev/null 2>&1 || true
    die "the new base image cannot run python3 with venv"
fi
OLD_ID=$(docker image inspect --format '{{.Id}}' "$NAME" 2>/dev/null || true)
docker tag "$TMP_TAG" "$NAME"
docker rmi "$TMP_TAG" >/dev/null
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$(docker image inspect --format '{{.Id}}' "$NAME")" ]; then
    docker rmi "$OLD_ID" >/dev/null 2>&1 || true  # --force: drop the old one unless in use
fi
T_CHECK=$(since "$T1")

SIZE=$(docker image inspect --format '{{.Size}}' "$NAME" | awk '{ printf "%.0f MB", $1 / 1e6 }')
PYVER=$(docker run --rm --network none "$NAME" python3 -c 'import sys; print(sys.version.split()[0])')
log "built $NAME (python $PYVER, $SIZE)"
log "timings: tool $T_TOOL, root file system $T_ROOTFS, import $T_IMPORT, check $T_CHECK, total $(since "$START")"
