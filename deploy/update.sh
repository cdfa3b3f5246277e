#!/usr/bin/env bash
# Update an installed BaluPi to the sources this script belongs to, safely, as root:
#
#   git -C ~/BaluPi pull && sudo ~/BaluPi/deploy/update.sh
#
# 1. builds the new release in a fresh venv (/opt/balupi/releases/<version>-<hash>); the
#    running service is untouched, and a failed build changes nothing;
# 2. migrates a copy of the live database (an online backup) with the new release: a migration
#    that fails stops the update here, with nothing changed;
# 3. stops BaluPi, backs the database up once more (the rollback point: stopped, so it holds
#    every acknowledged write), switches /opt/balupi/current atomically, migrates, starts;
# 4. waits until the service is active and /api/health answers; if it does not within
#    --ready-timeout seconds, it rolls back: stops, switches back, restores the rollback
#    point, starts the old release, and exits 1.
#
# Options: --ready-timeout S (default 180), --wheelhouse DIR, --prefix DIR, --no-system,
# --systemctl CMD, --user NAME (as for install.sh).
set -euo pipefail
# shellcheck source=deploy/common.sh
. "$(dirname "$0")/common.sh"

READY_TIMEOUT=180
update_option() {
  SHIFT_COUNT=2
  case $1 in
    --ready-timeout) READY_TIMEOUT=${2:?--ready-timeout needs seconds} ;;
    *) SHIFT_COUNT=0 ;;
  esac
}
parse_options update_option "$@"
set_paths
[ -n "$SYSTEMCTL" ] || die "an update restarts the service: without systemd give --systemctl CMD"
if [ ! -r "$ENV_FILE" ] || [ ! -L "$CURRENT" ]; then
  die "BaluPi is not installed here: run deploy/install.sh"
fi
check_python

DATA_DIR=$(env_value BALUPI_DATA_DIR)
[ -n "$(env_value BALUPI_DATABASE_URL)" ] &&
  die "BALUPI_DATABASE_URL is set: update.sh backs up the default DATA_DIR/balupi.db only"
DATABASE="$DATA_DIR/balupi.db"
BACKUPS="$DATA_DIR/backups"
OLD=$(current_release)
NEW=$(release_id)
if [ "$OLD" = "$NEW" ]; then
  log "BaluPi $NEW is installed already; nothing to do"
  exit 0
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
ROLLBACK_POINT="$BACKUPS/pre-update-$STAMP.db"

# Health as a client sees it: the port from the configuration, on loopback for a wildcard HOST.
healthy() {
  local host port
  host=$(env_value BALUPI_HOST)
  port=$(env_value BALUPI_PORT)
  case ${host:-0.0.0.0} in 0.0.0.0 | :: | "[::]") host=127.0.0.1 ;; esac
  "$CURRENT/bin/python" - "http://$host:${port:-8000}/api/health" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=3) as answer:
    sys.exit(answer.status != 200)
PY
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    if service is-active --quiet balupi.service && healthy; then return 0; fi
    sleep 0.5
  done
  return 1
}

rollback() {
  log "BaluPi $NEW did not become ready: rolling back to $OLD"
  service stop balupi.service || true
  switch_current "$OLD"
  if [ -f "$ROLLBACK_POINT" ]; then
    run_balupi "$OLD" db restore "$ROLLBACK_POINT" >&2 || die "restoring $ROLLBACK_POINT failed"
  fi
  service start balupi.service || true
  if wait_ready; then
    die "the update to $NEW failed; $OLD runs again on the database as it was (journalctl -u balupi)"
  fi
  die "the update to $NEW failed and $OLD does not start either: journalctl -u balupi"
}

# Old pre-update backups go (their names sort by time); the nightly ones are the service's
# business (BACKUP_KEEP).
prune_update_backups() {
  local backups=("$BACKUPS"/pre-update-*.db)
  local count=${#backups[@]}
  ((count > 3)) || return 0
  rm -f "${backups[@]:0:count-3}"
}

log "updating BaluPi $OLD -> $NEW"
build_release "$NEW"
install_admin_command

if [ -f "$DATABASE" ]; then
  trial="$BACKUPS/.update-trial-$STAMP.db"
  run_balupi "$NEW" db backup --to "$trial" >&2
  if ! BALUPI_DATABASE_URL="sqlite+aiosqlite:///$trial" run_balupi "$NEW" db upgrade >&2; then
    rm -f "$trial"
    die "the new release cannot migrate a copy of the database; nothing was changed"
  fi
  rm -f "$trial"
fi

service stop balupi.service
if [ -f "$DATABASE" ]; then
  run_balupi "$OLD" db backup --to "$ROLLBACK_POINT" >&2
fi
switch_current "$NEW"
run_balupi "$NEW" db upgrade >&2 || rollback
# systemctl start returns once BaluPi said READY=1 (Type=notify), or fails.
service start balupi.service || rollback
wait_ready || rollback
prune_update_backups
prune_releases
log "BaluPi $NEW is running (rollback point: $ROLLBACK_POINT)"
