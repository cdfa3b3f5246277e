#!/usr/bin/env bash
# Install BaluPi as a hardened systemd service on Raspberry Pi OS / Debian (arm64, armhf), as root.
#
#   sudo deploy/install.sh [--data-dir DIR] [--port N]     install, enable and start
#   sudo deploy/install.sh --uninstall                      remove it, keeping data and config
#
# Idempotent: a second run with the same sources changes nothing (configuration, data, release,
# unit). Newer sources are not switched to here: that is deploy/update.sh's job (backup, trial
# migration, rollback).
#
# Options:
#   --data-dir DIR     database, cache, uploads, backups (default /var/lib/balupi; on a Pi an
#                      SSD mount such as /mnt/ssd/balupi); only on the first run, later the
#                      configuration file says where the data is
#   --port N           BALUPI_PORT of a new configuration (default 8000, which BaluApp expects)
#   --user NAME        the service user (default balupi)
#   --wheelhouse DIR   install the Python packages from this directory only (no network)
#   --prefix DIR       write every file under DIR (/opt, /etc, the unit dir); for tests and staging
#   --no-system        skip what needs a real system: apt, useradd, chown, systemctl
#   --systemctl CMD    control the service with CMD instead of systemctl
#   --uninstall        stop and remove the service, the releases and `balupi`; keep the data,
#                      the configuration and the user
set -euo pipefail
# shellcheck source=deploy/common.sh
. "$(dirname "$0")/common.sh"

DATA_DIR=""
PORT=8000
UNINSTALL=0
install_option() {
  SHIFT_COUNT=1
  case $1 in
    --data-dir) DATA_DIR=${2:?--data-dir needs a directory}; SHIFT_COUNT=2 ;;
    --port) PORT=${2:?--port needs a number}; SHIFT_COUNT=2 ;;
    --uninstall) UNINSTALL=1 ;;
    *) SHIFT_COUNT=0 ;;
  esac
}
parse_options install_option "$@"
if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
  die "--port: not a port: $PORT"
fi
set_paths

install_packages() {
  ((SYSTEM)) || return 0
  command -v apt-get >/dev/null || return 0
  local missing=() wanted=(python3 python3-venv python3-pip)
  if needs_build_tools; then wanted+=("${BUILD_PACKAGES[@]}"); fi
  for package in "${wanted[@]}"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

create_user() {
  ((SYSTEM)) || return 0
  getent passwd "$SERVICE_USER" >/dev/null && return 0
  log "creating the system user $SERVICE_USER"
  useradd --system --user-group --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "BaluPi service" "$SERVICE_USER"
}

# The configuration, written once: a generated SECRET_KEY, production mode, the data path.
write_config() {
  install -d -m 0755 "$CONF_DIR"
  if [ -e "$ENV_FILE" ]; then
    chmod 0600 "$ENV_FILE" # a world-readable configuration leaks the secrets
    local configured
    configured=$(env_value BALUPI_DATA_DIR)
    if [ -n "$DATA_DIR" ] && [ -n "$configured" ] && [ "$DATA_DIR" != "$configured" ]; then
      die "$ENV_FILE keeps the data in $configured; to move it, stop BaluPi, move the data, " \
        "edit BALUPI_DATA_DIR there and run install.sh without --data-dir"
    fi
    DATA_DIR=${configured:-${DATA_DIR:-$PREFIX/var/lib/balupi}}
    log "keeping the configuration in $ENV_FILE"
    return 0
  fi
  DATA_DIR=${DATA_DIR:-$PREFIX/var/lib/balupi}
  local secret staged="$ENV_FILE.new"
  secret=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')
  (
    umask 077
    sed -e "s|@SECRET_KEY@|$secret|" -e "s|@PORT@|$PORT|" -e "s|@DATA_DIR@|$DATA_DIR|" \
      "$DEPLOY_DIR/balupi.env.example" >"$staged"
  )
  mv "$staged" "$ENV_FILE"
  log "wrote $ENV_FILE (mode 0600, a new SECRET_KEY); add the NAS's settings there"
}

make_data_dir() {
  case $DATA_DIR in /*) ;; *) die "BALUPI_DATA_DIR must be an absolute path: $DATA_DIR" ;; esac
  install -d -m 0750 "$DATA_DIR"
  if ((SYSTEM)) || { [ "$(id -u)" -eq 0 ] && getent passwd "$SERVICE_USER" >/dev/null; }; then
    # The top only: chown -R would walk a cache of many thousand files on every run.
    chown "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
  fi
}

install_release() {
  local id current
  id=$(release_id)
  current=$(current_release)
  if [ -n "$current" ] && [ "$current" != "$id" ]; then
    log "BaluPi $current is installed; these sources are $id: run deploy/update.sh to switch"
    return 0
  fi
  build_release "$id"
  switch_current "$id"
}

# The unit (rendered from deploy/balupi.service) and, for a port below 1024, the capability to
# bind it. Returns 0 if anything changed.
install_unit() {
  local rendered changed=1 port
  rendered=$(mktemp)
  sed -e "s|@APP_DIR@|$APP_DIR|g" -e "s|@ENV_FILE@|$ENV_FILE|g" -e "s|@DATA_DIR@|$DATA_DIR|g" \
    -e "s|@USER@|$SERVICE_USER|g" "$DEPLOY_DIR/balupi.service" >"$rendered"
  if install_if_changed 0644 "$rendered" "$UNIT_FILE"; then
    log "installed $UNIT_FILE"
    changed=0
  fi
  port=$(env_value BALUPI_PORT)
  if ((${port:-8000} < 1024)); then
    printf '%s\n' "# Written by deploy/install.sh: BALUPI_PORT=$port is below 1024." "[Service]" \
      "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "AmbientCapabilities=CAP_NET_BIND_SERVICE" \
      >"$rendered"
    if install_if_changed 0644 "$rendered" "$DROPIN_DIR/10-low-port.conf"; then changed=0; fi
  elif [ -e "$DROPIN_DIR/10-low-port.conf" ]; then
    rm -f "$DROPIN_DIR/10-low-port.conf"
    changed=0
  fi
  rm -f "$rendered"
  return "$changed"
}

start_service() {
  local unit_changed=$1
  [ -n "$SYSTEMCTL" ] || {
    log "not starting the service (--no-system)"
    return 0
  }
  if ((unit_changed)); then service daemon-reload; fi
  service is-enabled --quiet balupi.service || service enable balupi.service
  if ! service is-active --quiet balupi.service; then
    log "starting balupi.service"
    service start balupi.service
  elif ((unit_changed)); then
    service restart balupi.service
  fi
}

uninstall() {
  if [ -n "$SYSTEMCTL" ] && [ -e "$UNIT_FILE" ]; then
    service disable --now balupi.service || true
  fi
  rm -rf "$UNIT_FILE" "$DROPIN_DIR" "$ADMIN_BIN" "$APP_DIR"
  [ -z "$SYSTEMCTL" ] || service daemon-reload
  log "removed BaluPi; kept the data ($(env_value BALUPI_DATA_DIR)), the configuration" \
    "($ENV_FILE) and the user $SERVICE_USER; remove them by hand to purge"
}

if ((UNINSTALL)); then
  uninstall
  exit 0
fi
install_packages
check_python
create_user
write_config
make_data_dir
install_release
install_admin_command
unit_changed=0
if install_unit; then unit_changed=1; fi
start_service "$unit_changed"
log "done. Next: add the NAS's settings to $ENV_FILE, then: sudo balupi doctor"
