#!/bin/bash
# package.sh - cpack makes a .deb per role; the collector's, unpacked into a throwaway root,
# has the binary, the unit, the example config, and depends on the libraries it links
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
dpkg -x "$deb" "$work/root"
for f in usr/bin/edu-collector lib/systemd/system/edu-collector.service etc/edu/collector.ini; do
  check_eq "$(test -f "$work/root/$f" && echo yes)" yes "the collector package has /$f"
done
check_eq "$(test -x "$work/root/usr/bin/edu-collector" && echo yes)" yes "edu-collector is executable"
"$work/root/usr/bin/edu-collector" --version >"$work/version" 2>&1
check_grep '^edu-collector [0-9]' "$work/version" "the packaged edu-collector runs"
check_grep '^school = +; required' "$work/root/etc/edu/collector.ini" "the example config lists every key"
dpkg-deb -I "$deb" >"$work/control"
check_grep 'Depends: .*libczmq4.*libzmq5' "$work/control" "it depends on the libraries it links"
check_grep 'Depends: .*eduwatch-tools' "$work/control" "and on the tools (edu-keygen)"
dpkg-deb -e "$deb" "$work/control.d"
check_grep 'adduser --system .*edu-collector' "$work/control.d/postinst" "postinst makes the service user"
check_grep '^Type=notify' "$work/root/lib/systemd/system/edu-collector.service" "the unit is Type=notify"
check_grep '^ProtectSystem=strict' "$work/root/lib/systemd/system/edu-collector.service" "the unit is hardened"
if command -v systemd-analyze >/dev/null; then
  SYSTEMD_LOG_LEVEL=err systemd-analyze verify "$work/root/lib/systemd/system/edu-collector.service" \
    >"$work/log/verify.log" 2>&1
  check_no_grep 'edu-collector.service:[0-9]+' "$work/log/verify.log" "systemd-analyze finds nothing wrong in the unit"
fi
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
