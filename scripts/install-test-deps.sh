#!/usr/bin/env bash
# Installs the programs the tests run, and does nothing for those already
# there: btcd and btcctl, pinned, into $(go env GOPATH)/bin (internal/testnode
# uses the same version and marker), Debian's python3-zmq, which the ZMQ
# follower test uses to publish blocks the way Bitcoin Core does, and
# Debian's chromium, in which the report's print tests lay out and print
# the HTML report (the release's own package: Debian ships one chromium per
# release, updated only for security, so the release is the pin).
set -euo pipefail

BTCD_VERSION=v0.24.2

bin="$(go env GOPATH)/bin"
marker="$bin/.cointrail-btcd-version"

if [[ -x "$bin/btcd" && -x "$bin/btcctl" && -f "$marker" && "$(cat "$marker")" == "$BTCD_VERSION" ]]; then
	echo "btcd $BTCD_VERSION already installed in $bin"
else
	echo "installing btcd and btcctl $BTCD_VERSION into $bin"
	go install "github.com/btcsuite/btcd@$BTCD_VERSION" "github.com/btcsuite/btcd/cmd/btcctl@$BTCD_VERSION"
	echo "$BTCD_VERSION" >"$marker"
	echo "done: $("$bin/btcd" --version)"
fi

if /usr/bin/python3 -c 'import zmq' 2>/dev/null; then
	echo "python3-zmq already installed"
else
	echo "installing python3-zmq (Debian)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-zmq >/dev/null
fi

if command -v chromium >/dev/null || [[ -n "${COINTRAIL_CHROMIUM:-}" ]]; then
	echo "chromium already installed: $("${COINTRAIL_CHROMIUM:-chromium}" --version 2>/dev/null || true)"
else
	echo "installing chromium (Debian)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	echo "done: $(chromium --version)"
fi
