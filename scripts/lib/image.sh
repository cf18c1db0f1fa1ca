# shellcheck shell=bash
# Building the container image the way the Dockerfile's final stage does, from a static
# binary already built (podman, sources from a local directory: the Dockerfile's `build`
# and `rootfs` stages are replaced with --build-context). Shared by scripts/image-smoke.sh
# and bench/run.sh. Source it, then:
#
#   image_containers_conf          # exports CONTAINERS_CONF=<repo>/../shared/containers/
#                                  # containers.conf when unset and that file exists
#   image_build BIN IMAGE DIR VERSION
#       builds IMAGE (tag) from BIN with the VERSION label, using DIR as scratch space
#       (DIR/iid holds the new image id, DIR/build.log podman's output); drops the image
#       the tag pointed to before when nothing else uses it. Returns 1 when podman fails.

_image_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

image_containers_conf() {
  if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$_image_repo/../shared/containers/containers.conf" ]; then
    CONTAINERS_CONF="$(cd "$_image_repo/../shared/containers" && pwd)/containers.conf"
  fi
  if [ -n "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF
    echo "CONTAINERS_CONF=$CONTAINERS_CONF" >&2
  fi
}

image_build() {
  local bin="$1" image="$2" dir="$3" version="$4" ctx revision old_id new_id
  ctx="$dir/ctx"
  rm -rf "$ctx"
  mkdir -p "$ctx/out"
  # Same layout as the Dockerfile's stages: build:/out/aws-oidc and rootfs:/rootfs/.
  install -m 0755 "$bin" "$ctx/out/aws-oidc"
  sh "$_image_repo/image/mkrootfs.sh" --license "$_image_repo/LICENSE" "$ctx/rootfs" || return 1

  revision="$(git -C "$_image_repo" rev-parse HEAD 2>/dev/null || echo unknown)"
  old_id="$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
  # --layers=false: no intermediate cache images pile up (the build takes seconds anyway).
  if ! podman build --pull=never --layers=false --target image \
         --build-context "build=$ctx" --build-context "rootfs=$ctx" \
         --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
         --iidfile "$dir/iid" -t "$image" -f "$_image_repo/Dockerfile" "$ctx" >"$dir/build.log" 2>&1; then
    cat "$dir/build.log" >&2
    return 1
  fi
  new_id="$(cat "$dir/iid")"
  new_id="${new_id#sha256:}"
  # Drop the image this tag pointed to before, if nothing else uses it.
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    podman rmi "$old_id" >/dev/null 2>&1 || true
  fi
}
