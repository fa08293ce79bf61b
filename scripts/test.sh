#!/usr/bin/env bash
# Install fixbridge with its test tools and the real FIX peer (QuickFIX) into .venv, then
# lint, type-check and run the whole test suite. Safe to run repeatedly; extra arguments go
# to pytest (e.g. scripts/test.sh -k session).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${FIXBRIDGE_VENV:-.venv}

as_root() {  # root itself, or password-less sudo; fails when neither is available
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

can_apt() {
    command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }
}

apt_install() {  # Debian packages, only when missing and only where we may install them
    if can_apt; then
        echo "== apt-get install $*"
        as_root apt-get update -qq \
            && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "missing system packages: $* (install them, then run again)" >&2
        exit 1
    fi
}

echo "== environment"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$PY" -m venv "$VENV"; }
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VPY" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# QuickFIX's Python binding builds from source: a few minutes the first time, then pip's
# wheel cache makes it instant. Its stock FIX 5.0 SP2 dictionaries are fetched by the tests.
if ! "$VPY" -c 'import quickfix' 2>/dev/null; then
    command -v g++ >/dev/null || apt_install g++
    "$VPY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || apt_install python3-dev
    echo "== building QuickFIX (first run only)"
    "$VPY" -m pip install --quiet --disable-pip-version-check 'quickfix==1.16.0'
fi
# promtool checks deploy/'s Prometheus rules and scrape config (tests/unit/test_deploy.py: a
# missing promtool fails those tests in CI and skips them elsewhere); Debian's prometheus
# package ships it as /usr/bin/promtool.
if ! command -v promtool >/dev/null; then
    if can_apt; then
        apt_install --no-install-recommends prometheus
    else
        echo "note: promtool not found (Debian package prometheus): its checks will skip" >&2
    fi
fi
# systemd-analyze verifies deploy/fixbridge.service (tests/unit/test_deploy.py, like promtool:
# a missing one fails in CI and skips elsewhere); Debian's systemd package ships it.
if ! command -v systemd-analyze >/dev/null; then
    if can_apt; then
        apt_install --no-install-recommends systemd
    else
        echo "note: systemd-analyze not found (Debian package systemd): its check will skip" >&2
    fi
fi
# Headless Chromium loads /status as a browser would (tests/integration/test_status_page.py;
# like promtool: a missing one fails in CI and skips elsewhere).
if ! command -v chromium-headless-shell >/dev/null; then
    if can_apt; then
        apt_install --no-install-recommends chromium-headless-shell
    else
        echo "note: chromium-headless-shell not found (Debian package): its check will skip" >&2
    fi
fi
# A real PostgreSQL server for the journal's PostgreSQL tests (tests/postgres_server.py starts
# its own, as the postgres user, in a temporary directory; like promtool: a missing one fails
# in CI and skips elsewhere). Debian's postgresql package ships initdb and pg_ctl.
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if can_apt; then
        # No "main" cluster, and so no server started by the package: the tests run their own.
        as_root mkdir -p /etc/postgresql-common
        echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
        apt_install --no-install-recommends postgresql
    else
        echo "note: PostgreSQL server not found (Debian package postgresql): its tests will skip" >&2
    fi
fi
echo "== ruff"
"$VPY" -m ruff check fixbridge tests bench specs
echo "== mypy"
"$VPY" -m mypy fixbridge
echo "== pytest"
"$VPY" -m pytest -q -p no:cacheprovider "$@"
