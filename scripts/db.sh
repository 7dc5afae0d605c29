#!/usr/bin/env bash
# shellcheck shell=bash
#
# Mesher database bootstrap: find or start a PostgreSQL (15 or newer) server.
#
# Use it either way:
#   . scripts/db.sh; mesher_db_ensure    # exports DATABASE_URL (bash only)
#   scripts/db.sh                        # prints the URL on stdout
#   eval "$(scripts/db.sh env)"          # export DATABASE_URL in this shell
#   scripts/db.sh status|stop|reset      # manage the private cluster
#
# Where the database comes from, first that works wins:
#   1. $DATABASE_URL, if set and the server accepts the login (kept as is);
#   2. the usual local server, postgres://postgres@127.0.0.1:5432/mesher;
#   3. a private cluster of this checkout under target/pg (data, run/ for the
#      unix socket, log), listening on 127.0.0.1:54329 or the next free port,
#      started from the installed PostgreSQL server binaries and reused later;
#   4. as root only: `apt-get update && apt-get install -y postgresql`, then 3;
#   5. otherwise: stop with a message saying what to do.
# The database named in the URL (default "mesher") is created when missing.
# Progress goes to stderr; passwords are masked.
#
# Environment (all optional):
#   DATABASE_URL              server and database to use first
#   MESHER_DB_NAME            database name for cases 2 and 3 (default mesher)
#   MESHER_DB_STRICT=1        fail if DATABASE_URL is set but unusable,
#                             instead of falling back to 2 and 3
#   MESHER_DB_NO_SYSTEM=1     skip case 2
#   MESHER_DB_PROBE_HOST/_PORT/_USER   case 2 address (127.0.0.1 5432 postgres)
#   MESHER_PG_DIR             private cluster directory (default target/pg)
#   MESHER_PG_PORT            first port tried for it (default 54329)
#   MESHER_PG_BINDIR          directory holding initdb, pg_ctl and postgres
#   MESHER_PG_BINDIR_SEARCH   colon-separated directories searched instead of
#                             the default list (/usr/lib/postgresql/*/bin,
#                             pg_config --bindir, initdb on PATH, ...)
#   MESHER_PG_OS_USER         system user running the cluster when root
#                             (default postgres, else a created mesher-pg)
#   MESHER_DB_NO_INSTALL=1    never install PostgreSQL with apt-get

_MESHER_DB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_MESHER_DB_MIN_MAJOR=15

_mesher_db_log() { printf 'mesher-db: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- URLs ----

# Split a postgres:// URL into _MDB_SCHEME _MDB_USERINFO _MDB_HOSTPORT _MDB_DB
# _MDB_QUERY. Returns 1 for anything that is not a URL (key=value strings).
_mesher_db_parse() {
  local url=$1 rest auth after
  _MDB_SCHEME='' _MDB_USERINFO='' _MDB_HOSTPORT='' _MDB_DB='' _MDB_QUERY='' _MDB_AFTER=''
  case $url in
    postgres://* | postgresql://*) ;;
    *) return 1 ;;
  esac
  _MDB_SCHEME=${url%%://*}
  rest=${url#*://}
  auth=${rest%%[/?]*}
  after=${rest:${#auth}}
  _MDB_AFTER=$after
  if [[ $auth == *@* ]]; then
    _MDB_USERINFO=${auth%@*}
    _MDB_HOSTPORT=${auth##*@}
  else
    _MDB_HOSTPORT=$auth
  fi
  case $after in
    /*)
      after=${after#/}
      _MDB_DB=${after%%\?*}
      if [[ $after == *\?* ]]; then _MDB_QUERY=${after#*\?}; fi
      ;;
    \?*) _MDB_QUERY=${after#\?} ;;
  esac
  # percent-decoding of the database name
  _MDB_DB=$(printf '%b' "${_MDB_DB//%/\\x}")
  return 0
}

# Same server and credentials as $1, database $2.
_mesher_db_with_db() {
  local url=$1 db=$2 out
  if ! _mesher_db_parse "$url"; then
    printf '%s dbname=%s' "$url" "$db"
    return 0
  fi
  out="$_MDB_SCHEME://"
  if [[ -n $_MDB_USERINFO ]]; then out+="$_MDB_USERINFO@"; fi
  out+="$_MDB_HOSTPORT/$db"
  if [[ -n $_MDB_QUERY ]]; then out+="?$_MDB_QUERY"; fi
  printf '%s' "$out"
}

# The URL with any password replaced by ****.
_mesher_db_mask() {
  local url=$1 out
  if ! _mesher_db_parse "$url"; then
    printf '%s' "$url" | sed -E 's/(password[[:space:]]*=[[:space:]]*)[^[:space:]]*/\1****/g'
    return 0
  fi
  out="$_MDB_SCHEME://"
  if [[ $_MDB_USERINFO == *:* ]]; then
    out+="${_MDB_USERINFO%%:*}:****@"
  elif [[ -n $_MDB_USERINFO ]]; then
    out+="$_MDB_USERINFO@"
  fi
  out+="$_MDB_HOSTPORT$_MDB_AFTER"
  printf '%s' "$out" | sed -E 's/(password=)[^&]*/\1****/g'
}

# First host and port of a URL, for the last-resort TCP probe.
_mesher_db_hostport() {
  local hp host port
  _mesher_db_parse "$1" || return 1
  hp=${_MDB_HOSTPORT%%,*}
  if [[ $hp == \[* ]]; then
    host=${hp%%]*}; host=${host#[}
    port=${hp#*]}; port=${port#:}
  elif [[ $hp == *:* ]]; then
    host=${hp%%:*}; port=${hp#*:}
  else
    host=$hp; port=''
  fi
  [[ -n $host ]] || return 1
  printf '%s %s' "$host" "${port:-5432}"
}

# True when something accepts TCP connections on host $1 port $2.
_mesher_db_tcp_open() {
  # shellcheck disable=SC2016 # $0 and $1 are expanded by the inner bash
  if command -v timeout >/dev/null 2>&1; then
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
  else
    bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
  fi
}

# ------------------------------------------------------------ binaries ----

_mesher_db_major_of() { # $1: binary -> major version number on stdout
  local v
  v=$("$1" --version 2>/dev/null) || return 1
  v=${v##*) }
  v=${v%%[!0-9]*}
  [[ -n $v ]] || return 1
  printf '%s' "$v"
}

_mesher_db_pkglib_bindirs() { # /usr/lib/postgresql/*/bin, newest first
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -d $d ]] && printf '%s\n' "$d"
  done | sort -t/ -k5,5nr
}

# Candidate server bindirs, one a line, in order of preference.
_mesher_db_bindir_candidates() {
  local d p
  if [[ -n ${MESHER_PG_BINDIR:-} ]]; then
    printf '%s\n' "$MESHER_PG_BINDIR"
    return 0
  fi
  if [[ -n ${MESHER_PG_BINDIR_SEARCH:-} ]]; then
    tr ':' '\n' <<<"$MESHER_PG_BINDIR_SEARCH"
    return 0
  fi
  _mesher_db_pkglib_bindirs
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null) && [[ -n $d ]] && printf '%s\n' "$d"
  fi
  if p=$(command -v initdb 2>/dev/null); then
    printf '%s\n' "$(dirname "$(readlink -f "$p")")"
  fi
  for d in /usr/local/bin /usr/local/pgsql/bin /usr/pgsql-*/bin /opt/homebrew/bin; do
    [[ -x $d/initdb ]] && printf '%s\n' "$(dirname "$(readlink -f "$d/initdb")")"
  done
  return 0
}

# Sets _MESHER_DB_BINDIR/_MESHER_DB_MAJOR to the newest usable server bindir
# (major >= 15, or exactly $1 when given). _MDB_BIN_SEEN lists what was seen.
_mesher_db_find_bindir() {
  local want=${1:-} d m best='' bestm=0
  _MDB_BIN_SEEN=''
  while IFS= read -r d; do
    [[ -n $d ]] || continue
    if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
      m=$(_mesher_db_major_of "$d/postgres") || continue
      _MDB_BIN_SEEN+="${_MDB_BIN_SEEN:+, }$d (PostgreSQL $m)"
      if [[ -n $want ]]; then
        [[ $m == "$want" ]] || continue
      elif ((m < _MESHER_DB_MIN_MAJOR)); then
        continue
      fi
      if ((m > bestm)); then best=$d bestm=$m; fi
    fi
  done < <(_mesher_db_bindir_candidates)
  [[ -n $best ]] || return 1
  _MESHER_DB_BINDIR=$best _MESHER_DB_MAJOR=$bestm
  return 0
}

# Path of a client program (psql, pg_isready): server bindir, PATH, pkglib.
_mesher_db_client() {
  local name=$1 d
  if [[ -n ${_MESHER_DB_BINDIR:-} && -x $_MESHER_DB_BINDIR/$name ]]; then
    printf '%s' "$_MESHER_DB_BINDIR/$name"
    return 0
  fi
  if [[ -n ${MESHER_PG_BINDIR:-} && -x $MESHER_PG_BINDIR/$name ]]; then
    printf '%s' "$MESHER_PG_BINDIR/$name"
    return 0
  fi
  if d=$(command -v "$name" 2>/dev/null); then
    # Debian's /usr/bin/psql is a wrapper that fails without a client package
    if "$d" --version >/dev/null 2>&1; then
      printf '%s' "$d"
      return 0
    fi
  fi
  while IFS= read -r d; do
    if [[ -x $d/$name ]]; then
      printf '%s' "$d/$name"
      return 0
    fi
  done < <(_mesher_db_pkglib_bindirs)
  return 1
}

_mesher_db_psql() { # $1 psql, $2 url, $3 sql [psql -v args...]
  local psql=$1 url=$2 sql=$3
  shift 3
  printf '%s\n' "$sql" |
    PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5} "$psql" -X -w -q -A -t -F '|' \
      -v ON_ERROR_STOP=1 "$@" -d "$url" -f -
}

# ---------------------------------------------------------------- probe ----

# Can we log in to the server of URL $1? 0 yes, 1 nothing listens there,
# 2 something is there but unusable. Sets _MDB_WHY (reason), _MDB_VERSION
# (e.g. 150020, empty when unknown), _MDB_CANCREATE (t/f/empty) and
# _MDB_MAINT (a URL on the same server that accepted us).
_mesher_db_probe() {
  local url=$1 psql out first='' u hp
  _MDB_WHY='' _MDB_VERSION='' _MDB_CANCREATE='' _MDB_MAINT=''
  local sql="select current_setting('server_version_num'), coalesce((select rolsuper or rolcreatedb from pg_roles where rolname = current_user), false)"
  if psql=$(_mesher_db_client psql); then
    for u in "$(_mesher_db_with_db "$url" postgres)" "$url" "$(_mesher_db_with_db "$url" template1)"; do
      if out=$(_mesher_db_psql "$psql" "$u" "$sql" 2>&1); then
        out=${out%%$'\n'*}
        _MDB_VERSION=${out%%|*}
        _MDB_CANCREATE=${out#*|}
        _MDB_MAINT=$u
        return 0
      fi
      [[ -n $first ]] || first=$out
    done
    first=${first%%$'\n'*}
    _MDB_WHY=${first#psql: error: }
    case $first in
      *"Connection refused"* | *"could not connect"* | *"timeout expired"* | \
        *"could not translate host"* | *"No such file or directory"* | \
        *"Network is unreachable"* | *"No route to host"* | *"Connection timed out"*)
        return 1 ;;
    esac
    return 2
  fi
  if psql=$(_mesher_db_client pg_isready); then
    "$psql" -q -t 5 -d "$url" >/dev/null 2>&1
    case $? in
      0) _MDB_WHY='accepting connections (login not checked: psql is not installed)'; return 0 ;;
      1) _MDB_WHY='server is rejecting connections (starting up or shutting down)'; return 2 ;;
      2) _MDB_WHY='no response'; return 1 ;;
      *) _MDB_WHY='pg_isready could not parse the URL'; return 2 ;;
    esac
  fi
  if hp=$(_mesher_db_hostport "$url") && _mesher_db_tcp_open "${hp% *}" "${hp#* }"; then
    _MDB_WHY='port is open (login not checked: psql is not installed)'
    return 0
  fi
  _MDB_WHY='nothing answers on that address (checked without psql/pg_isready)'
  return 1
}

# Make sure the database named in URL $1 exists (server already probed OK).
_mesher_db_ensure_db() {
  local url=$1 psql db out
  if ! _mesher_db_parse "$url"; then
    _mesher_db_log "note: DATABASE_URL is not a postgres:// URL; not checking that its database exists"
    return 0
  fi
  db=$_MDB_DB
  [[ -n $db ]] || return 0
  if ! psql=$(_mesher_db_client psql); then
    _mesher_db_log "note: psql is not installed; cannot check that database '$db' exists"
    return 0
  fi
  if _mesher_db_psql "$psql" "$url" 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  [[ -n $_MDB_MAINT && $_MDB_MAINT != "$url" ]] || {
    _MDB_WHY="cannot connect to database '$db'"
    return 1
  }
  out=$(_mesher_db_psql "$psql" "$_MDB_MAINT" "select 1 from pg_database where datname = :'db'" -v db="$db" 2>&1) || {
    _MDB_WHY=${out%%$'\n'*}
    return 1
  }
  if [[ $out != 1 ]]; then
    if out=$(_mesher_db_psql "$psql" "$_MDB_MAINT" 'create database :"db"' -v db="$db" 2>&1); then
      _mesher_db_log "created database '$db'"
    elif [[ $out != *"already exists"* ]]; then
      _MDB_WHY="could not create database '$db': ${out%%$'\n'*}"
      return 1
    fi
  fi
  if ! out=$(_mesher_db_psql "$psql" "$url" 'select 1' 2>&1); then
    _MDB_WHY="cannot connect to database '$db': ${out%%$'\n'*}"
    return 1
  fi
  return 0
}

# Probe URL $1, check the version, create its database. 0 when usable.
_mesher_db_try() {
  local url=$1 rc=0
  _mesher_db_probe "$url" || rc=$?
  ((rc == 0)) || return "$rc"
  if [[ -n $_MDB_VERSION ]] && ((_MDB_VERSION < _MESHER_DB_MIN_MAJOR * 10000)); then
    _MDB_WHY="server is PostgreSQL $((_MDB_VERSION / 10000)); Mesher needs $_MESHER_DB_MIN_MAJOR or newer"
    return 2
  fi
  _mesher_db_ensure_db "$url" || return 2
  if [[ $_MDB_CANCREATE == f ]]; then
    _mesher_db_log "warning: this role may not CREATE DATABASE; the test suite needs that"
  fi
  return 0
}

_mesher_db_use() { # $1 url, $2 description
  DATABASE_URL=$1
  export DATABASE_URL
  local v=''
  if [[ -n ${_MDB_VERSION:-} ]]; then
    v="PostgreSQL $((_MDB_VERSION / 10000)).$((_MDB_VERSION % 100)), "
  fi
  _mesher_db_log "using DATABASE_URL=$(_mesher_db_mask "$1") (${v}$2)"
}

# ------------------------------------------------------ private cluster ----

_mesher_db_is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as the cluster's system user (_MESHER_DB_RUNAS, empty = me).
_mesher_db_as() {
  if [[ -z ${_MESHER_DB_RUNAS:-} ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u "$_MESHER_DB_RUNAS" -- "$@")
  else
    (cd / && su -s /bin/bash "$_MESHER_DB_RUNAS" -c "$(printf '%q ' "$@")")
  fi
}

# When root, choose (and if needed create) the system user for the cluster.
_mesher_db_pick_runas() {
  local u owner
  _MESHER_DB_RUNAS=''
  _mesher_db_is_root || return 0
  # an existing cluster keeps its owner
  if [[ -d $1 ]]; then
    owner=$(stat -c %U "$1" 2>/dev/null || true)
    if [[ -n $owner && $owner != root && $owner != UNKNOWN ]]; then
      _MESHER_DB_RUNAS=$owner
      return 0
    fi
  fi
  u=${MESHER_PG_OS_USER:-}
  if [[ -z $u ]]; then
    if id -u postgres >/dev/null 2>&1; then u=postgres; else u=mesher-pg; fi
  fi
  if ! id -u "$u" >/dev/null 2>&1; then
    _mesher_db_log "creating system user '$u' to run PostgreSQL (it refuses to run as root)"
    _MDB_WHY="could not create system user '$u'"
    if command -v useradd >/dev/null 2>&1; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$u" >&2 || return 1
    elif command -v adduser >/dev/null 2>&1; then
      adduser --system --group --no-create-home "$u" >&2 || return 1
    else
      _MDB_WHY="no useradd/adduser to create user '$u'"
      return 1
    fi
  fi
  _MESHER_DB_RUNAS=$u
}

# Private cluster directory; sets _MESHER_DB_PGDIR. When root and the
# cluster's user cannot reach target/ (say, the checkout is under /root),
# falls back to /var/tmp/mesher-pg-<hash of the checkout path>.
_mesher_db_pgdir() {
  local def="$_MESHER_DB_ROOT/target/pg" alt hash
  hash=$(printf '%s' "$_MESHER_DB_ROOT" | cksum | cut -d' ' -f1)
  alt="/var/tmp/mesher-pg-$hash"
  if [[ -n ${MESHER_PG_DIR:-} ]]; then
    _MESHER_DB_PGDIR=$MESHER_PG_DIR
  elif [[ ! -e $def/data && -e $alt/data ]]; then
    _MESHER_DB_PGDIR=$alt
  else
    _MESHER_DB_PGDIR=$def
  fi
  _MESHER_DB_PGDIR_ALT=$alt
}

_mesher_db_prepare_dir() { # create _MESHER_DB_PGDIR owned by the cluster user
  local d=$_MESHER_DB_PGDIR
  _MDB_WHY="cannot create $d"
  mkdir -p "$d" || return 1
  if [[ -n ${_MESHER_DB_RUNAS:-} ]]; then
    _MDB_WHY="cannot give $d to user '$_MESHER_DB_RUNAS'"
    chown "$_MESHER_DB_RUNAS:" "$d" || return 1
    if ! _mesher_db_as test -w "$d" -a -x "$d"; then
      if [[ -n ${MESHER_PG_DIR:-} ]]; then
        _MDB_WHY="user '$_MESHER_DB_RUNAS' cannot write to MESHER_PG_DIR=$d"
        return 1
      fi
      rmdir "$d" 2>/dev/null || true
      _mesher_db_log "user '$_MESHER_DB_RUNAS' cannot reach $d; keeping the private cluster in $_MESHER_DB_PGDIR_ALT instead"
      d=$_MESHER_DB_PGDIR_ALT
      _MESHER_DB_PGDIR=$d
      _MDB_WHY="cannot create $d for user '$_MESHER_DB_RUNAS'"
      mkdir -p "$d" || return 1
      chown "$_MESHER_DB_RUNAS:" "$d" || return 1
    fi
  fi
  chmod 700 "$d" 2>/dev/null || true
  _MDB_WHY=''
  return 0
}

_mesher_db_write_conf() { # $1 data dir, $2 port
  local f="$1/mesher.conf"
  {
    echo "# Written by scripts/db.sh for Mesher's private development cluster."
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $2"
    echo "unix_socket_directories = '$_MESHER_DB_PGDIR/run'"
    echo "max_connections = 200"
    echo "# throwaway cluster under target/: trade crash safety for speed"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
  } >"$f" || return 1
  if [[ -n ${_MESHER_DB_RUNAS:-} ]]; then chown "$_MESHER_DB_RUNAS:" "$f"; fi
  return 0
}

_mesher_db_conf_port() { # $1 data dir -> configured port
  local p
  p=$(sed -n -E "s/^port = ([0-9]+).*/\1/p" "$1/mesher.conf" 2>/dev/null | tail -n1)
  printf '%s' "${p:-}"
}

# initdb into a temporary directory, then rename: never half-initialised.
_mesher_db_init() {
  local bin=$_MESHER_DB_BINDIR d=$_MESHER_DB_PGDIR tmp name=${MESHER_DB_NAME:-mesher}
  tmp="$d/data.init"
  rm -rf "$tmp"
  _mesher_db_log "initialising a private PostgreSQL $_MESHER_DB_MAJOR cluster in $d/data"
  if ! _mesher_db_as "$bin/initdb" -D "$tmp" -A trust -U postgres -E UTF8 --no-locale \
    >"$d/initdb.log" 2>&1; then
    _mesher_db_log "initdb failed; its output ($d/initdb.log):"
    tail -n 20 "$d/initdb.log" >&2
    rm -rf "$tmp"
    _MDB_WHY='initdb failed'
    return 1
  fi
  if ! printf "\n# Mesher (scripts/db.sh)\ninclude_if_exists = 'mesher.conf'\n" >>"$tmp/postgresql.conf" ||
    ! _mesher_db_write_conf "$tmp" "${MESHER_PG_PORT:-54329}"; then
    rm -rf "$tmp"
    _MDB_WHY="could not write $tmp/postgresql.conf"
    return 1
  fi
  # create the app database before first start (needs no psql)
  if ! printf 'CREATE DATABASE "%s"\n' "${name//\"/\"\"}" |
    _mesher_db_as "$bin/postgres" --single -D "$tmp" -c exit_on_error=on postgres \
      >>"$d/initdb.log" 2>&1; then
    _mesher_db_log "could not create database '$name' ($d/initdb.log):"
    tail -n 20 "$d/initdb.log" >&2
    rm -rf "$tmp"
    _MDB_WHY='creating the database failed'
    return 1
  fi
  mv "$tmp" "$d/data" || {
    rm -rf "$tmp"
    return 1
  }
}

# Close inherited descriptors above 2 (our lock, a caller's pipes) so that
# the server, which outlives us, holds none of them. Call in a subshell.
_mesher_db_close_fds() {
  local f n
  for f in /proc/self/fd/*; do
    n=${f##*/}
    [[ $n =~ ^[0-9]+$ ]] || continue
    if ((n > 2 && n < 255)); then eval "exec $n>&-" 2>/dev/null || true; fi
  done
  return 0
}

# Start the cluster on its configured port, or the next free one.
_mesher_db_start() {
  local bin=$_MESHER_DB_BINDIR d=$_MESHER_DB_PGDIR port tries=0 size
  port=$(_mesher_db_conf_port "$d/data")
  port=${port:-${MESHER_PG_PORT:-54329}}
  mkdir -p "$d/run"
  if [[ -n ${_MESHER_DB_RUNAS:-} ]]; then chown "$_MESHER_DB_RUNAS:" "$d/run"; fi
  touch "$d/log"
  if [[ -n ${_MESHER_DB_RUNAS:-} ]]; then chown "$_MESHER_DB_RUNAS:" "$d/log"; fi
  while ((tries < 100)); do
    tries=$((tries + 1))
    if _mesher_db_tcp_open 127.0.0.1 "$port"; then
      port=$((port + 1))
      continue
    fi
    _mesher_db_write_conf "$d/data" "$port" || return 1
    size=$(wc -c <"$d/log")
    _mesher_db_log "starting the private cluster on 127.0.0.1:$port (log: $d/log)"
    if (
      _mesher_db_close_fds
      _mesher_db_as "$bin/pg_ctl" -D "$d/data" -l "$d/log" -w -t 120 -s start
    ) >/dev/null; then
      return 0
    fi
    if tail -c +$((size + 1)) "$d/log" | grep -q -e 'could not bind' -e 'Address already in use' -e 'could not create any TCP/IP sockets'; then
      port=$((port + 1))
      continue
    fi
    _mesher_db_log "the private cluster did not start; end of $d/log:"
    tail -c +$((size + 1)) "$d/log" | tail -n 20 >&2
    _MDB_WHY="pg_ctl start failed (see $d/log; 'scripts/db.sh reset' starts over)"
    return 1
  done
  _MDB_WHY='no free port found'
  return 1
}

# Is the private cluster's server running? Sets _MDB_PORT.
_mesher_db_running() {
  local data=$_MESHER_DB_PGDIR/data pid
  _MDB_PORT=''
  [[ -f $data/postmaster.pid ]] || return 1
  pid=$(sed -n 1p "$data/postmaster.pid" 2>/dev/null)
  _MDB_PORT=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null)
  [[ $pid =~ ^[0-9]+$ && $_MDB_PORT =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || [[ -d /proc/$pid ]] || return 1
  return 0
}

_mesher_db_private_url() {
  printf 'postgres://postgres@127.0.0.1:%s/%s' "$1" "${MESHER_DB_NAME:-mesher}"
}

# Check that 127.0.0.1:$1 is our cluster (not some other server) and usable.
_mesher_db_try_private() {
  local url psql dir
  url=$(_mesher_db_private_url "$1")
  _mesher_db_try "$url" || return 1
  if psql=$(_mesher_db_client psql) &&
    dir=$(_mesher_db_psql "$psql" "$url" "select current_setting('data_directory')" 2>/dev/null); then
    if [[ $(readlink -f "$dir") != "$(readlink -f "$_MESHER_DB_PGDIR/data")" ]]; then
      _MDB_WHY="127.0.0.1:$1 is another server ($dir)"
      return 1
    fi
  fi
  _MDB_PRIVATE_URL=$url
  return 0
}

_mesher_db_private_locked() {
  local data=$_MESHER_DB_PGDIR/data major
  # 1. already running: reuse
  if [[ -f $data/PG_VERSION ]] && _mesher_db_running && _mesher_db_try_private "$_MDB_PORT"; then
    _mesher_db_use "$_MDB_PRIVATE_URL" "private cluster in $_MESHER_DB_PGDIR, already running"
    return 0
  fi
  # 2. server binaries: those of the existing cluster's version, else newest
  if [[ -f $data/PG_VERSION ]]; then
    major=$(<"$data/PG_VERSION")
    if ! _mesher_db_find_bindir "$major"; then
      _MDB_WHY="$data was made by PostgreSQL $major, whose server binaries are not installed (remove it with: scripts/db.sh reset)"
      return 1
    fi
  elif ! _mesher_db_find_bindir; then
    if _mesher_db_is_root && [[ ${MESHER_DB_NO_INSTALL:-0} != 1 ]] && command -v apt-get >/dev/null 2>&1; then
      _mesher_db_log "no PostgreSQL >= $_MESHER_DB_MIN_MAJOR server binaries found; installing with apt-get (running as root)"
      if ! { DEBIAN_FRONTEND=noninteractive apt-get update &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } >&2 </dev/null; then
        _MDB_WHY='apt-get install -y postgresql failed (see above)'
        return 1
      fi
      if ! _mesher_db_find_bindir; then
        _MDB_WHY="apt-get installed PostgreSQL, but no version >= $_MESHER_DB_MIN_MAJOR was found${_MDB_BIN_SEEN:+ (found: $_MDB_BIN_SEEN)}; this Debian release is too old: add the PostgreSQL apt repository (apt.postgresql.org) and install postgresql-$_MESHER_DB_MIN_MAJOR or newer"
        return 1
      fi
    else
      _MDB_WHY='nobin'
      return 1
    fi
  fi
  # 3. initialise if needed, then start
  if [[ ! -f $data/PG_VERSION ]]; then
    if [[ -e $data ]]; then
      _MDB_WHY="$data exists but is not a PostgreSQL data directory (remove it with: scripts/db.sh reset)"
      return 1
    fi
    _mesher_db_init || return 1
  fi
  if _mesher_db_running; then
    # running but unusable: maybe still starting; give it a moment
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      if _mesher_db_try_private "$_MDB_PORT"; then
        _mesher_db_use "$_MDB_PRIVATE_URL" "private cluster in $_MESHER_DB_PGDIR"
        return 0
      fi
      sleep 1
    done
    _MDB_WHY="the private cluster is running on port $_MDB_PORT but unusable: $_MDB_WHY (try: scripts/db.sh stop)"
    return 1
  fi
  _mesher_db_start || return 1
  _mesher_db_running || {
    _MDB_WHY="the private cluster did not stay up (see $_MESHER_DB_PGDIR/log)"
    return 1
  }
  if ! _mesher_db_try_private "$_MDB_PORT"; then
    _MDB_WHY="the private cluster started but is unusable: $_MDB_WHY"
    return 1
  fi
  _mesher_db_use "$_MDB_PRIVATE_URL" "private cluster in $_MESHER_DB_PGDIR, started"
  _MESHER_DB_STARTED=1
  return 0
}

_mesher_db_private() {
  local rc=0
  _mesher_db_pgdir
  _mesher_db_pick_runas "$_MESHER_DB_PGDIR/data" || return 1
  # Without binaries (and no install to come) there is nothing to prepare.
  if [[ ! -e $_MESHER_DB_PGDIR/data ]] && ! _mesher_db_find_bindir &&
    { ! _mesher_db_is_root || [[ ${MESHER_DB_NO_INSTALL:-0} == 1 ]] || ! command -v apt-get >/dev/null 2>&1; }; then
    _MDB_WHY='nobin'
    return 1
  fi
  _mesher_db_prepare_dir || return 1
  _MESHER_DB_LOCKFD=''
  if command -v flock >/dev/null 2>&1 && exec {_MESHER_DB_LOCKFD}>>"$_MESHER_DB_PGDIR/.lock"; then
    if ! flock -w 600 "$_MESHER_DB_LOCKFD"; then
      exec {_MESHER_DB_LOCKFD}>&-
      _MESHER_DB_LOCKFD=''
      _MDB_WHY="timed out waiting for $_MESHER_DB_PGDIR/.lock"
      return 1
    fi
  fi
  _mesher_db_private_locked || rc=$?
  if [[ -n ${_MESHER_DB_LOCKFD:-} ]]; then exec {_MESHER_DB_LOCKFD}>&-; fi
  _MESHER_DB_LOCKFD=''
  return "$rc"
}

_mesher_db_fail_message() {
  local tried=$1
  {
    echo "mesher-db: ERROR: no usable PostgreSQL ($_MESHER_DB_MIN_MAJOR or newer) was found or could be started."
    printf '%s' "$tried"
    if [[ $_MDB_WHY == nobin ]]; then
      echo "  - private cluster: no PostgreSQL >= $_MESHER_DB_MIN_MAJOR server binaries (initdb, pg_ctl, postgres) found${_MDB_BIN_SEEN:+; found only: $_MDB_BIN_SEEN}"
      echo "What to do (any one):"
      if _mesher_db_is_root; then
        echo "  - install PostgreSQL, then rerun:   apt-get update && apt-get install -y postgresql"
        if [[ ${MESHER_DB_NO_INSTALL:-0} == 1 ]]; then
          echo "    (or unset MESHER_DB_NO_INSTALL and this script will do it)"
        fi
      else
        echo "  - install PostgreSQL, then rerun:   sudo apt-get update && sudo apt-get install -y postgresql"
        echo "    (or rerun this command as root: it installs PostgreSQL itself)"
      fi
      echo "  - or use a running server:          export DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/mesher"
      echo "    (the role needs CREATEDB for the test suite)"
      echo "  - or, if PostgreSQL >= $_MESHER_DB_MIN_MAJOR is installed elsewhere:  export MESHER_PG_BINDIR=/path/to/postgresql/bin"
      echo "  Debian releases before 12 ship an older PostgreSQL: use the apt.postgresql.org repository."
    else
      echo "  - private cluster: $_MDB_WHY"
      echo "What to do: fix the problem above, or set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/mesher to a PostgreSQL >= $_MESHER_DB_MIN_MAJOR server."
    fi
  } >&2
}

# Export DATABASE_URL for a usable server (see the top of this file).
mesher_db_ensure() {
  local url rc tried='' host port user
  if [[ -n ${DATABASE_URL:-} ]]; then
    url=$DATABASE_URL
    rc=0
    _mesher_db_try "$url" || rc=$?
    if ((rc == 0)); then
      _mesher_db_use "$url" "from DATABASE_URL"
      return 0
    fi
    tried+="  - DATABASE_URL=$(_mesher_db_mask "$url"): $_MDB_WHY"$'\n'
    if [[ ${MESHER_DB_STRICT:-0} == 1 ]]; then
      _mesher_db_log "ERROR: DATABASE_URL=$(_mesher_db_mask "$url") is not usable: $_MDB_WHY"
      _mesher_db_log "fix it, or unset DATABASE_URL (and MESHER_DB_STRICT) to let this script find or start a server"
      return 1
    fi
    _mesher_db_log "warning: DATABASE_URL=$(_mesher_db_mask "$url") is not usable ($_MDB_WHY); looking for another server"
  fi
  if [[ ${MESHER_DB_NO_SYSTEM:-0} != 1 ]]; then
    host=${MESHER_DB_PROBE_HOST:-127.0.0.1}
    port=${MESHER_DB_PROBE_PORT:-5432}
    user=${MESHER_DB_PROBE_USER:-postgres}
    if [[ $host == *:* ]]; then host="[$host]"; fi
    url="postgres://$user@$host:$port/${MESHER_DB_NAME:-mesher}"
    rc=0
    _mesher_db_try "$url" || rc=$?
    if ((rc == 0)); then
      _mesher_db_use "$url" "server at $host:$port"
      return 0
    fi
    tried+="  - $host:$port as $user: $_MDB_WHY"$'\n'
    _mesher_db_log "no usable server at $host:$port ($_MDB_WHY); trying a private cluster"
  fi
  if _mesher_db_private; then
    return 0
  fi
  _mesher_db_fail_message "$tried"
  return 1
}

# Stop the private cluster (if running).
mesher_db_stop() {
  local data
  _mesher_db_pgdir
  data=$_MESHER_DB_PGDIR/data
  if ! _mesher_db_running; then
    _mesher_db_log "private cluster in $_MESHER_DB_PGDIR is not running"
    return 0
  fi
  _mesher_db_pick_runas "$data" || return 1
  if ! _mesher_db_find_bindir "$(<"$data/PG_VERSION")"; then
    _mesher_db_log "ERROR: no pg_ctl for PostgreSQL $(<"$data/PG_VERSION") found"
    return 1
  fi
  _mesher_db_log "stopping the private cluster in $_MESHER_DB_PGDIR"
  _mesher_db_as "$_MESHER_DB_BINDIR/pg_ctl" -D "$data" -m fast -w -s stop >&2
}

_mesher_db_main() {
  set -euo pipefail
  case ${1:-url} in
    url)
      mesher_db_ensure
      printf '%s\n' "$DATABASE_URL"
      ;;
    env)
      mesher_db_ensure
      printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"
      ;;
    status)
      _mesher_db_pgdir
      if _mesher_db_running; then
        echo "private cluster in $_MESHER_DB_PGDIR: running, $(_mesher_db_private_url "$_MDB_PORT")"
      elif [[ -f $_MESHER_DB_PGDIR/data/PG_VERSION ]]; then
        echo "private cluster in $_MESHER_DB_PGDIR: stopped"
      else
        echo "private cluster in $_MESHER_DB_PGDIR: none"
      fi
      ;;
    stop) mesher_db_stop ;;
    reset)
      mesher_db_stop
      _mesher_db_pgdir
      _mesher_db_log "removing $_MESHER_DB_PGDIR"
      rm -rf "$_MESHER_DB_PGDIR"
      ;;
    -h | --help | help)
      sed -n '4,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
      ;;
    *)
      echo "usage: scripts/db.sh [url|env|status|stop|reset|help]" >&2
      return 2
      ;;
  esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  _mesher_db_main "$@"
fi
