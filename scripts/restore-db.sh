#!/usr/bin/env bash
# Restores a backup made by backup-db.sh into a named PostgreSQL database,
# after checking it against its SHA-256 checksum.
#
#   scripts/restore-db.sh --target-db NAME [--url URL] [--force] [--no-owner] BACKUP.dump
#   scripts/restore-db.sh --target-db NAME [--url URL] [--force] --latest [--dir DIR] [--label NAME]
#
#   --target-db NAME   the database to restore into; created when missing
#   --url URL          postgres://user[:password]@host:port/db of a database on the
#                      target server to connect to for creating NAME (env DATABASE_URL;
#                      without either, libpq's PG* variables and ~/.pgpass are used)
#   --force            NAME exists: drop it (disconnecting its sessions) and restore
#                      into a fresh one. Without it an existing NAME is refused.
#   --no-owner         restore objects as the connecting user, not their original owners
#   --latest           restore the newest <label>_*.dump in DIR
#   --dir DIR          backup folder for --latest   (env BACKUP_DIR, default ./backups)
#   --label NAME       label for --latest           (env BACKUP_LABEL, default NAME of --target-db)
#
# The checksum file BACKUP.dump.sha256 must exist and match, and pg_restore
# must be able to read the dump's table of contents, before anything on the
# server changes. The restore runs in one transaction; if it fails, a
# database this run created is dropped again, so no half-restored database
# is left behind.
set -euo pipefail

log() { printf '[restore-db] %s\n' "$*" >&2; }
die() { printf '[restore-db] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }

# shellcheck source=scripts/pg-common.sh
source "$(dirname "$0")/pg-common.sh"

url="${DATABASE_URL:-}"
dir="${BACKUP_DIR:-./backups}"
label="${BACKUP_LABEL:-}"
target=""
force=false
latest=false
backup=""
restore_options=()

while [ $# -gt 0 ]; do
  case "$1" in
    --target-db) target="${2:?--target-db needs a value}"; shift 2 ;;
    --url) url="${2:?--url needs a value}"; shift 2 ;;
    --force) force=true; shift ;;
    --no-owner) restore_options+=(--no-owner --no-privileges); shift ;;
    --latest) latest=true; shift ;;
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --label) label="${2:?--label needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$backup" ] || die "one backup file at a time ('$backup' and '$1')"; backup=$1; shift ;;
  esac
done

[ -n "$target" ] || die "say which database to restore into: --target-db NAME"
[[ $target =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] \
  || die "--target-db must be a plain identifier (letters, digits, '_', at most 63), not '$target'"
for tool in pg_restore psql sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install postgresql-client)"
done

if $latest; then
  [ -z "$backup" ] || die "give a backup file or --latest, not both"
  label="${label:-$target}"
  backup=$(find "$dir" -maxdepth 1 -type f -name "${label}_????????T??????.???Z.dump" 2>/dev/null | sort | tail -n 1)
  [ -n "$backup" ] || die "no backup named ${label}_<time>.dump in $dir"
fi
[ -n "$backup" ] || die "say which backup to restore: a .dump file, or --latest"
[ -f "$backup" ] || die "$backup does not exist"

# 1. The file is the one backup-db.sh wrote: checksum, then structure.
sums="$backup.sha256"
[ -f "$sums" ] || die "$sums is missing: refusing a backup whose integrity cannot be checked"
expected=$(cut -d' ' -f1 "$sums")
[[ $expected =~ ^[0-9a-f]{64}$ ]] || die "$sums does not hold a SHA-256 checksum"
actual=$(sha256sum "$backup" | cut -d' ' -f1)
[ "$actual" = "$expected" ] \
  || die "checksum mismatch for $backup: the file is corrupt or was changed (expected $expected, got $actual); nothing was restored"
pg_restore --list "$backup" >/dev/null 2>&1 \
  || die "pg_restore cannot read $backup; nothing was restored"
log "checksum and table of contents of $backup verified"

# 2. The target database: created, or replaced only when forced.
pg_connection "$url"
# One statement with the target's name quoted by psql (:'x' as a literal,
# :"x" as an identifier); psql interpolates only what it reads on stdin.
pg_sql() { printf '%s\n' "$1" | pg_psql -At -v target="$target"; }
exists=$(pg_sql "select 1 from pg_database where datname = :'target'") \
  || die "cannot connect to $(pg_shown)"
if [ "$exists" = 1 ]; then
  $force || die "database '$target' exists; pass --force to drop it and restore into a fresh one"
  log "dropping the existing database '$target' (--force)"
  pg_sql 'drop database :"target" with (force)' \
    || die "could not drop database '$target'"
fi
pg_sql 'create database :"target"' \
  || die "could not create database '$target'"

# 3. The restore, all or nothing.
log "restoring $backup into '$target' on $(pg_shown)"
started=$(date +%s)
if ! pg_restore --dbname="$(pg_dbname "$target")" --single-transaction --exit-on-error \
  "${restore_options[@]}" "$backup"; then
  pg_sql 'drop database if exists :"target" with (force)' \
    || log "could not drop the half-created database '$target'; drop it by hand"
  die "pg_restore into '$target' failed; the database was removed again"
fi
log "restored '$target' in $(($(date +%s) - started))s"
