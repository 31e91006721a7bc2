#!/usr/bin/env bash
# Builds the Debian package mpssh_<version>-<revision>_<arch>.deb from this
# checkout: the compiled daemon and client, the native addon, the dashboard
# files and the production dependencies under /usr/lib/mpssh, wrappers in
# /usr/sbin and /usr/bin, the configuration as a conffile, the systemd unit,
# man pages and the Debian documentation.
#
#   packaging/build-deb.sh [--no-build] [--out DIR]
#
#   --no-build  use dist/ and native/build/ as they are (tests do this: they
#               run from dist/ and must not see it rebuilt under them)
#   --out DIR   where the .deb goes (default: deb/)
#
# Environment: DEB_REVISION (default 1); DEBFULLNAME and DEBEMAIL name the
# maintainer, else package.json's "author", else git's user.name and
# user.email; SOURCE_DATE_EPOCH (default: the last commit's time) dates the
# changelog and the man pages.
# Needs dpkg-deb and dpkg-shlibdeps (dpkg-dev), binutils (strip), gzip.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD

build=1
out=deb
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) build=0 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    *) echo "usage: $0 [--no-build] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "build-deb: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps strip gzip node npm; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: dpkg-dev, binutils, gzip, nodejs)"
done

version=$(node -p 'require("./package.json").version')
revision=${DEB_REVISION:-1}
debversion="$version-$revision"
arch=$(dpkg --print-architecture)
# The native modules are built for the Node.js running here; they must be of
# the architecture the package claims.
node_arch=$(node -p 'process.arch')
case "$node_arch" in
  x64) expect=amd64 ;; arm64) expect=arm64 ;; arm) expect=armhf ;; ia32) expect=i386 ;;
  ppc64) expect=ppc64el ;; s390x) expect=s390x ;; riscv64) expect=riscv64 ;; *) expect=$node_arch ;;
esac
[ "$expect" = "$arch" ] || die "node is $node_arch but dpkg's architecture is $arch"

maintainer=""
if [ -n "${DEBEMAIL:-}" ]; then
  maintainer="${DEBFULLNAME:-mpssh maintainers} <$DEBEMAIL>"
else
  maintainer=$(node -p 'const a = require("./package.json").author; typeof a === "string" ? a : a && a.email ? `${a.name} <${a.email}>` : ""')
  if [ -z "$maintainer" ] && git config user.email >/dev/null 2>&1; then
    maintainer="$(git config user.name) <$(git config user.email)>"
  fi
fi
[ -n "$maintainer" ] || die 'no maintainer: set DEBFULLNAME and DEBEMAIL, or "author" in package.json'

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

if [ "$build" = 1 ]; then
  [ -f native/build/Release/mpssh_native.node ] && [ -f native/build/Release/mpsshd-user-helper ] || npm run build:native >/dev/null
  npm run build:ts >/dev/null
fi
[ -f dist/src/main.js ] || die "dist/src/main.js missing: run npm run build:ts"
[ -f native/build/Release/mpssh_native.node ] || die "native addon missing: run npm run build:native"
[ -f native/build/Release/mpsshd-user-helper ] || die "user-side helper missing: run npm run build:native"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/root
lib=$pkg/usr/lib/mpssh
doc=$pkg/usr/share/doc/mpssh
mkdir -p "$lib/bin" "$lib/dist" "$lib/native/build/Release" "$lib/src/api" "$lib/node_modules" \
  "$pkg/usr/sbin" "$pkg/usr/bin" "$pkg/etc/mpssh" "$pkg/usr/lib/systemd/system" "$doc" \
  "$pkg/usr/share/man/man1" "$pkg/usr/share/man/man5" "$pkg/usr/share/man/man8" "$pkg/DEBIAN"

# --- The program: compiled code, addon, dashboard, a package.json (the
# version and the dashboard's package root come from it).
cp bin/mpsshd.js bin/mpssh.js "$lib/bin/"
cp -r dist/src "$lib/dist/src"
find "$lib/dist" -name '*.map' -delete
cp native/build/Release/mpssh_native.node native/build/Release/mpsshd-user-helper "$lib/native/build/Release/"
cp -r src/api/dashboard "$lib/src/api/dashboard"
node -e '
  const p = require("./package.json");
  const keep = { name: p.name, version: p.version, description: p.description, license: p.license, private: true, main: p.main, dependencies: p.dependencies };
  process.stdout.write(JSON.stringify(keep, null, 2) + "\n");' >"$lib/package.json"

# --- Production dependencies, as npm resolved them here.
npm ls --omit=dev --all --parseable 2>/dev/null | node packaging/debian/copy-modules.js "$root_dir" "$lib" 2>/dev/null
nm=$lib/node_modules
# Prebuilt binaries for other systems, native build leftovers, sources, docs.
find "$nm" -type d -name prebuilds -prune -print | while read -r d; do
  find "$d" -mindepth 1 -maxdepth 1 ! -name "linux-$node_arch" -exec rm -rf {} +
done
# node-gyp's build directories (not every "build" is one: some packages ship code there).
find "$nm" -type d -name build -prune -print | while read -r d; do
  [ -f "$d/config.gypi" ] || [ -f "$d/Makefile" ] || continue
  find "$d" -mindepth 1 ! -path "$d/Release" ! -path "$d/Release/*.node" -prune -exec rm -rf {} +
done
find "$nm" -type f \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.gyp' -o -name '*.gypi' \
  -o -name Makefile -o -name '*.mk' -o -name '*.md' -o -name '*.markdown' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
  -o -name '.npmignore' -o -name '.eslintrc*' -o -name '.editorconfig' -o -name '.travis.yml' -o -name '.gitattributes' -o -name '.prettierrc*' -o -name 'tsconfig*.json' -o -name '*.sh' -o -name '*.html' \) ! -iname 'licen[cs]e*' -delete
find "$nm" -type d -empty -delete

# Every shared object: stripped, and of this architecture.
find "$lib" -name '*.node' | while read -r so; do
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$so"
done
strip --remove-section=.comment --remove-section=.note "$lib/native/build/Release/mpsshd-user-helper"

# --- Entry points. exec keeps node as the service's main process (the one
# systemd takes notifications from).
cat >"$pkg/usr/sbin/mpsshd" <<'EOF'
#!/bin/sh
# --max-semi-space-size=1: see /usr/lib/mpssh/bin/mpsshd.js.
exec /usr/bin/node --max-semi-space-size=1 /usr/lib/mpssh/bin/mpsshd.js "$@"
EOF
cat >"$pkg/usr/bin/mpssh" <<'EOF'
#!/bin/sh
exec /usr/bin/node /usr/lib/mpssh/bin/mpssh.js "$@"
EOF

# --- Configuration, unit, man pages, documentation.
cp etc/mpsshd.yaml "$pkg/etc/mpssh/mpsshd.yaml"
# The PAM service of UsePAM yes (PAMServiceName mpsshd), Debian's sshd stacks.
mkdir -p "$pkg/etc/pam.d"
cp packaging/pam.d/mpsshd "$pkg/etc/pam.d/mpsshd"
cp packaging/systemd/mpsshd.service "$pkg/usr/lib/systemd/system/"
man_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
for page in mpssh.1 mpsshd.yaml.5 mpsshd.8; do
  sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$man_date/" "packaging/man/$page" | gzip -9n >"$pkg/usr/share/man/man${page##*.}/$page.gz"
done
cp packaging/debian/README.Debian "$doc/"
{
  printf 'mpssh (%s) unstable; urgency=medium\n\n' "$debversion"
  printf '  * mpssh %s, built from commit %s.\n\n' "$version" "$commit"
  printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
node packaging/debian/copyright.js "$lib" >"$doc/copyright"

# --- Control area.
for script in postinst prerm postrm; do
  cp "packaging/debian/$script" "$pkg/DEBIAN/$script"
done
printf '%s\n' /etc/mpssh/mpsshd.yaml /etc/pam.d/mpsshd >"$pkg/DEBIAN/conffiles"

# Modes: dpkg-deb packs what is on disk.
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg" -type f -exec chmod 0644 {} +
chmod 0755 "$pkg/usr/sbin/mpsshd" "$pkg/usr/bin/mpssh" "$pkg"/DEBIAN/{postinst,prerm,postrm}
# The user-side helper: executable, and never setuid (root starts it; it becomes the user).
chmod 0755 "$lib/native/build/Release/mpsshd-user-helper"
# Scripts (a first line "#!") stay runnable; the launchers name Debian's node
# directly instead of looking it up with env.
sed -i -e '1s|^#!/usr/bin/env -S node|#!/usr/bin/node|' -e '1s|^#!/usr/bin/env node|#!/usr/bin/node|' "$lib"/bin/*.js
grep -rlZ -m1 '^#!' "$lib" | while IFS= read -r -d '' f; do
  IFS= read -r -n 2 first <"$f" || true
  if [ "$first" = '#!' ]; then chmod 0755 "$f"; fi
done

# Library dependencies of the shared objects and the helper (libpam for the
# helper's PAM sessions, glibc, ...), as dpkg-shlibdeps finds them.
mkdir -p "$stage/src/debian"
printf 'Source: mpssh\n\nPackage: mpssh\nArchitecture: any\n' >"$stage/src/debian/control"
mapfile -t objects < <(find "$lib" -name '*.node'; echo "$lib/native/build/Release/mpsshd-user-helper")
shlibs=$(cd "$stage/src" && dpkg-shlibdeps --warnings=0 -O "${objects[@]/#/-e}" | sed -n 's/^shlibs:Depends=//p')

(cd "$pkg" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
installed_size=$(du -s -k --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: mpssh
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: nodejs (>= 20), openssh-sftp-server, $shlibs
Recommends: openssh-client
Section: net
Priority: optional
Description: multipath SSH: MPTCP path manager, SSH server and client
 mpsshd keeps the kernel's Multipath TCP endpoints in step with the
 host's interfaces, addresses and routes (a mode per interface, address
 rules, a route check, the kernel's limits), removes the endpoints of a
 link that goes down and re-reads the whole state on every change.
 .
 It is also an SSH server on MPTCP sockets, configured with OpenSSH's
 sshd_config names, whose sessions outlive a restart of the daemon, and
 it serves a status API on loopback.
 .
 mpssh runs the system OpenSSH client over MPTCP.
EOF

mkdir -p "$out"
deb="$out/mpssh_${debversion}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
