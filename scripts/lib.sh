# shellcheck shell=bash
# Helpers shared by scripts/run, scripts/test, scripts/bench, scripts/db.sh,
# scripts/install-postgres and .ci/run (sourced, never run).

# shellcheck disable=SC2034 # used by the scripts that source this file
MESHER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Put rustup's cargo on PATH when a fresh shell does not have it yet.
if ! command -v cargo >/dev/null 2>&1 && [[ -x ${CARGO_HOME:-${HOME:-/nonexistent}/.cargo}/bin/cargo ]]; then
  PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

# mesher_need_cargo COMMAND: fail with what to do when cargo is missing.
mesher_need_cargo() {
  command -v cargo >/dev/null 2>&1 && return 0
  echo "mesher: cargo not found. Install Rust (1.95 or newer) with rustup, see https://rustup.rs, then open a new shell and rerun $1." >&2
  return 1
}

# mesher_pg_bindir [MAJOR]: print the newest directory holding PostgreSQL server
# binaries (initdb, pg_ctl, postgres) of version 15 or newer, or of exactly MAJOR.
# MESHER_PG_BINDIR replaces the search (/usr/lib/postgresql/*/bin, initdb on PATH).
mesher_pg_bindir() {
  local d v best='' bestv=0 dirs=(/usr/lib/postgresql/*/bin)
  if d=$(command -v initdb 2>/dev/null); then dirs+=("$(dirname "$(readlink -f "$d")")"); fi
  if [[ -n ${MESHER_PG_BINDIR:-} ]]; then dirs=("$MESHER_PG_BINDIR"); fi
  for d in "${dirs[@]}"; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
    v=$("$d/postgres" --version 2>/dev/null) || continue # postgres (PostgreSQL) 15.20 (Debian ...)
    v=${v#*) }
    v=${v%%[!0-9]*}
    if [[ -n ${1:-} && $v != "$1" ]]; then continue; fi
    if ((${v:-0} >= 15 && ${v:-0} > bestv)); then best=$d bestv=$v; fi
  done
  [[ -n $best ]] && printf '%s\n' "$best"
}
