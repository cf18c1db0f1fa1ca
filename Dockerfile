# aws-oidc container image: the static aws-oidc binary, a static busybox (/bin/sh and the
# usual applets), the Mozilla CA bundle, a non-root user (10001). About 7.5 MB (at most
# 8 MB: scripts/image-smoke.sh), FROM scratch.
#
# Build (needs a registry for rust:1-bookworm and debian:bookworm-slim):
#   docker build --build-arg VERSION=0.1.0 -t aws-oidc .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=0.1.0 -t IMAGE .
# The build stage cross-compiles on the build machine's platform (BUILDPLATFORM) for
# TARGETARCH: amd64 -> x86_64-unknown-linux-gnu, arm64 -> aarch64-unknown-linux-gnu.
# The small `rootfs` stage runs on the target platform (multi-arch builds: QEMU/binfmt).
#
# Any CI, as a command (the entrypoint is aws-oidc; outputs go to the mounted /out):
#   docker run --rm -e AWS_ID_TOKEN -v "$PWD:/out" --user "$(id -u):$(id -g)" IMAGE \
#     assume --role-arn arn:aws:iam::123456789012:role/deploy --output env=/out/aws.env
# (--user: so that the file belongs to you and a bind-mounted directory is writable;
# without it the image runs as 10001:10001, HOME=/home/aws-oidc.)
#
# GitLab CI, as the job image: GitLab runs the `script:` lines through a POSIX shell
# inside the image, so the aws-oidc ENTRYPOINT must be switched off with `entrypoint: [""]`;
# /bin/sh is busybox:
#   deploy:
#     image:
#       name: IMAGE
#       entrypoint: [""]
#     id_tokens:
#       AWS_ID_TOKEN:
#         aud: sts.amazonaws.com
#     script:
#       - eval "$(aws-oidc assume --role-arn arn:aws:iam::123456789012:role/deploy --output sh)"
#
# Offline build from a locally built binary (no base image pulled): scripts/image-smoke.sh.
# Both paths build the same final stage, `image`. It takes everything from two sources
# named `build` (/out/aws-oidc) and `rootfs` (/rootfs/, laid out by image/mkrootfs.sh).
# Here those are the stages below; the offline path replaces them with local directories
# of the same layout,
#   podman build --target image --build-context build=DIR --build-context rootfs=DIR ...
# and podman/buildah (--skip-unused-stages, the default) then never builds or pulls them.
# Keep that contract: the final stage may only COPY --from=build and --from=rootfs.

ARG RUST_IMAGE=rust:1-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------- build
FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS build
ARG TARGETARCH
ARG BUILDARCH
WORKDIR /src
# Rust std for the target and, when cross-compiling, a cross gcc with the target's
# static glibc (the linker, and ring's C and assembly).
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) triple=x86_64-unknown-linux-gnu;  gnu=x86_64-linux-gnu ;; \
      arm64) triple=aarch64-unknown-linux-gnu; gnu=aarch64-linux-gnu ;; \
      *) echo "unsupported TARGETARCH '$TARGETARCH' (amd64, arm64)" >&2; exit 1 ;; \
    esac; \
    rustup target add "$triple"; \
    if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "gcc-$gnu" "libc6-dev-$TARGETARCH-cross"; \
      rm -rf /var/lib/apt/lists/*; \
    fi
COPY . .
# RUSTFLAGS='-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs' cargo build --release --locked --target <triple>,
# checked to be static, copied to /out/aws-oidc.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    bash scripts/build-static.sh --arch "$TARGETARCH" --copy-to /out/aws-oidc

# --------------------------------------------------------------------------- rootfs
FROM ${DEBIAN_IMAGE} AS rootfs
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      busybox-static ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY image/mkrootfs.sh LICENSE /tmp/
RUN sh /tmp/mkrootfs.sh --license /tmp/LICENSE /rootfs

# ---------------------------------------------------------------------------- image
FROM scratch AS image
ARG VERSION=dev
ARG REVISION=unknown
# Set to the project's public repository URL.
ARG SOURCE_URL=https://example.invalid/aws-oidc
COPY --from=rootfs /rootfs/ /
# HOME must belong to the runtime user (`--output profile=` writes ~/.aws); set here so
# that it holds whatever ownership the rootfs source had.
COPY --from=rootfs --chown=10001:10001 /rootfs/home/ /home/
COPY --from=build /out/aws-oidc /usr/local/bin/aws-oidc
# The binary also bundles Mozilla's roots as a fallback; SSL_CERT_FILE names the
# image's bundle so that it can be replaced (mount another file, or set the variable).
ENV PATH=/usr/local/bin:/bin \
    HOME=/home/aws-oidc \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 10001:10001
WORKDIR /out
LABEL org.opencontainers.image.title="aws-oidc" \
      org.opencontainers.image.description="Turn a CI job's OpenID Connect ID token into short-lived AWS credentials" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENTRYPOINT ["aws-oidc"]
CMD ["--help"]
