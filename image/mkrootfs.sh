#!/bin/sh
# Lay out the runtime file tree of the aws-oidc container image (everything except the
# aws-oidc binary itself) in DEST. The Dockerfile's final stage copies DEST to / and the
# binary to /usr/local/bin/aws-oidc.
#
#   sh image/mkrootfs.sh [--busybox PATH] [--ca-bundle PATH] [--license PATH] DEST
#
# Run by the Dockerfile's `rootfs` stage (Debian, busybox-static + ca-certificates
# installed) and by scripts/image-smoke.sh on the host; same defaults in both places:
#   --busybox   /bin/busybox                          (Debian package busybox-static)
#   --ca-bundle /etc/ssl/certs/ca-certificates.crt    (Debian package ca-certificates)
#
# DEST gets:
#   bin/busybox + one symlink per applet (sh, id, cat, env, …): /bin/sh for GitLab `script:`
#   etc/passwd, etc/group       root and the runtime user aws-oidc (10001:10001)
#   etc/nsswitch.conf           hosts: files dns (glibc's static resolver reads it)
#   etc/ssl/certs/ca-certificates.crt   (SSL_CERT_FILE in the image)
#   home/aws-oidc               HOME; the Dockerfile chowns it to 10001:10001
#   out, tmp                    mode 1777 (any uid may write: `docker run --user …`)
#   usr/share/doc/aws-oidc/LICENSE  (with --license)
# Nothing is chowned here, so this runs unprivileged; the image's ownership is set by
# the Dockerfile alone.
set -eu

busybox=/bin/busybox
ca_bundle=/etc/ssl/certs/ca-certificates.crt
license=""
while [ $# -gt 1 ]; do
  case "$1" in
    --busybox) busybox="$2"; shift 2 ;;
    --ca-bundle) ca_bundle="$2"; shift 2 ;;
    --license) license="$2"; shift 2 ;;
    *) echo "mkrootfs: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: mkrootfs.sh [--busybox P] [--ca-bundle P] [--license P] DEST" >&2; exit 2; }
dest="$1"

uid=10001
gid=10001
user=aws-oidc

[ -x "$busybox" ] || { echo "mkrootfs: no busybox at $busybox (Debian: busybox-static)" >&2; exit 1; }
[ -s "$ca_bundle" ] || { echo "mkrootfs: no CA bundle at $ca_bundle (Debian: ca-certificates)" >&2; exit 1; }
umask 022
mkdir -p "$dest/bin" "$dest/etc/ssl/certs" "$dest/home/$user" "$dest/out" "$dest/tmp" \
         "$dest/usr/local/bin"
chmod 1777 "$dest/out" "$dest/tmp"

cp "$busybox" "$dest/bin/busybox"
chmod 0755 "$dest/bin/busybox"
# One relative symlink per applet, all in /bin (PATH=/usr/local/bin:/bin in the image).
"$busybox" --list | while read -r applet; do
  case "$applet" in ''|busybox|*/*) continue ;; esac
  ln -sf busybox "$dest/bin/$applet"
done
[ -L "$dest/bin/sh" ] || { echo "mkrootfs: $busybox has no sh applet" >&2; exit 1; }

cp "$ca_bundle" "$dest/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$dest/etc/ssl/certs/ca-certificates.crt"

cat >"$dest/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
$user:x:$uid:$gid:aws-oidc:/home/$user:/bin/sh
EOF
cat >"$dest/etc/group" <<EOF
root:x:0:
nogroup:x:65534:
$user:x:$gid:
EOF
printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group" "$dest/etc/nsswitch.conf"

if [ -n "$license" ]; then
  mkdir -p "$dest/usr/share/doc/aws-oidc"
  cp "$license" "$dest/usr/share/doc/aws-oidc/LICENSE"
  chmod 0644 "$dest/usr/share/doc/aws-oidc/LICENSE"
fi
