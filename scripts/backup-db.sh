#!/usr/bin/env bash
# Backs up one PostgreSQL database with pg_dump (custom format), writes a
# SHA-256 checksum beside it, and prunes old backups.
#
#   scripts/backup-db.sh [--url URL] [--dir DIR] [--label NAME] [--keep N] [--max-age-days D]
#
#   --url URL           postgres://user[:password]@host:port/db  (env DATABASE_URL;
#                       without either, libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD,
#                       PGDATABASE and ~/.pgpass are used)
#   --dir DIR           where backups go, created if missing   (env BACKUP_DIR, default ./backups)
#   --label NAME        file name prefix                        (env BACKUP_LABEL, default the database name)
#   --keep N            keep the N newest backups of this label (env BACKUP_KEEP, default 7; 0 keeps all)
#   --max-age-days D    also delete backups older than D days   (env BACKUP_MAX_AGE_DAYS, default unset)
#
# Writes DIR/<label>_<UTC time>.dump and DIR/<label>_<UTC time>.dump.sha256
# (sha256sum format), then prints the dump's path as the last line of stdout.
# The dump is written under a temporary name and renamed only once pg_dump
# succeeded and pg_restore can read its table of contents, so a failed run
# never leaves a file that looks like a backup. Pruning runs only after a
# successful backup and never deletes the one just written.
#
# A password inside --url/DATABASE_URL is handed to pg_dump as PGPASSWORD,
# not on its command line, and is never printed.
set -euo pipefail

log() { printf '[backup-db] %s\n' "$*" >&2; }
die() { printf '[backup-db] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

# shellcheck source=scripts/pg-common.sh
source "$(dirname "$0")/pg-common.sh"

url="${DATABASE_URL:-}"
dir="${BACKUP_DIR:-./backups}"
label="${BACKUP_LABEL:-}"
keep="${BACKUP_KEEP:-7}"
max_age_days="${BACKUP_MAX_AGE_DAYS:-}"

while [ $# -gt 0 ]; do
  case "$1" in
    --url) url="${2:?--url needs a value}"; shift 2 ;;
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --label) label="${2:?--label needs a value}"; shift 2 ;;
    --keep) keep="${2:?--keep needs a value}"; shift 2 ;;
    --max-age-days) max_age_days="${2:?--max-age-days needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[[ $keep =~ ^[0-9]+$ ]] || die "--keep must be a whole number, not '$keep'"
[[ -z $max_age_days || $max_age_days =~ ^[0-9]+$ ]] \
  || die "--max-age-days must be a whole number of days, not '$max_age_days'"
for tool in pg_dump pg_restore psql sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install postgresql-client)"
done

pg_connection "$url"
database=$(pg_psql -Atc 'select current_database()') \
  || die "cannot connect to $(pg_shown)"
label="${label:-$database}"
[[ $label =~ ^[A-Za-z0-9._-]+$ ]] || die "--label may hold letters, digits, '.', '_' and '-' only, not '$label'"

mkdir -p "$dir" || die "cannot create the backup folder $dir"
stamp=$(date -u +%Y%m%dT%H%M%S.%3NZ)
name="${label}_${stamp}.dump"
final="$dir/$name"
partial="$dir/.${name}.partial"
[ -e "$final" ] && die "$final exists already"
trap 'rm -f "$partial" "$partial.sha256"' EXIT

log "dumping database '$database' from $(pg_shown) to $final"
started=$(date +%s)
pg_dump_db --format=custom --compress=6 --file="$partial" \
  || die "pg_dump of '$database' failed; nothing was written"
pg_restore --list "$partial" >/dev/null \
  || die "pg_restore cannot read the dump pg_dump wrote; nothing was kept"
checksum=$(sha256sum "$partial" | cut -d' ' -f1)
printf '%s  %s\n' "$checksum" "$name" >"$partial.sha256"
mv "$partial" "$final"
mv "$partial.sha256" "$final.sha256"
trap - EXIT
log "wrote $final ($(stat -c %s "$final") bytes in $(($(date +%s) - started))s) and $name.sha256"

# Retention, newest first by the timestamp in the name.
mapfile -t backups < <(find "$dir" -maxdepth 1 -type f -name "${label}_????????T??????.???Z.dump" -printf '%f\n' | sort -r)
index=0
for backup in "${backups[@]}"; do
  index=$((index + 1))
  [ "$backup" = "$name" ] && continue
  reason=""
  if [ "$keep" -gt 0 ] && [ "$index" -gt "$keep" ]; then
    reason="beyond the $keep newest"
  elif [ -n "$max_age_days" ] && [ -n "$(find "$dir/$backup" -maxdepth 0 -mmin "+$((max_age_days * 1440))" -print)" ]; then
    reason="older than $max_age_days days"
  fi
  if [ -n "$reason" ]; then
    rm -f "$dir/$backup" "$dir/$backup.sha256"
    log "pruned $backup ($reason)"
  fi
done

echo "$final"
