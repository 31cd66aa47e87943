# shellcheck shell=bash
# Connection handling shared by backup-db.sh and restore-db.sh (sourced, not run).
#
# A database URL may carry a password; it is moved into PGPASSWORD so that
# it never appears on a command line (visible to every user in `ps`) nor in
# a message. Without a URL, libpq's own PG* variables and ~/.pgpass apply.

# pg_connection URL: remembers where to connect. URL may be empty.
pg_connection() {
  PG_URL="${1:-}"
  [ -z "$PG_URL" ] && return 0
  [[ $PG_URL =~ ^(postgres|postgresql):// ]] \
    || die "the database URL must start with postgres:// or postgresql://"
  if [[ $PG_URL =~ ^([a-z]+://)([^@/?]*)@(.*)$ ]]; then
    local scheme=${BASH_REMATCH[1]} userinfo=${BASH_REMATCH[2]} rest=${BASH_REMATCH[3]}
    if [[ $userinfo == *:* ]]; then
      local encoded=${userinfo#*:}
      # libpq percent-decodes URL passwords; PGPASSWORD is taken literally.
      PGPASSWORD=$(printf '%b' "${encoded//%/\\x}")
      export PGPASSWORD
      PG_URL="${scheme}${userinfo%%:*}@${rest}"
    fi
  fi
}

# pg_shown: where we connect, safe to print (no password, no query string).
pg_shown() {
  if [ -n "$PG_URL" ]; then
    printf '%s' "${PG_URL%%\?*}"
  else
    printf 'PG* environment (host %s, port %s, user %s, database %s)' \
      "${PGHOST:-local socket}" "${PGPORT:-5432}" "${PGUSER:-$(id -un)}" "${PGDATABASE:-${PGUSER:-$(id -un)}}"
  fi
}

# pg_dbname [DB]: the --dbname value that reaches DB on the same server
# (the URL's or the environment's own database when DB is empty).
pg_dbname() {
  local db="${1:-}"
  if [ -n "$PG_URL" ]; then
    if [ -z "$db" ]; then
      printf '%s' "$PG_URL"
    elif [[ $PG_URL =~ ^([a-z]+://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
      printf '%s/%s%s' "${BASH_REMATCH[1]}" "$db" "${BASH_REMATCH[3]}"
    else
      die "cannot tell the database part of $(pg_shown)"
    fi
  elif [ -n "$db" ]; then
    # A conninfo string naming only the database: the rest comes from PG*.
    printf 'dbname=%s' "$db"
  fi
}

# pg_psql [--db DB] ARGS...: psql that stops at the first error.
pg_psql() {
  local db=""
  if [ "${1:-}" = --db ]; then db=$2; shift 2; fi
  local target
  target=$(pg_dbname "$db")
  psql -X -q -v ON_ERROR_STOP=1 ${target:+"--dbname=$target"} "$@"
}

# pg_dump_db ARGS...: pg_dump of the connection's own database.
pg_dump_db() {
  local target
  target=$(pg_dbname "")
  pg_dump ${target:+"--dbname=$target"} "$@"
}
