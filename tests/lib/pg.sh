# pg.sh - a throwaway PostgreSQL cluster on a private port and socket directory
#
# Sourced by tests/run.sh and deploy/quickstart.sh. Never touches a system cluster: the data,
# the socket and the log live under the directory given. PostgreSQL refuses to run as root, so
# as root the cluster runs as the unprivileged user "eduwatch" (created if missing).
#
#   pg_start DIR PORT   initdb (first time) and start; exports PGHOST PGPORT PGUSER, and puts
#                       PostgreSQL's own directory first in PATH (psql, createdb: not the wrapper)
#   pg_stop DIR         stop (fast)
#   pg_crash DIR        stop immediately, as a crash would (no checkpoint)
#   pg_restart DIR      start again after pg_stop or pg_crash
#
# EDU_PG_OPTIONS adds server settings (e.g. "-c log_min_duration_statement=0" to see what a
# benchmark asks of PostgreSQL; keep the cluster with EDU_KEEP=1 where the script offers it).

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  echo "pg.sh: cannot find initdb (install postgresql)" >&2
  return 1
}

pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u eduwatch -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  local dir=$1 port=$2 bin
  bin=$(pg_bindir) || return 1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" = 0 ]; then
    id eduwatch >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin eduwatch
    chown eduwatch "$dir"
    chmod 755 "$dir"
  fi
  mkdir -p "$dir/sock" 2>/dev/null || pg_as_owner mkdir -p "$dir/sock"
  [ "$(id -u)" = 0 ] && chown eduwatch "$dir/sock"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  echo "$port" >"$dir/port"
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 \
    -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=200 ${EDU_PG_OPTIONS:-}" start \
    >/dev/null || { tail -20 "$dir/postgresql.log" >&2; return 1; }
  export PGHOST="$dir/sock" PGPORT="$port" PGUSER=postgres
  # the clients too from PostgreSQL's own directory: Debian's psql, createdb and createuser are
  # a Perl wrapper that picks a cluster, 36 ms of CPU more for every call (the suite makes
  # thousands)
  case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:$PATH" ;; esac
}

pg_stop() {
  local bin dir=$1
  bin=$(pg_bindir) || return 1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

pg_crash() {
  local bin dir=$1
  bin=$(pg_bindir) || return 1
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
}

pg_restart() {
  local bin dir=$1
  bin=$(pg_bindir) || return 1
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 \
    -o "-p $(cat "$dir/port") -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=200 ${EDU_PG_OPTIONS:-}" \
    start >/dev/null
}
