#!/usr/bin/env bash
# Installs the real OpenStack clients the compatibility tests drive into Keystone's venv (see
# scripts/keystone.sh), from PyPI, pinned to versions known to work together:
# python-openstackclient 10.5.0, python-magnumclient 5.0.0, openstacksdk 4.22.0, tempest 47.0.0,
# magnum-tempest-plugin 2.12.0, python-heatclient 5.3.0 (the `openstack orchestration` commands).
#
#   scripts/clients.sh install   install when missing; print the venv's bin directory
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
VENV="$(scripts/keystone.sh venv)"
PACKAGES=(python-openstackclient==10.5.0 python-magnumclient==5.0.0 openstacksdk==4.22.0 tempest==47.0.0 magnum-tempest-plugin==2.12.0 python-heatclient==5.3.0)

case "${1:-install}" in
    install)
        [[ -x "$VENV/bin/python" ]] || { echo "clients.sh: no venv at $VENV (run scripts/keystone.sh start first)" >&2; exit 1; }
        # `pip show A B` succeeds when any one of them is installed: ask for each.
        missing=0
        for pkg in python-openstackclient python-magnumclient tempest magnum-tempest-plugin python-heatclient; do
            "$VENV/bin/pip" show --quiet "$pkg" >/dev/null 2>&1 || missing=1
        done
        if [[ $missing == 1 ]]; then
            echo "clients.sh: installing ${PACKAGES[*]} (PyPI)" >&2
            "$VENV/bin/pip" install --quiet "${PACKAGES[@]}" >&2
        fi
        echo "$VENV/bin"
        ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
