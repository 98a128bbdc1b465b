# deps.sh - installs what eduwatch needs to build, test and run, skipping what is present
#
# Sourced by tests/run.sh and deploy/quickstart.sh. Debian 12 package names.

EDU_PACKAGES="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev
  libzmq3-dev libczmq-dev libpq-dev libinih-dev libcriterion-dev zlib1g-dev libcurl4-openssl-dev libsystemd-dev libmicrohttpd-dev dpkg-dev
  python3 curl bsdextrautils
  postgresql postgresql-client"

# only for the tests: the dashboard is rendered in headless Chromium, the fuzzers and a Release
# build need clang; systemd-analyze rates the units, strace records the system calls they must
# allow and python3-seccomp (Debian's /usr/bin/python3) applies their seccomp sandbox,
# deb-systemd-helper (init-system-helpers) runs in the packages' maintainer scripts
EDU_TEST_PACKAGES="chromium fonts-noto-cjk python3-yaml clang libclang-rt-14-dev
  systemd strace init-system-helpers python3-seccomp"

# Other sessions may run apt at the same time on a shared machine: one at a time.
s_apt() {
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  if command -v flock >/dev/null; then
    $sudo flock /tmp/edu-apt.lock env DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get "$@"
  fi
}

# edu_install_deps [EXTRA_PACKAGES...]
edu_install_deps() {
  local missing=() p
  for p in $EDU_PACKAGES "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  s_apt update -q >/dev/null || return 1
  s_apt install -y -q --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

# edu_promtool DIR - prints the path of promtool, taken out of Debian's prometheus package into
# DIR (that one program: installing the package would start a Prometheus server); prints
# nothing when it cannot be had
edu_promtool() {
  local dir=$1
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    mkdir -p "$dir" &&
      (cd "$dir" && s_apt download -q prometheus >/dev/null 2>&1 &&
        dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
      rm -f prometheus_*.deb) || true
  fi
  [ -x "$dir/usr/bin/promtool" ] && echo "$dir/usr/bin/promtool"
  return 0
}
