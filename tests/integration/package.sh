#!/bin/bash
# package.sh - cpack makes a .deb per role; the collector's, unpacked into a throwaway root, has
# the binary, the unit, the example config, its copyright and docs, and depends on the libraries
# it links; /etc/edu/*.ini and the rules are conffiles, the maintainer scripts enable, restart
# and stop the units with deb-systemd-helper/-invoke; and installed with dpkg into a throwaway
# root, upgraded twice (once with the package's config unchanged, once changed) and purged, a
# county's edit of its config survives both upgrades, while a package without the conffiles
# list loses it
#
#   package.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/check.sh"

build=$(cd "$bin/.." && pwd)
work=$(mktemp -d /tmp/edu-package.XXXXXX)
trap 'check_keep_on_failure "$work"' EXIT
mkdir -p "$work/log"
(cd "$build" && cpack -G DEB -B "$work/debs" >"$work/log/cpack.log" 2>&1)
check_eq "$?" 0 "cpack -G DEB succeeds"
for role in collector aggregator province tools; do
  check_eq "$(ls "$work"/debs/eduwatch-${role}_*_*.deb 2>/dev/null | wc -l)" 1 "a package for $role"
done
deb=$(ls "$work"/debs/eduwatch-collector_*.deb | head -1)
tools=$(ls "$work"/debs/eduwatch-tools_*.deb | head -1)
dpkg -x "$deb" "$work/root"
for f in usr/bin/edu-collector lib/systemd/system/edu-collector.service etc/edu/collector.ini \
  usr/share/doc/eduwatch-collector/copyright usr/share/doc/eduwatch-collector/operations.md; do
  check_eq "$(test -f "$work/root/$f" && echo yes)" yes "the collector package has /$f"
done
check_grep '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
  "$work/root/usr/share/doc/eduwatch-collector/copyright" "its copyright file is machine-readable"
check_grep '^Documentation=file:///usr/share/doc/eduwatch-collector/operations.md$' \
  "$work/root/lib/systemd/system/edu-collector.service" "the unit's Documentation= is in the package"
check_eq "$(test -x "$work/root/usr/bin/edu-collector" && echo yes)" yes "edu-collector is executable"
"$work/root/usr/bin/edu-collector" --version >"$work/version" 2>&1
check_grep '^edu-collector [0-9]' "$work/version" "the packaged edu-collector runs"
check_grep '^school = +; required' "$work/root/etc/edu/collector.ini" "the example config lists every key"
dpkg-deb -I "$deb" >"$work/control"
check_grep 'Depends: .*libczmq4.*libzmq5' "$work/control" "it depends on the libraries it links"
check_grep 'Depends: .*eduwatch-tools' "$work/control" "and on the tools (edu-keygen)"
check_grep 'Depends: .*init-system-helpers' "$work/control" "and on deb-systemd-helper"
dpkg-deb -e "$deb" "$work/control.d"
check_eq "$(cat "$work/control.d/conffiles")" /etc/edu/collector.ini "its config is a conffile"
dpkg-deb --ctrl-tarfile "$(ls "$work"/debs/eduwatch-aggregator_*.deb)" | tar -xO ./conffiles >"$work/agg.conffiles"
check_eq "$(sort "$work/agg.conffiles" | tr '\n' ' ')" '/etc/edu/aggregator.ini /etc/edu/rules.ini ' \
  "the aggregator's config and rules are conffiles"
check_eq "$(dpkg-deb --ctrl-tarfile "$tools" | tar -xO ./conffiles)" /etc/edu/alerts.ini \
  "the supervisors' config is a conffile"
for script in postinst prerm postrm; do
  sh -n "$work/control.d/$script"
  check_eq "$?" 0 "$script is valid sh"
  check_eq "$(stat -c %a "$work/control.d/$script")" 755 "$script is 0755"
done
check_grep 'adduser --system .*edu-collector' "$work/control.d/postinst" "postinst makes the service user"
check_grep 'deb-systemd-helper enable "\$unit"' "$work/control.d/postinst" "postinst enables the unit with deb-systemd-helper"
check_grep 'deb-systemd-invoke restart "\$unit"' "$work/control.d/postinst" "and restarts it after an upgrade"
check_grep 'deb-systemd-invoke stop edu-collector.service' "$work/control.d/prerm" "prerm stops it on removal"
check_grep 'deb-systemd-helper purge "\$unit"' "$work/control.d/postrm" "postrm purges its enablement"
check_grep '^Type=notify' "$work/root/lib/systemd/system/edu-collector.service" "the unit is Type=notify"
check_grep '^ProtectSystem=strict' "$work/root/lib/systemd/system/edu-collector.service" "the unit is hardened"
if command -v systemd-analyze >/dev/null; then
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$work/root/lib/systemd/system/edu-collector.service" \
    >"$work/log/verify.log" 2>&1
  check_no_grep 'edu-collector.service:[0-9]+' "$work/log/verify.log" "systemd-analyze finds nothing wrong in the unit"
fi

# --- install, edit, upgrade, purge, in a throwaway root ----------------------------------------
# dpkg --root with the scripts run outside a chroot (DPKG_ROOT set: they leave accounts and
# services of this machine alone; deb-systemd-helper enables the unit inside the root)
repack() { # repack DEB VERSION OUT [--changed-config] [--no-conffiles] - the same package, another version
  local deb=$1 version=$2 out=$3 d=$work/repack
  shift 3
  rm -rf "$d"
  dpkg-deb -R "$deb" "$d"
  sed -i "s/^Version: .*/Version: $version/" "$d/DEBIAN/control"
  for opt in "$@"; do
    case $opt in
    --changed-config) printf '; a default the new version changed\n' >>"$d/etc/edu/collector.ini" ;;
    --no-conffiles) rm -f "$d/DEBIAN/conffiles" ;;
    esac
  done
  (cd "$d" && find etc lib usr -type f -exec md5sum {} + >DEBIAN/md5sums)
  dpkg-deb --root-owner-group -b "$d" "$out" >/dev/null
}
sysroot() { # sysroot DIR - an empty dpkg database
  mkdir -p "$1/var/lib/dpkg/updates" "$1/var/lib/dpkg/info"
  : >"$1/var/lib/dpkg/status"
}
dpkg_in() { # dpkg_in DIR ARGS... - dpkg on the throwaway root DIR
  local dir=$1
  shift
  PATH="/usr/sbin:/sbin:$PATH" dpkg --root="$dir" --log="$work/log/dpkg.log" --force-not-root \
    --force-script-chrootless --force-depends --force-unsafe-io "$@" </dev/null
}
repack "$deb" 0.1.0+1 "$work/v1.deb"
repack "$deb" 0.1.0+2 "$work/v2.deb"
repack "$deb" 0.1.0+3 "$work/v3.deb" --changed-config
sys=$work/sys
sysroot "$sys"
dpkg_in "$sys" -i "$tools" "$deb" >"$work/log/install.log" 2>&1
check_eq "$?" 0 "dpkg installs the tools and the collector into a throwaway root"
check_eq "$(test -f "$sys/usr/bin/edu-collector" && echo yes)" yes "the collector is installed there"
check_eq "$(readlink "$sys/etc/systemd/system/multi-user.target.wants/edu-collector.service")" \
  /lib/systemd/system/edu-collector.service "postinst enabled the unit (deb-systemd-helper)"
sed -i 's/^school = .*/school = 2143004052 ; the county set it/' "$sys/etc/edu/collector.ini"
edited=$(md5sum <"$sys/etc/edu/collector.ini")
dpkg_in "$sys" -i "$work/v1.deb" >"$work/log/upgrade1.log" 2>&1
check_eq "$?" 0 "an upgrade (its config unchanged) installs without a question"
check_eq "$(md5sum <"$sys/etc/edu/collector.ini")" "$edited" "the county's edited config is kept"
dpkg_in "$sys" --force-confold -i "$work/v3.deb" >"$work/log/upgrade3.log" 2>&1
check_eq "$?" 0 "an upgrade whose package changed the config installs (--force-confold)"
check_eq "$(md5sum <"$sys/etc/edu/collector.ini")" "$edited" "the county's edited config is kept again"
check_grep 'a default the new version changed' "$sys/etc/edu/collector.ini.dpkg-dist" \
  "the package's new config is beside it, as collector.ini.dpkg-dist"
check_grep '^ /etc/edu/collector.ini [0-9a-f]{32}' <(dpkg_in "$sys" -s eduwatch-collector) \
  "dpkg lists it among the package's conffiles"
dpkg_in "$sys" --purge eduwatch-collector >"$work/log/purge.log" 2>&1
check_eq "$?" 0 "dpkg --purge removes it"
check_eq "$(ls "$sys/etc/edu/collector.ini" "$sys/etc/systemd/system/multi-user.target.wants/edu-collector.service" 2>/dev/null)" \
  "" "purged: its config and its unit's enablement are gone"

# the same upgrade from a package without the conffiles list: the edit is lost (the previous
# packages were so)
repack "$deb" 0.1.0 "$work/plain1.deb" --no-conffiles
repack "$deb" 0.1.0+1 "$work/plain2.deb" --no-conffiles
sysroot "$work/plain"
dpkg_in "$work/plain" -i "$tools" "$work/plain1.deb" >"$work/log/plain.log" 2>&1
sed -i 's/^school = .*/school = 2143004052 ; the county set it/' "$work/plain/etc/edu/collector.ini"
dpkg_in "$work/plain" -i "$work/plain2.deb" >>"$work/log/plain.log" 2>&1
check_no_grep 'the county set it' "$work/plain/etc/edu/collector.ini" \
  "(without a conffiles list the same upgrade overwrites the edit)"

deb=$(ls "$work"/debs/eduwatch-aggregator_*.deb | head -1)
dpkg -x "$deb" "$work/agg"
check_eq "$(test -f "$work/agg/etc/edu/rules.ini" && echo yes)" yes "the aggregator package ships /etc/edu/rules.ini"
# deploy/compose.yaml: its one-off `keys` service, run here, makes keys and configs that pass
# --check (Docker itself is not needed for that part)
src=${EDU_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
python3 - "$src/deploy/compose.yaml" "$work/compose" >"$work/compose.sh" <<'PY'
import sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
print(compose["services"]["keys"]["command"][0].replace("$$", "$").replace("/var/lib/edu", sys.argv[2]))
PY
check_eq "$?" 0 "compose.yaml parses"
mkdir -p "$work/compose"
PATH="$(cd "$bin" && pwd):$PATH" sh "$work/compose.sh" >"$work/log/compose.log" 2>&1
check_eq "$?" 0 "compose's keys service runs"
"$bin/edu-collector" -c "$work/compose/2143004052/collector.ini" --check >/dev/null
check_eq "$?" 0 "compose's collector config passes --check"
sed "s|/etc/edu/rules.ini|$src/deploy/rules.ini|; s|/usr/share/eduwatch/sample|$src/deploy/sample|" \
  "$work/compose/aggregator/aggregator.ini" >"$work/compose/aggregator-here.ini"
"$bin/edu-aggregator" -c "$work/compose/aggregator-here.ini" --check >/dev/null
check_eq "$?" 0 "compose's aggregator config passes --check"
check_eq "$(find "$work/compose/2143004052" "$work/compose/aggregator" -name '*_secret' -printf '%P\n' | sort | tr '\n' ' ')" \
  "2143004052_secret aggregator_secret " "each service's folder holds its own secret only"
check_done
