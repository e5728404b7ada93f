#!/usr/bin/env bash
# Build the Vektra image (default vektra:dev) on a machine whose Docker engine
# cannot pull images and whose builds get no network:
#
#   deploy/build-image.sh [--tag IMAGE] [--base IMAGE] [--local-base] [--native]
#                         [--force] [--verbose]
#
# 1. Base image: --base IMAGE, else python:3.11-slim-bookworm when the engine
#    already has it (and --local-base is not given), else vektra-base:bookworm,
#    built from Debian's packages by deploy/build-base-image.sh when missing.
# 2. Up to date? The image is labelled with a hash of its inputs (the sources
#    that .dockerignore lets in, the Dockerfile, the base image's id, the
#    flags); when the existing image carries the same hash nothing is rebuilt,
#    so every test in a CI run shares one build. --force rebuilds anyway.
# 3. Wheels: the host's Python ($PYTHON, default python3; must be the base
#    image's minor version, 3.11) runs `pip wheel` for the project and all its
#    runtime dependencies into deploy/wheels/. hnswlib has no binary wheel and
#    is compiled here, portable (no -march=native) unless --native.
# 4. docker build -f deploy/Dockerfile --build-arg BASE_IMAGE=<base> . installs
#    only from those wheels, then the image is checked by importing every
#    compiled dependency (hnswlib, lmdb, grpc, numpy) inside it.
#
# Environment: VEKTRA_IMAGE (tag), BASE_IMAGE, VEKTRA_BASE_IMAGE (name of the
# local base), PYTHON, VEKTRA_WHEEL_CACHE (pip cache for the wheel builds).

set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${VEKTRA_IMAGE:-vektra:dev}
BASE=${BASE_IMAGE:-}
PUBLIC_BASE=python:3.11-slim-bookworm
LOCAL_BASE=${VEKTRA_BASE_IMAGE:-vektra-base:bookworm}
PYTHON=${PYTHON:-python3}
NATIVE=0
FORCE=0
LOCAL=0
VERBOSE=0

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --tag) TAG=$2; shift 2 ;;
        --base) BASE=$2; shift 2 ;;
        --local-base) LOCAL=1; shift ;;
        --native) NATIVE=1; shift ;;
        --force) FORCE=1; shift ;;
        --verbose) VERBOSE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
START=$(now)
command -v docker >/dev/null || die "docker is not installed"

# One build at a time on this machine; a second caller then finds the image
# up to date.
LOCK=${TMPDIR:-/tmp}/vektra-build-image.lock
exec 9>"$LOCK"
if ! flock -n 9; then
    log "another build is running; waiting for it"
    flock 9
fi

# 1. The base image.
T0=$(now)
if [ -z "$BASE" ]; then
    if [ "$LOCAL" = 0 ] && docker image inspect "$PUBLIC_BASE" >/dev/null 2>&1; then
        BASE=$PUBLIC_BASE
    else
        BASE=$LOCAL_BASE
    fi
fi
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    case "$BASE" in
        "$LOCAL_BASE"|vektra-base:*) deploy/build-base-image.sh --name "$BASE" ;;
        *) die "base image $BASE is not on this machine (no registry to pull it from?); \
try --local-base" ;;
    esac
fi
BASE_ID=$(docker image inspect --format '{{.Id}}' "$BASE")
T_BASE=$(since "$T0")

# 2. Inputs, snapshotted: the paths .dockerignore lets in, copied to a
#    temporary folder, so that the hash and the wheel describe the same files
#    even while the tree is being edited (and no build/ folder of the tree
#    leaks stale modules into the wheel).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vektra-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mapfile -t SOURCES < <(sed -n 's|^!\(.*\)|\1|p' .dockerignore | sed 's|/$||' | grep -vx 'deploy/wheels')
[ "${#SOURCES[@]}" -gt 0 ] || die ".dockerignore lets no sources in"
tar -c --exclude=__pycache__ --exclude='*.pyc' "${SOURCES[@]}" | { mkdir "$WORK/src"; tar -x -C "$WORK/src"; }
cp deploy/Dockerfile .dockerignore "$WORK/"
HASH=$(
    cd "$WORK"
    {
        printf 'base=%s native=%s\n' "$BASE_ID" "$NATIVE"
        find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        sha256sum Dockerfile .dockerignore
    } | sha256sum | cut -c1-16
)
CURRENT=$(docker image inspect --format '{{ index .Config.Labels "vektra.source-hash" }}' "$TAG" 2>/dev/null || true)
if [ "$CURRENT" = "$HASH" ] && [ "$FORCE" = 0 ]; then
    log "$TAG is up to date (inputs $HASH, base $BASE): nothing to build (--force rebuilds)"
    exit 0
fi
log "building $TAG from base $BASE (inputs $HASH)"

# 3. Wheels on the host, for the base image's Python.
T0=$(now)
HOST_PY=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') ||
    die "cannot run $PYTHON"
BASE_PY=$(docker run --rm --network none --entrypoint python3 "$BASE" \
    -c 'import sys; print("%d.%d" % sys.version_info[:2])') || die "cannot run python3 in $BASE"
[ "$HOST_PY" = "$BASE_PY" ] ||
    die "host $PYTHON is $HOST_PY but $BASE has python $BASE_PY: set PYTHON to a python$BASE_PY"
FLAVOUR=portable
[ "$NATIVE" = 1 ] && FLAVOUR=native
# A cache of its own: pip keys built wheels by source, not by compiler flags,
# so a native hnswlib built for a venv must never end up in a portable image.
CACHE=${VEKTRA_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vektra-image}/pip-$FLAVOUR-py$HOST_PY
rm -rf deploy/wheels
mkdir -p deploy/wheels
(
    if [ "$NATIVE" = 1 ]; then unset HNSWLIB_NO_NATIVE; else export HNSWLIB_NO_NATIVE=1; fi
    "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --cache-dir "$CACHE" \
        --wheel-dir deploy/wheels "$WORK/src"
) >"$WORK/wheels.log" 2>&1 || { cat "$WORK/wheels.log" >&2; die "pip wheel failed"; }
[ "$VERBOSE" = 1 ] && cat "$WORK/wheels.log" >&2
ls deploy/wheels/vektra-*.whl >/dev/null 2>&1 || die "no vektra wheel was built"
T_WHEELS=$(since "$T0")
log "wheels: $(find deploy/wheels -name '*.whl' | wc -l) in deploy/wheels ($(du -sh deploy/wheels | cut -f1))"

# 4. The image, with no network of its own.
T0=$(now)
OLD_ID=$(docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)
OLD_BUILDERS=$(docker images --quiet --filter dangling=true --filter label=vektra.stage=builder)
NO_NATIVE=1
[ "$NATIVE" = 1 ] && NO_NATIVE=""
BUILD=(docker build --force-rm --network none -f deploy/Dockerfile -t "$TAG"
    --build-arg BASE_IMAGE="$BASE" --build-arg HNSWLIB_NO_NATIVE="$NO_NATIVE"
    --label vektra.source-hash="$HASH" .)
if [ "$VERBOSE" = 1 ]; then
    "${BUILD[@]}" >&2
else
    "${BUILD[@]}" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; die "docker build failed"; }
fi
T_BUILD=$(since "$T0")

# The compiled wheels built on the host must load in the image (glibc, C++ ABI).
T0=$(now)
docker run --rm --network none --entrypoint python "$TAG" -c '
import grpc, lmdb, numpy as np, hnswlib
import vektra.node.server, vektra.router.server, vektra.coordinator.server, vektra.common.healthcheck
index = hnswlib.Index(space="l2", dim=8)
index.init_index(max_elements=16)
index.add_items(np.eye(8, dtype=np.float32))
labels, _ = index.knn_query(np.eye(8, dtype=np.float32)[3:4], k=1)
assert int(labels[0][0]) == 3, labels
' || die "the image cannot load its compiled dependencies"
T_CHECK=$(since "$T0")
NEW_ID=$(docker image inspect --format '{{.Id}}' "$TAG")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker rmi "$OLD_ID" >/dev/null 2>&1 || true  # still used by a container: keep it
fi
# The legacy builder keeps each build's builder stage as an untagged image
# (~150 MB). Keep this build's (its first steps are cache for the next one),
# drop the ones from earlier builds.
if [ -n "$OLD_BUILDERS" ]; then
    # shellcheck disable=SC2086
    docker rmi $OLD_BUILDERS >/dev/null 2>&1 || true
fi
SIZE=$(docker image inspect --format '{{.Size}}' "$TAG" | awk '{ printf "%.0f MB", $1 / 1e6 }')
log "built $TAG ($SIZE, base $BASE)"
log "timings: base $T_BASE, wheels $T_WHEELS, docker build $T_BUILD, check $T_CHECK, total $(since "$START")"
