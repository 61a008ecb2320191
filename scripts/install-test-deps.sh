#!/usr/bin/env bash
# Installs the programs the tests run: btcd and btcctl, pinned, into
# $(go env GOPATH)/bin. Safe to run again: it does nothing when the pinned
# version is already there. internal/testnode uses the same version and marker.
set -euo pipefail

BTCD_VERSION=v0.24.2

bin="$(go env GOPATH)/bin"
marker="$bin/.cointrail-btcd-version"

if [[ -x "$bin/btcd" && -x "$bin/btcctl" && -f "$marker" && "$(cat "$marker")" == "$BTCD_VERSION" ]]; then
	echo "btcd $BTCD_VERSION already installed in $bin"
	exit 0
fi

echo "installing btcd and btcctl $BTCD_VERSION into $bin"
go install "github.com/btcsuite/btcd@$BTCD_VERSION" "github.com/btcsuite/btcd/cmd/btcctl@$BTCD_VERSION"
echo "$BTCD_VERSION" >"$marker"
echo "done: $("$bin/btcd" --version)"
