# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are for the scripts that source this file
# What deploy/install.sh and deploy/update.sh share: options, paths, building a release, switching
# to it, and running BaluPi's own commands the way the service runs them. Sourced, not run.
#
# Layout (every path under --prefix, which is empty on a real Pi):
#   /opt/balupi/releases/<version>-<hash>/  one venv per release: the pinned requirements.txt
#                                           and BaluPi itself, no dev tools
#   /opt/balupi/current -> releases/<id>    what the service runs; switched atomically
#   /etc/balupi/balupi.env                  the configuration (0600, root), never overwritten
#   /etc/systemd/system/balupi.service      the unit, rendered from deploy/balupi.service
#   /usr/local/sbin/balupi                  `sudo balupi …` (deploy/balupi-admin.sh)
#   DATA_DIR (e.g. /mnt/ssd/balupi)         database, cache, uploads, backups (0750, balupi)

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=$(dirname "$DEPLOY_DIR")
PREFIX=""
SERVICE_USER="balupi"
SYSTEM=1        # 0 with --no-system: no apt, useradd, runuser or systemctl
SYSTEMCTL=""    # the command that controls the service (systemctl, or a stand-in for tests)
PIP_ARGS=()
PYTHON="${PYTHON:-python3}"
KEEP_RELEASES=3

log() { printf 'balupi: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Options both scripts take; sets SHIFT_COUNT to the arguments it used (0: not one of them).
common_option() {
  SHIFT_COUNT=1
  case $1 in
    --prefix) PREFIX=${2:?--prefix needs a directory}; SHIFT_COUNT=2 ;;
    --prefix=*) PREFIX=${1#*=} ;;
    --no-system) SYSTEM=0 ;;
    --systemctl) SYSTEMCTL=${2:?--systemctl needs a command}; SHIFT_COUNT=2 ;;
    --wheelhouse) PIP_ARGS=(--no-index --find-links "${2:?--wheelhouse needs a directory}"); SHIFT_COUNT=2 ;;
    --user) SERVICE_USER=${2:?--user needs a name}; SHIFT_COUNT=2 ;;
    *) SHIFT_COUNT=0 ;;
  esac
}

# Reads the command line: the options both scripts take (common_option), then the script's own
# through the function named first, which sets SHIFT_COUNT the same way (0: not one of its
# options). --help prints the script's header comment; any other option is an error.
parse_options() {
  local own=$1
  shift
  while (($#)); do
    common_option "$@"
    ((SHIFT_COUNT)) || "$own" "$@"
    if ((SHIFT_COUNT == 0)); then
      case $1 in
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
      esac
    fi
    shift "$SHIFT_COUNT"
  done
}

set_paths() {
  if [ -n "$PREFIX" ]; then
    mkdir -p "$PREFIX"
    PREFIX=$(cd "$PREFIX" && pwd)
  fi
  APP_DIR="$PREFIX/opt/balupi"
  RELEASES="$APP_DIR/releases"
  CURRENT="$APP_DIR/current"
  CONF_DIR="$PREFIX/etc/balupi"
  ENV_FILE="$CONF_DIR/balupi.env"
  UNIT_DIR="$PREFIX/etc/systemd/system"
  UNIT_FILE="$UNIT_DIR/balupi.service"
  DROPIN_DIR="$UNIT_DIR/balupi.service.d"
  ADMIN_BIN="$PREFIX/usr/local/sbin/balupi"
  if ((SYSTEM)); then
    [ "$(id -u)" -eq 0 ] || die "run as root (or with --no-system --prefix DIR to try it out)"
    SYSTEMCTL=${SYSTEMCTL:-systemctl}
    RUN_AS=$SERVICE_USER
  else
    RUN_AS=""
  fi
}

# The value of KEY in the configuration file (quotes removed), or nothing.
env_value() {
  [ -r "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | sed -e "s/^'\(.*\)'\$/\1/" -e 's/^"\(.*\)"$/\1/'
}

service() {
  [ -n "$SYSTEMCTL" ] || return 0
  "$SYSTEMCTL" "$@"
}

check_python() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
    die "BaluPi needs Python 3.11 or newer as '$PYTHON' (Raspberry Pi OS 12 has 3.11)"
  "$PYTHON" -c 'import venv' 2>/dev/null ||
    die "'$PYTHON' cannot create virtual environments: apt-get install python3-venv"
  # pip >= 22.3 installs into another interpreter's venv (--python), so a release venv needs no
  # pip of its own: quicker to build, and nothing but BaluPi's own packages in it.
  "$PYTHON" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' \
    2>/dev/null || die "'$PYTHON' needs pip 22.3 or newer: apt-get install python3-pip"
}

# The files a release is built from; its id hashes exactly these.
release_files() {
  (cd "$SOURCE_DIR" && find pyproject.toml README.md requirements.txt src -type f \
    ! -path '*/__pycache__/*' ! -path '*.egg-info/*' ! -path '*/node_modules/*' \
    ! -name '*.pyc' | LC_ALL=C sort)
}

# <version>-<12 hex digits of the sources' hash>: a rebuild of the same sources is the same
# release (a second install changes nothing), and any change makes a new one.
release_id() {
  local version digest
  version=$("$PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$SOURCE_DIR/pyproject.toml")
  digest=$(release_files | (cd "$SOURCE_DIR" && tr '\n' '\0' | xargs -0 sha256sum) | sha256sum)
  printf '%s-%s\n' "$version" "${digest:0:12}"
}

# Build releases/<id>: a fresh venv with the pinned requirements and BaluPi, from a clean copy
# of the sources (an in-tree build would reuse stale files under build/). A release without
# its .complete marker was interrupted and is built again from scratch.
build_release() {
  local id=$1 dir="$RELEASES/$1" staging
  if [ -f "$dir/.complete" ]; then
    log "release $id is built already"
    return 0
  fi
  log "building release $id in $dir"
  [ -f "$SOURCE_DIR/src/balupi/web/dist/index.html" ] ||
    log "note: the dashboard is not built (scripts/build-dashboard, Node.js 20+); the API works without it"
  rm -rf "$dir"
  mkdir -p "$RELEASES"
  # The venv lives where it is built: its scripts carry their own absolute path.
  "$PYTHON" -m venv --without-pip "$dir"
  staging="$dir/.source"
  mkdir "$staging"
  release_files | (cd "$SOURCE_DIR" && tar -cf - -T -) | (cd "$staging" && tar -xf -)
  local pip=("$PYTHON" -m pip --python "$dir/bin/python" --disable-pip-version-check --quiet)
  local pip_log="$dir/.pip.log"
  if ! "${pip[@]}" install --no-deps --no-compile "${PIP_ARGS[@]}" \
    -r "$SOURCE_DIR/requirements.txt" 2>"$pip_log"; then
    tail -n 20 "$pip_log" >&2
    die "$(pip_failure "$pip_log")"
  fi
  rm -f "$pip_log"
  "${pip[@]}" install --no-deps --no-compile "${PIP_ARGS[@]}" "$staging" ||
    die "installing BaluPi failed"
  "${pip[@]}" check >/dev/null || die "requirements.txt does not pin a consistent set"
  rm -rf "$staging"
  # Bytecode now, on every core: the service may not write it (ProtectSystem=strict), and
  # compiling at each start would cost a Pi seconds.
  "$dir/bin/python" -m compileall -q -j 0 "$dir/lib" >/dev/null
  install -d "$dir/share/balupi"
  cp "$DEPLOY_DIR/balupi.service" "$DEPLOY_DIR/balupi-admin.sh" "$DEPLOY_DIR/balupi.env.example" \
    "$dir/share/balupi/"
  touch "$dir/.complete"
}

# What a 32-bit Pi (armhf) compiles: the pins without an armv7l wheel on PyPI (cffi, greenlet,
# pillow, psutil; PyYAML falls back to pure Python) need a C compiler, Python's headers, libffi
# and libjpeg/zlib for Pillow. scripts/check-pi-wheels keeps that list true in CI.
BUILD_PACKAGES=(build-essential python3-dev libffi-dev libjpeg-dev zlib1g-dev)

# Whether pip will have to compile: no wheels for this machine (32-bit ARM) and no --wheelhouse.
needs_build_tools() {
  case $(uname -m) in armv7l | armv6l | armv8l) ;; *) return 1 ;; esac
  ((${#PIP_ARGS[@]} == 0))
}

# One sentence on why pip failed, from its error output: a build that could not compile (and
# the tool that was missing), or a package that could not be fetched.
pip_failure() {
  local log_file=$1 packages missing=""
  packages=$(sed -n -e 's/.*Could not build wheels for \(.*\), which is required.*/\1/p' \
    -e 's/.*Failed to build \(.*\)$/\1/p' -e 's/.*Could not build wheels for \(.*\)$/\1/p' \
    "$log_file" | head -n 1)
  if [ -n "$packages" ]; then
    command -v gcc >/dev/null 2>&1 || missing="a C compiler (gcc)"
    if [ -z "$missing" ] && ! "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
      missing="Python's headers (Python.h)"
    fi
    printf 'building %s from source failed%s; on Raspberry Pi OS: apt-get install %s' \
      "$packages" "${missing:+ (missing: $missing)}" "${BUILD_PACKAGES[*]}"
    return 0
  fi
  if grep -q -e 'No matching distribution' -e 'Could not find a version' "$log_file"; then
    if ((${#PIP_ARGS[@]})); then
      printf 'the wheelhouse lacks a pinned package (%s); see docs/deployment.md' \
        "$(sed -n 's/.*No matching distribution found for \(.*\)/\1/p' "$log_file" | head -n 1)"
    else
      printf 'a pinned package could not be fetched (no network? try --wheelhouse DIR)'
    fi
    return 0
  fi
  printf 'installing the pinned requirements failed (pip said: %s)' \
    "$(grep -m 1 -i 'error' "$log_file" || echo 'nothing')"
}

# Point current at releases/<id> in one rename: the service sees the old or the new, never none.
switch_current() {
  local id=$1
  [ "$(readlink "$CURRENT" 2>/dev/null || true)" = "releases/$id" ] && return 0
  ln -sfn "releases/$id" "$CURRENT.new"
  mv -T "$CURRENT.new" "$CURRENT"
  log "current release: $id"
}

current_release() {
  local target
  target=$(readlink "$CURRENT" 2>/dev/null) || return 0
  basename "$target"
}

# Keep the newest releases (and the current one); each is a whole venv of about 150 MB.
prune_releases() {
  local current keep=0 dir
  current=$(current_release)
  # shellcheck disable=SC2012 # release names are ours (<version>-<hex>); newest first
  while IFS= read -r dir; do
    [ -n "$dir" ] || continue
    if [ "$dir" = "$current" ] || ((keep < KEEP_RELEASES)); then
      keep=$((keep + 1))
      continue
    fi
    log "removing old release $dir"
    rm -rf "${RELEASES:?}/$dir"
  done < <(ls -1t "$RELEASES" 2>/dev/null)
}

# Install a file only if its content or mode differs, so that a second run changes nothing.
install_if_changed() {
  local mode=$1 source=$2 target=$3
  if [ -f "$target" ] && cmp -s "$source" "$target" &&
    [ "$(stat -c %a "$target")" = "${mode#0}" ]; then
    return 1
  fi
  install -D -m "$mode" "$source" "$target"
}

# The admin command, /usr/local/sbin/balupi, from deploy/balupi-admin.sh.
install_admin_command() {
  local rendered
  rendered=$(mktemp)
  sed -e "s|@ENV_FILE@|$ENV_FILE|g" -e "s|@RUN_AS@|$RUN_AS|g" -e "s|@APP_DIR@|$APP_DIR|g" \
    "$DEPLOY_DIR/balupi-admin.sh" >"$rendered"
  if install_if_changed 0755 "$rendered" "$ADMIN_BIN"; then log "installed $ADMIN_BIN"; fi
  rm -f "$rendered"
}

# Run a release's `balupi …` as the service does (its user, its configuration).
run_balupi() {
  local release=$1
  shift
  BALUPI_RELEASE="$RELEASES/$release" "$ADMIN_BIN" "$@"
}
