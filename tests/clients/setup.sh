#!/usr/bin/env bash
# Installs the clients of the cross-client suite (crates/riffle/tests/it/clients.rs):
#   - target/client-venv: a Python venv with boto3 and AWS CLI v1, pinned in
#     tests/clients/requirements.txt;
#   - tests/clients/js/node_modules: the JavaScript SDK v3, from the committed
#     package-lock.json (`npm ci`).
# Idempotent: each half is skipped when it is already installed from the
# current pin file. RIFFLE_CLIENTS_REINSTALL=1 forces both.
# Needs python3 (with venv), node and npm on PATH; PYTHON overrides python3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

PYTHON=${PYTHON:-python3}
VENV=$ROOT/target/client-venv
REQUIREMENTS=$ROOT/tests/clients/requirements.txt
JS=$ROOT/tests/clients/js
REINSTALL=${RIFFLE_CLIENTS_REINSTALL:-}

echo "== clients: python venv ($VENV)"
if [[ -n $REINSTALL ]] || ! cmp -s "$REQUIREMENTS" "$VENV/.riffle-requirements"; then
    if [[ ! -x $VENV/bin/python ]]; then
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/.riffle-requirements"
else
    echo "up to date"
fi
"$VENV/bin/python" -c 'import boto3, botocore; print("boto3", boto3.__version__, "botocore", botocore.__version__)'
"$VENV/bin/aws" --version

echo "== clients: JavaScript SDK v3 ($JS/node_modules)"
if [[ -n $REINSTALL ]] || ! cmp -s "$JS/package-lock.json" "$JS/node_modules/.riffle-package-lock.json"; then
    (cd "$JS" && npm ci --no-audit --no-fund)
    cp "$JS/package-lock.json" "$JS/node_modules/.riffle-package-lock.json"
else
    echo "up to date"
fi
echo "node $(node --version), @aws-sdk/client-kinesis $(node -p 'require("./tests/clients/js/node_modules/@aws-sdk/client-kinesis/package.json").version')"
