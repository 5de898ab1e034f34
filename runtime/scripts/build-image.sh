#!/usr/bin/env bash
# Builds the ha-runtime image with podman, offline: compiles runtime/, assembles a base image
# FROM scratch out of this machine's `node` binary and the shared libraries `ldd` lists (no
# registry needed), then builds runtime/Dockerfile with BASE_IMAGE pointing at it. The build
# context is assembled in a temporary directory: package.json, bin/, lib/ and node_modules/ with
# the runtime's production dependencies copied from the installed tree (scripts/copy-prod-deps.js).
#
# usage: runtime/scripts/build-image.sh [IMAGE_TAG]     (default localhost/ha-runtime:dev)
# env:   BASE_IMAGE=...  use this base instead of assembling one (e.g. node:20-bookworm-slim)
#        SKIP_COMPILE=1  reuse runtime/lib as it is
set -euo pipefail
runtime_dir=$(cd "$(dirname "$0")/.." && pwd)
repo_dir=$(cd "$runtime_dir/.." && pwd)
tag=${1:-localhost/ha-runtime:dev}

command -v podman >/dev/null || { echo "build-image: podman is not installed (apt-get install -y podman runc)" >&2; exit 3; }

if [ "${SKIP_COMPILE:-}" != 1 ]; then
  (cd "$repo_dir" && npx tsc -p runtime/tsconfig.json)
fi
[ -f "$runtime_dir/lib/main.js" ] || { echo "build-image: $runtime_dir/lib/main.js missing; compile runtime first" >&2; exit 3; }

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  node_bin=$(readlink -f "$(command -v node)")
  base="localhost/ha-runtime-node-base:$(node -v)"
  if ! podman image exists "$base"; then
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp"
    cp "$node_bin" "$ctx/rootfs/usr/local/bin/node"
    # Every library the dynamic loader needs, at the path ldd resolved it to (plus the loader itself).
    for lib in $(ldd "$node_bin" | grep -o '/[^ )]*'); do
      mkdir -p "$ctx/rootfs$(dirname "$lib")"
      cp -L "$lib" "$ctx/rootfs$lib"
    done
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$ctx/rootfs/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$ctx/rootfs/etc/group"
    printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin\n' > "$ctx/Containerfile"
    podman build --quiet -t "$base" -f "$ctx/Containerfile" "$ctx" >/dev/null
  fi
fi
app=$(mktemp -d)
trap 'rm -rf "$app" "${ctx:-}"' EXIT
cp -r "$runtime_dir/package.json" "$runtime_dir/bin" "$runtime_dir/lib" "$app/"
node "$runtime_dir/scripts/copy-prod-deps.js" "$app" >/dev/null
podman build --quiet --build-arg "BASE_IMAGE=$base" -t "$tag" -f "$runtime_dir/Dockerfile" "$app" >/dev/null
echo "$tag"
