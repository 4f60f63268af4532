#!/bin/sh
# Installs what Awning's tests need on a Debian or Ubuntu machine, when it is
# missing: redis-server and redis-cli (state and cache tests start their own
# servers on free loopback ports, Redis Clusters too), redis-sentinel (the
# failover drills start a Sentinel set), Chromium (the outage page is tested
# in a real browser),
# systemd-analyze (deploy/systemd's unit is verified; package systemd, which
# works as a plain program here: nothing is started or enabled), curl and
# h2load (nghttp2-client: real HTTP/2 clients), and h2spec (the HTTP/2
# conformance suite, built from the Go module proxy at a pinned version into
# $(go env GOPATH)/bin, where the tests look for it).
# Tests never skip because a tool is missing; they fail and point here.
set -eu

# h2spec v2.2.1 has no go.mod, so the module proxy serves it as
# +incompatible; its dependencies resolve to their newest versions.
H2SPEC=github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
if ! command -v h2spec >/dev/null 2>&1 && [ ! -x "$gobin/h2spec" ]; then
	echo "install-test-deps: installing $H2SPEC" >&2
	go install "$H2SPEC"
fi

need=""
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v redis-cli >/dev/null 2>&1 || need="$need redis-tools"
command -v redis-sentinel >/dev/null 2>&1 || need="$need redis-sentinel"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v h2load >/dev/null 2>&1 || need="$need nghttp2-client"
if [ -z "$need" ]; then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: missing:$need; install them with your package manager" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "install-test-deps: missing:$need; run as root or install them: apt-get install$need" >&2
		exit 1
	fi
fi
echo "install-test-deps: installing$need" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
