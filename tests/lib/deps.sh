# deps.sh - installs what eduwatch needs to build, test and run, skipping what is present
#
# Sourced by tests/run.sh and deploy/quickstart.sh. Debian 12 package names.

EDU_PACKAGES="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev
  libzmq3-dev libczmq-dev libpq-dev libinih-dev libcriterion-dev zlib1g-dev libcurl4-openssl-dev libsystemd-dev libmicrohttpd-dev libsodium-dev dpkg-dev
  python3 curl bsdextrautils
  postgresql postgresql-client"

# only for the tests: the dashboard is rendered in headless Chromium, the fuzzers need clang
EDU_TEST_PACKAGES="chromium fonts-noto-cjk python3-yaml clang libclang-rt-14-dev"

# edu_install_deps [EXTRA_PACKAGES...]
edu_install_deps() {
  local missing=() p
  for p in $EDU_PACKAGES "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q >/dev/null || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >/dev/null || return 1
}
