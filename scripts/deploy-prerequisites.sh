#!/usr/bin/env bash
# What the deployment checks need: kubectl (for `kubectl kustomize`; Debian's kubernetes-client
# when none is installed), HAProxy (the rolling restart's load balancer), and from PyPI, in a
# virtual environment under .build/, kubernetes-validate (with the Kubernetes schemas) and
# websockets (the rolling restart's clients and backend). Prints the validator's path; the
# environment's python is beside it.
#
#   PORTICO_DEPLOY_VALIDATOR=$(scripts/deploy-prerequisites.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v kubectl >/dev/null || scripts/prerequisites.sh kubernetes-client >&2
scripts/prerequisites.sh haproxy >&2
venv=".build/deploy-venv"
if ! "$venv/bin/python" -c "import kubernetes_validate, websockets" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate>=1.31,<2" "websockets>=13,<16" >&2
fi
echo "$PWD/$venv/bin/kubernetes-validate"
