#!/usr/bin/env bash
# shellcheck shell=bash
# Mesher's database: export a DATABASE_URL that works (PostgreSQL 15 or newer).
#
#   . scripts/db.sh; mesher_db_ensure  # exports DATABASE_URL, and MESHER_DB_STARTED=1
#                                      # when it started the private cluster
#   scripts/db.sh [url]                # prints the URL
#   eval "$(scripts/db.sh env)"        # exports it in your shell
#   scripts/db.sh stop                 # stops the private cluster (mesher_db_stop)
#
# 1. DATABASE_URL, if set and it works. If it does not: a warning and 2
#    (with MESHER_DB_STRICT=1: an error).
# 2. A private cluster in target/pg (data/, run/ for the socket, log) on 127.0.0.1,
#    port 54329 or the next free one, started from the installed server binaries
#    (see mesher_pg_bindir in scripts/lib.sh; scripts/install-postgres when there
#    are none) and reused while it runs. As root it runs as the postgres user.
# The database named in the URL is created if missing.

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

_mesher_db_why='' # why the last check failed
_mesher_db_log() { printf 'mesher-db: %s\n' "$*" >&2; }
_mesher_db_mask() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:****@#' <<<"$1"; }

# mesher_db_url URL DB: the same server and login, database DB.
mesher_db_url() {
  local base=${1%%\?*} query=''
  if [[ $1 == *\?* ]]; then query="?${1#*\?}"; fi
  local rest=${base#*://}
  printf '%s://%s/%s%s\n' "${base%%://*}" "${rest%%/*}" "$2" "$query"
}

_mesher_db_find_psql() { # [BINDIR]: a psql that runs
  local p
  for p in "${1:-/nonexistent}/psql" "$(command -v psql || true)" /usr/lib/postgresql/*/bin/psql; do
    if [[ -x $p ]] && "$p" --version >/dev/null 2>&1; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

_mesher_db_sql() { # URL SQL [PSQL-ARGS...]: run SQL (psql variables allowed), print the rows
  local url=$1 sql=$2
  shift 2
  printf '%s\n' "$sql" |
    PGCONNECT_TIMEOUT=5 "$_mesher_db_psql" -X -w -q -A -t -v ON_ERROR_STOP=1 "$@" -d "$url"
}

# _mesher_db_ready URL: the server lets us in and is PostgreSQL 15 or newer; the URL's
# database is created if missing. Otherwise _mesher_db_why says what is wrong.
_mesher_db_ready() {
  local url=$1 db out
  local q="select current_setting('server_version_num')::int >= 150000, (select rolsuper or rolcreatedb from pg_roles where rolname = current_user)"
  if ! out=$(_mesher_db_sql "$url" "$q" 2>&1); then
    db=${url%%\?*} db=${db#*://}
    if [[ $db == */?* ]] &&
      _mesher_db_sql "$(mesher_db_url "$url" postgres)" 'create database :"db"' -v db="${db#*/}" >/dev/null 2>&1; then
      _mesher_db_log "created database '${db#*/}'"
    fi
    if ! out=$(_mesher_db_sql "$url" "$q" 2>&1); then
      out=${out#psql: } out=${out#error: }
      _mesher_db_why=${out%%$'\n'*}
      return 1
    fi
  fi
  if [[ $out == f* ]]; then
    _mesher_db_why='the server is older than PostgreSQL 15'
    return 1
  fi
  if [[ $out != *t ]]; then _mesher_db_log "warning: this role may not CREATE DATABASE, which the tests need"; fi
}

# The private cluster's directory; the other one is for root when the postgres user cannot
# reach target/ (a checkout in /root, say).
_mesher_db_alt=/var/tmp/mesher-pg-$(cksum <<<"$MESHER_ROOT" | cut -d' ' -f1)
_mesher_db_dir() {
  if [[ ! -d $MESHER_ROOT/target/pg/data && -d $_mesher_db_alt/data ]]; then
    echo "$_mesher_db_alt"
  else
    echo "$MESHER_ROOT/target/pg"
  fi
}

_mesher_db_as() { # run as the cluster's owner: me, or when root the postgres user
  if [[ $(id -u) -ne 0 ]]; then "$@"; else (cd / && runuser -u postgres -- "$@"); fi
}

_mesher_db_daemon() { # _mesher_db_as, leaving no descriptor above 2 (our lock, a caller's
  local fd              # pipe) open in the server, which outlives us
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2 && fd < 255)); then eval "exec $fd>&-"; fi
    done 2>/dev/null
    _mesher_db_as "$@"
  )
}

_mesher_db_port() { # DIR: print the port of the cluster running there
  local pid port
  { read -r pid && read -r _ && read -r _ && read -r port; } 2>/dev/null <"$1/data/postmaster.pid" || return 1
  if kill -0 "$pid" 2>/dev/null || [[ -d /proc/$pid ]]; then echo "$port"; else return 1; fi
}

_mesher_db_init() { # BINDIR DIR: initdb, atomically
  local bin=$1 dir=$2
  _mesher_db_log "creating a private PostgreSQL cluster in $dir/data"
  rm -rf "$dir/data.new"
  if ! _mesher_db_as "$bin/initdb" -D "$dir/data.new" -A trust -U postgres -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
    tail -n 5 "$dir/initdb.log" >&2
    _mesher_db_why="initdb failed (see $dir/initdb.log)"
    return 1
  fi
  cat >>"$dir/data.new/postgresql.conf" <<EOF
# scripts/db.sh: a private development cluster, thrown away at will: speed over crash safety
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/run'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  _mesher_db_as mkdir -p "$dir/run" && mv "$dir/data.new" "$dir/data"
}

_mesher_db_start() { # BINDIR DIR: start on 54329 or the next free port; sets _mesher_db_pgport
  local bin=$1 dir=$2 port size
  for ((port = 54329; port < 54429; port++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    size=$(stat -c %s "$dir/log" 2>/dev/null || echo 0)
    _mesher_db_log "starting the private cluster on 127.0.0.1:$port (log: $dir/log)"
    if _mesher_db_daemon "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -o "-p $port" -w -s start >&2; then
      _mesher_db_pgport=$port
      return 0
    fi
    if ! tail -c +$((size + 1)) "$dir/log" | grep -q -e 'could not bind' -e 'already in use'; then
      tail -c +$((size + 1)) "$dir/log" | tail -n 5 >&2
      break
    fi
  done
  _mesher_db_why="the private cluster did not start (see $dir/log)"
  return 1
}

_mesher_db_private() { # reuse or start the private cluster and point DATABASE_URL at it
  local dir bin rc=0
  dir=$(_mesher_db_dir)
  if [[ -f $dir/data/PG_VERSION ]]; then
    if ! bin=$(mesher_pg_bindir "$(<"$dir/data/PG_VERSION")"); then
      _mesher_db_why="$dir/data is PostgreSQL $(<"$dir/data/PG_VERSION"), whose server binaries are missing (delete $dir to start over)"
      return 1
    fi
  elif ! bin=$(mesher_pg_bindir) && ! { "$MESHER_ROOT/scripts/install-postgres" >&2 && bin=$(mesher_pg_bindir); }; then
    _mesher_db_why='no PostgreSQL server binaries (see above)'
    return 1
  fi
  _mesher_db_psql=$(_mesher_db_find_psql "$bin") || {
    _mesher_db_why="psql not found"
    return 1
  }
  _mesher_db_why="cannot prepare $dir"
  mkdir -p "$dir" || return 1
  if [[ $(id -u) -eq 0 ]]; then # PostgreSQL does not run as root: hand the directory to postgres
    id -u postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres: "$dir" || return 1
    if ! _mesher_db_as test -w "$dir"; then
      rmdir "$dir" 2>/dev/null || true
      dir=$_mesher_db_alt
      _mesher_db_log "the postgres user cannot reach target/pg: using $dir"
      mkdir -p "$dir" && chown postgres: "$dir" || return 1
    fi
  fi
  exec {_mesher_db_lock}>>"$dir/lock" || return 1
  if command -v flock >/dev/null 2>&1; then flock "$_mesher_db_lock"; fi
  if ! _mesher_db_pgport=$(_mesher_db_port "$dir"); then
    if [[ ! -f $dir/data/PG_VERSION ]]; then _mesher_db_init "$bin" "$dir" || rc=1; fi
    if ((rc == 0)); then _mesher_db_start "$bin" "$dir" && MESHER_DB_STARTED=1 || rc=1; fi
  fi
  exec {_mesher_db_lock}>&-
  ((rc == 0)) || return 1
  DATABASE_URL=postgres://postgres@127.0.0.1:$_mesher_db_pgport/mesher
  if ! _mesher_db_ready "$DATABASE_URL"; then
    _mesher_db_why="the private cluster in $dir: $_mesher_db_why"
    return 1
  fi
  _mesher_db_log "using DATABASE_URL=$DATABASE_URL (private cluster in $dir)"
}

# mesher_db_ensure: export a working DATABASE_URL (see the top of this file).
mesher_db_ensure() {
  # shellcheck disable=SC2034 # read by the caller (.ci/run)
  MESHER_DB_STARTED=0
  export DATABASE_URL
  if [[ -n ${DATABASE_URL:-} ]]; then
    if ! _mesher_db_psql=$(_mesher_db_find_psql); then
      _mesher_db_log "psql is not installed: using DATABASE_URL=$(_mesher_db_mask "$DATABASE_URL") unchecked"
      return 0
    elif _mesher_db_ready "$DATABASE_URL"; then
      _mesher_db_log "using DATABASE_URL=$(_mesher_db_mask "$DATABASE_URL")"
      return 0
    elif [[ ${MESHER_DB_STRICT:-0} == 1 ]]; then
      _mesher_db_log "ERROR: DATABASE_URL=$(_mesher_db_mask "$DATABASE_URL") does not work: $_mesher_db_why"
      return 1
    fi
    _mesher_db_log "warning: DATABASE_URL=$(_mesher_db_mask "$DATABASE_URL") does not work ($_mesher_db_why); using a private cluster"
  fi
  if ! _mesher_db_private; then
    _mesher_db_log "ERROR: no database: $_mesher_db_why. Or set DATABASE_URL to a PostgreSQL 15+ server (role with CREATEDB)."
    return 1
  fi
}

# mesher_db_stop: stop the private cluster if it runs.
mesher_db_stop() {
  local dir bin
  dir=$(_mesher_db_dir)
  if ! _mesher_db_port "$dir" >/dev/null; then
    _mesher_db_log "the private cluster in $dir is not running"
  elif bin=$(mesher_pg_bindir "$(<"$dir/data/PG_VERSION")"); then
    _mesher_db_log "stopping the private cluster in $dir"
    _mesher_db_as "$bin/pg_ctl" -D "$dir/data" -m fast -w -s stop >&2
  else
    _mesher_db_log "ERROR: no pg_ctl for the private cluster in $dir"
    return 1
  fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-url} in
    url) mesher_db_ensure && echo "$DATABASE_URL" ;;
    env) mesher_db_ensure && printf 'export DATABASE_URL=%q\n' "$DATABASE_URL" ;;
    stop) mesher_db_stop ;;
    *)
      echo "usage: scripts/db.sh [url|env|stop]" >&2
      exit 2
      ;;
  esac
fi
