#!/usr/bin/env bash
# `balupi …` for the administrator: the installed BaluPi, as the service user, with the service's
# configuration. deploy/install.sh renders this file into /usr/local/sbin/balupi, so that e.g.
# `sudo balupi doctor`, `sudo balupi db backup` and `sudo balupi db restore FILE` see exactly
# what the service sees. The configuration file is readable by root only, so this runs as root,
# reads it, and drops to the service user for BaluPi itself: files it writes (backups, a restored
# database) belong to the service. Variables already set in the environment win over the file
# (deploy/update.sh relies on that to migrate a copy of the database).
set -euo pipefail

env_file="@ENV_FILE@"
run_as="@RUN_AS@"
release="${BALUPI_RELEASE:-@APP_DIR@/current}"

if [ -n "$run_as" ] && [ "$(id -u)" -ne 0 ]; then
  echo "balupi: run this as root (sudo balupi $*): $env_file is readable by root only" >&2
  exit 1
fi
if [ ! -r "$env_file" ]; then
  echo "balupi: cannot read $env_file (is BaluPi installed? deploy/install.sh)" >&2
  exit 1
fi
while IFS= read -r line || [ -n "$line" ]; do
  case $line in '' | '#'* | ';'*) continue ;; esac
  key=${line%%=*}
  [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
  [ -n "${!key+set}" ] && continue # the caller's environment wins
  eval "export $line"
done <"$env_file"
export BALUPI_ENV_FILE="$env_file" # for `balupi doctor`, which checks the file's mode
unset PYTHONPATH PYTHONHOME        # the release's own packages, nothing from the caller's

if [ -n "$run_as" ]; then
  exec runuser -u "$run_as" -- "$release/bin/balupi" "$@"
fi
exec "$release/bin/balupi" "$@"
