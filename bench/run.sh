#!/usr/bin/env bash
# bench/run.sh — Awning beside nginx, Varnish, HAProxy, Caddy and a bare
# fasthttp server, on this machine, in one run. See docs/benchmarks.md.
#
#   bench/run.sh            every workload: B A C E H D S
#   bench/run.sh A C        some of them (setup and the outage page are shared)
#   bench/run.sh H          HTTP/2: A and C over TLS with h2load
#   bench/run.sh S          Awning alone: copies over 10,000 sites beside one site
#
# Environment: ROUNDS (3), DURATION (10s, each wrk, hsload or h2load run),
# CONNS (64), HS_CONNS (32), H2_CONNS (64) and H2_STREAMS (10) for h2load,
# SITES (10000, workload S),
# OUT (bench/results/<time>), SERVER_CPU (0), CLIENT_CPU (1),
# AWNING_BIN (a prebuilt awning; default: built from this tree),
# AWNING_BASE_BIN (optional: a second awning, say one built from an older
# commit, run beside the first as "awning-base" in A and C, so that a change
# is measured in the same rounds), ORIGIN_PORT (18000; its control port is
# 9 more): another free port keeps a second bench run on the same machine
# from bringing "the origin down" back up.
#
# Servers run on SERVER_CPU (Go servers with GOMAXPROCS=1, nginx with one
# worker, HAProxy with one thread), the load generators on CLIENT_CPU. Every
# process started here is stopped by PID when the script exits. Needs (as
# root, from Debian): nginx, varnish, haproxy, caddy, wrk, openssl, curl.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
HS_CONNS=${HS_CONNS:-32}
H2_CONNS=${H2_CONNS:-64}
H2_STREAMS=${H2_STREAMS:-10}
ORIGIN_PORT=${ORIGIN_PORT:-18000}
CONTROL_PORT=$((ORIGIN_PORT + 9))
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)}
WORKLOADS=("$@")
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(B A C E H D S)
SITES=${SITES:-10000}

for tool in nginx varnishd haproxy caddy wrk h2load openssl curl taskset; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install nginx varnish haproxy caddy wrk nghttp2-client openssl curl)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/awning-bench.XXXXXX)
BIN=$WORK/bin
mkdir -p "$OUT" "$BIN" "$WORK/www" "$WORK/cert" "$WORK/nginx-cache"
declare -A PID=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

# stop NAME...: stop servers by the PID they were started with.
stop() {
	local n
	for n in "$@"; do
		[ -n "${PID[$n]:-}" ] || continue
		kill "${PID[$n]}" 2>/dev/null || true
		wait "${PID[$n]}" 2>/dev/null || true
		unset "PID[$n]"
	done
}
stop_all() { stop "${!PID[@]}"; }
cleanup() {
	stop_all
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: run CMD pinned to the server core, logging to WORK.
start() {
	local name=$1
	shift
	taskset -c "$SERVER_CPU" "$@" >"$WORK/$name.log" 2>&1 &
	PID[$name]=$!
}
start_go() { # GOMAXPROCS=1 for Go servers: one core, one P
	local name=$1
	shift
	start "$name" env GOMAXPROCS=1 "$@"
}

# wait_http URL [SECONDS]: until URL answers anything.
wait_http() {
	local url=$1 t=${2:-15} i
	for ((i = 0; i < t * 10; i++)); do
		curl -sk -o /dev/null --max-time 1 "$url" && return 0
		sleep 0.1
	done
	echo "run.sh: $url did not come up; logs in $WORK" >&2
	tail -n 20 "$WORK"/*.log >&2 || true
	return 1
}

# get URL: one request as the load generator makes it, headers to stdout.
get() { curl -sk -o /dev/null -D - --max-time 70 -H 'Host: shop.example' -H 'Accept-Encoding: gzip' "$1"; }

# expect NAME URL REGEX: the answer's head must match REGEX (grep -E).
expect() {
	local name=$1 url=$2 re=$3 head
	head=$(get "$url" | tr -d '\r')
	printf '%s\n' "$head" >"$OUT/$W/$name.head"
	if ! grep -Eqi "$re" <<<"$head"; then
		echo "run.sh: $W/$name: $url: no match for /$re/ in:" >&2
		printf '%s\n' "$head" >&2
		exit 1
	fi
}

# cpu_ticks PID: CPU time (clock ticks) of PID and its children.
cpu_ticks() {
	local total=0 p s
	for p in "$1" $(pgrep -P "$1" || true); do
		s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
		total=$((total + ${s% *} + ${s#* }))
	done
	echo "$total"
}

loadavg() { cut -d' ' -f1 /proc/loadavg; }

# OWNER maps a result name to the server (a PID key) that produced it, when
# they differ; its CPU time over each run is recorded beside wrk's output.
declare -A OWNER=()

# wrk_run NAME FILE URL: one wrk run, then the server's CPU seconds (the
# server's own work per request, which the machine's other load disturbs
# far less than throughput) and the load average.
wrk_run() {
	local name=$1 f=$2 url=$3 pid t0=0 t1=0
	pid=${PID[${OWNER[$name]:-$name}]:-}
	[ -n "$pid" ] && t0=$(cpu_ticks "$pid")
	if [ -n "${H2:-}" ]; then
		h2load_run "$url" "$DURATION" >"$f"
	else
		taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} \
			-H 'Host: shop.example' -H 'Accept-Encoding: gzip' "$url" >"$f"
	fi
	if [ -n "$pid" ]; then
		t1=$(cpu_ticks "$pid")
		echo "server_cpu_s: $(awk -v a="$t0" -v b="$t1" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/t}')" >>"$f"
	fi
	echo "loadavg: $(loadavg)" >>"$f"
}

# h2load_run URL DURATION: HTTP/2 over TLS, H2_CONNS connections with
# H2_STREAMS streams each, for DURATION. URL names shop.example (the SNI
# and :authority) and the port; h2load connects to 127.0.0.1.
h2load_run() {
	local url=$1 port
	port=${url#https://shop.example:}
	port=${port%%/*}
	taskset -c "$CLIENT_CPU" h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D"$2" \
		-H 'Accept-Encoding: gzip' --connect-to="127.0.0.1:$port" "$url"
}

# rounds: run every server of the workload once per round, interleaved, so
# that each round's ratios are measured under the same machine load.
# Arguments: NAME=URL pairs.
rounds() {
	local r pair name url
	mkdir -p "$OUT/$W"
	[ -z "${WRK_SCRIPT:-}" ] || echo "wrk script: $WRK_SCRIPT" >"$OUT/$W/script.txt"
	for pair in "$@"; do # warm each once (connections, JIT-free but caches)
		url=${pair#*=}
		if [ -n "${H2:-}" ]; then
			h2load_run "$url" 2s >/dev/null
		else
			taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} \
				-H 'Host: shop.example' -H 'Accept-Encoding: gzip' "$url" >/dev/null
		fi
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		for pair in "$@"; do
			name=${pair%%=*}
			url=${pair#*=}
			log "$W round $r: $name"
			wrk_run "$name" "$OUT/$W/$name.$r.txt" "$url"
		done
	done
}

# ---------------------------------------------------------------- setup

log "building into $BIN"
if [ -n "${AWNING_BIN:-}" ]; then cp "$AWNING_BIN" "$BIN/awning"; else go build -o "$BIN/awning" ./cmd/awning; fi
for c in origin limit floor hsload report scale; do go build -o "$BIN/$c" "./bench/cmd/$c"; done

conf() { # conf TEMPLATE NAME PORT ADMIN [HTTPPORT]: a config with placeholders filled
	sed -e "s|@DIR@|$WORK|g" -e "s|@NAME@|$2|g" -e "s|@PORT@|${3:-}|g" -e "s|@ADMIN@|${4:-}|g" -e "s|@HTTPPORT@|${5:-}|g" \
		-e "s|127.0.0.1:18000|127.0.0.1:$ORIGIN_PORT|g" -e "s|\"18000\"|\"$ORIGIN_PORT\"|g" \
		"$ROOT/bench/conf/$1" >"$WORK/$2.${1##*.}"
	echo "$WORK/$2.${1##*.}"
}

# One ECDSA P-256 certificate for Awning and nginx (workload E): Awning's
# self-signed mode serves a valid leaf found in its state directory as is.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
	-subj /CN=shop.example -addext subjectAltName=DNS:shop.example,IP:127.0.0.1 \
	-keyout "$WORK/cert/shop.example.key" -out "$WORK/cert/shop.example.crt" 2>/dev/null
mkdir -p "$WORK/awning-awning-tls/local-ca/leaves"
for h in shop.example 127.0.0.1; do # clients that send no name reach 127.0.0.1
	cp "$WORK/cert/shop.example.crt" "$WORK/awning-awning-tls/local-ca/leaves/$h.crt"
	cp "$WORK/cert/shop.example.key" "$WORK/awning-awning-tls/local-ca/leaves/$h.key"
done
cat "$WORK/cert/shop.example.crt" "$WORK/cert/shop.example.key" >"$WORK/cert/shop.example.pem" # HAProxy's form
[ -z "${AWNING_BASE_BIN:-}" ] || cp "$AWNING_BASE_BIN" "$BIN/awning-base"

# Awning's outage page, byte for byte, for the others to serve in C.
log "rendering the outage page"
start_go awning "$BIN/awning" serve --config "$(conf awning.yaml awning 18200 18290)"
wait_http http://127.0.0.1:18200/
curl -s -H 'Host: shop.example' -o "$WORK/www/outage.html" http://127.0.0.1:18200/product/nocopy
# and its gzip form, byte for byte, for servers that can send a file's
# precompressed twin (nginx gzip_static, Caddy precompressed, the limit)
curl -s -H 'Host: shop.example' -H 'Accept-Encoding: gzip' -o "$WORK/www/outage.html.gz" http://127.0.0.1:18200/product/nocopy
stop awning
{
	printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: %d\r\n\r\n' "$(stat -c %s "$WORK/www/outage.html")"
	cat "$WORK/www/outage.html"
} >"$WORK/www/outage.http"

{
	echo "date: $(date -u +%FT%TZ)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo -dirty)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') × $(nproc)"
	echo "kernel: $(uname -r)"
	echo "go: $(go version | cut -d' ' -f3)"
	echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2)"
	echo "varnish: $(varnishd -V 2>&1 | head -1 | sed 's/.*varnish-\([^ ]*\).*/\1/')"
	echo "haproxy: $(haproxy -v | head -1 | cut -d' ' -f3)"
	echo "caddy: $(caddy version | cut -d' ' -f1)"
	echo "wrk: -t1 -c$CONNS -d$DURATION, rounds $ROUNDS, servers on CPU $SERVER_CPU, load on CPU $CLIENT_CPU"
	echo "h2load: $(h2load --version | cut -d' ' -f2) -t1 -c$H2_CONNS -m$H2_STREAMS -D$DURATION"
	[ -z "${AWNING_BASE_BIN:-}" ] || echo "awning-base: $("$BIN/awning-base" version 2>&1 | head -1)"
	echo "page: $("$BIN/report" -pagesize)"
	echo "outage page: $(stat -c %s "$WORK/www/outage.html") bytes, $(stat -c %s "$WORK/www/outage.html.gz") gzip"
	echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

start_origin() {
	[ -n "${PID[origin]:-}" ] && return
	start_go origin "$BIN/origin" -listen "127.0.0.1:$ORIGIN_PORT" -control "127.0.0.1:$CONTROL_PORT"
	wait_http "http://127.0.0.1:$ORIGIN_PORT/healthz"
}
varnish_start() { # varnish_start NAME VCL -a ADDR...
	local name=$1 vcl=$2
	shift 2
	start "$name" varnishd -F -j none -n "$WORK/varnish-$name" -f "$vcl" -s malloc,256m \
		-p thread_pools=1 -p default_ttl=300 "$@"
}

# ---------------------------------------------------------------- B: pass-through

phase_B() {
	W=B
	log "B: pass-through to a healthy origin"
	start_origin
	start_go awning "$BIN/awning" serve --config "$(conf awning.yaml awning 18200 18290)"
	start nginx nginx -c "$(conf nginx.conf nginx)" -g 'daemon off;'
	varnish_start varnish "$(conf varnish.vcl varnish)" -a shop=127.0.0.1:18400 -a pass=127.0.0.1:18401
	start haproxy haproxy -db -f "$(conf haproxy.cfg haproxy)"
	start_go caddy env XDG_CONFIG_HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" caddy run --adapter caddyfile --config "$(conf Caddyfile caddy)"
	start_go floor "$BIN/floor" -listen 127.0.0.1:18700 -origin "127.0.0.1:$ORIGIN_PORT"
	for u in 18200 18301 18302 18401 18500 18600 18700; do wait_http "http://127.0.0.1:$u/healthz"; done
	mkdir -p "$OUT/B"
	expect limit "http://127.0.0.1:$ORIGIN_PORT/product/1" 'Content-Encoding: gzip'
	expect awning http://127.0.0.1:18200/product/1 'Awning-Served: origin'
	expect nginx http://127.0.0.1:18301/product/1 'Content-Encoding: gzip'
	expect nginx-store http://127.0.0.1:18302/product/1 'X-Cache-Status: BYPASS'
	expect varnish http://127.0.0.1:18401/product/1 'Content-Encoding: gzip'
	expect haproxy http://127.0.0.1:18500/product/1 'Content-Encoding: gzip'
	expect caddy http://127.0.0.1:18600/product/1 'Content-Encoding: gzip'
	expect floor http://127.0.0.1:18700/product/1 'Content-Encoding: gzip'
	OWNER=([limit]=origin [nginx-store]=nginx)
	rounds limit="http://127.0.0.1:$ORIGIN_PORT/product/1" awning=http://127.0.0.1:18200/product/1 \
		nginx=http://127.0.0.1:18301/product/1 nginx-store=http://127.0.0.1:18302/product/1 \
		varnish=http://127.0.0.1:18401/product/1 haproxy=http://127.0.0.1:18500/product/1 \
		caddy=http://127.0.0.1:18600/product/1 floor=http://127.0.0.1:18700/product/1
	# The same over 1000 pages (bench/conf/many.lua): concurrent requests
	# rarely ask for one page, so Awning's collapsing of identical requests
	# into one origin request does not help it here.
	W=B-many
	WRK_SCRIPT=$ROOT/bench/conf/many.lua rounds limit="http://127.0.0.1:$ORIGIN_PORT" awning=http://127.0.0.1:18200 \
		nginx=http://127.0.0.1:18301 haproxy=http://127.0.0.1:18500 caddy=http://127.0.0.1:18600 \
		floor=http://127.0.0.1:18700
	stop_all
}

# ---------------------------------------------------------------- A, C, E: origin down

down_started=
start_down() {
	[ -n "$down_started" ] && return
	down_started=1
	log "origin down: warming copies, then stopping the origin"
	start_origin
	start_go awning "$BIN/awning" serve --config "$(conf awning.yaml awning 18200 18290)"
	start_go awning-tls "$BIN/awning" serve --config "$(conf awning-tls.yaml awning-tls 18243 18291 18280)"
	base_urls=
	if [ -n "${AWNING_BASE_BIN:-}" ]; then
		start_go awning-base "$BIN/awning-base" serve --config "$(conf awning.yaml awning-base 18201 18294)"
		base_urls=http://127.0.0.1:18201
	fi
	start nginx nginx -c "$(conf nginx.conf nginx)" -g 'daemon off;'
	varnish_start varnish "$(conf varnish.vcl varnish)" -a shop=127.0.0.1:18400 -a pass=127.0.0.1:18401
	start haproxy haproxy -db -f "$(conf haproxy.cfg haproxy)"
	start_go caddy env XDG_CONFIG_HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" caddy run --adapter caddyfile --config "$(conf Caddyfile caddy)"
	start_go limit "$BIN/limit" -listen 127.0.0.1:18100 -outage "$WORK/www/outage.html" \
		-h2 127.0.0.1:18143 -cert "$WORK/cert/shop.example.crt" -key "$WORK/cert/shop.example.key"
	start_go floor "$BIN/floor" -listen 127.0.0.1:18701 -answer "$WORK/www/outage.http"
	for u in http://127.0.0.1:18200 https://127.0.0.1:18243 http://127.0.0.1:18300 https://127.0.0.1:18343 \
		http://127.0.0.1:18400 http://127.0.0.1:18500 http://127.0.0.1:18600 http://127.0.0.1:18100 http://127.0.0.1:18701 $base_urls; do
		wait_http "$u/healthz"
	done
	for u in http://127.0.0.1:18200 https://127.0.0.1:18243 http://127.0.0.1:18300 https://127.0.0.1:18343 http://127.0.0.1:18400 $base_urls; do
		get "$u/product/1" >/dev/null
	done
	stop origin
	log "waiting for Awning's circuits to open"
	local i
	for ((i = 0; i < 100; i++)); do
		get http://127.0.0.1:18200/product/1 | grep -q 'Cache-Status: Awning; hit' &&
			get https://127.0.0.1:18243/product/1 | grep -q 'Cache-Status: Awning; hit' &&
			{ [ -z "$base_urls" ] || get "$base_urls/product/1" | grep -q 'Cache-Status: Awning; hit'; } && break
		sleep 0.1
	done
	sleep 2 # HAProxy's and Varnish's probes, Caddy's passive check
}

phase_A() {
	W=A
	log "A: a copy served, origin down"
	start_down
	mkdir -p "$OUT/A"
	OWNER=()
	expect limit http://127.0.0.1:18100/product/1 'Content-Encoding: gzip'
	expect awning http://127.0.0.1:18200/product/1 'Awning-Served: stale'
	expect nginx http://127.0.0.1:18300/product/1 'X-Cache-Status: HIT'
	expect varnish http://127.0.0.1:18400/product/1 'Age: [1-9]'
	local base=()
	[ -z "$base_urls" ] || base=(awning-base="$base_urls/product/1")
	rounds limit=http://127.0.0.1:18100/product/1 awning=http://127.0.0.1:18200/product/1 "${base[@]}" \
		nginx=http://127.0.0.1:18300/product/1 varnish=http://127.0.0.1:18400/product/1
}

phase_C() {
	W=C
	log "C: the outage page, no copy, origin down"
	start_down
	mkdir -p "$OUT/C"
	OWNER=()
	expect limit http://127.0.0.1:18100/outage 'Content-Encoding: gzip'
	expect awning http://127.0.0.1:18200/product/nocopy 'Awning-Served: outage'
	expect nginx http://127.0.0.1:18300/product/nocopy 'Content-Encoding: gzip'
	expect varnish http://127.0.0.1:18400/product/nocopy '^HTTP/1.1 503'
	expect haproxy http://127.0.0.1:18500/product/nocopy '^HTTP/1.1 503'
	expect caddy http://127.0.0.1:18600/product/nocopy 'Content-Encoding: gzip'
	expect floor http://127.0.0.1:18701/product/nocopy '^HTTP/1.1 503'
	local base=()
	[ -z "$base_urls" ] || base=(awning-base="$base_urls/product/nocopy")
	rounds limit=http://127.0.0.1:18100/outage awning=http://127.0.0.1:18200/product/nocopy "${base[@]}" \
		nginx=http://127.0.0.1:18300/product/nocopy varnish=http://127.0.0.1:18400/product/nocopy \
		haproxy=http://127.0.0.1:18500/product/nocopy caddy=http://127.0.0.1:18600/product/nocopy \
		floor=http://127.0.0.1:18701/product/nocopy
}

# ---------------------------------------------------------------- H: HTTP/2

# h2_expect NAME URL REGEX: one HTTP/2 request as h2load makes it; the head
# must say HTTP/2 and match REGEX.
h2_expect() {
	local name=$1 url=$2 re=$3 head port
	port=${url#https://shop.example:}
	port=${port%%/*}
	head=$(curl -sk --http2 -o /dev/null -D - --max-time 10 --resolve "shop.example:$port:127.0.0.1" \
		-H 'Accept-Encoding: gzip' "$url" | tr -d '\r')
	printf '%s\n' "$head" >"$OUT/$W/$name.head"
	if ! grep -q '^HTTP/2 ' <<<"$head" || ! grep -Eqi "$re" <<<"$head"; then
		echo "run.sh: $W/$name: $url: not HTTP/2 or no match for /$re/ in:" >&2
		printf '%s\n' "$head" >&2
		exit 1
	fi
}

phase_H() {
	log "H: HTTP/2 over TLS with h2load (-c$H2_CONNS -m$H2_STREAMS), origin down"
	start_down
	# limit: the same bytes from Go's HTTP/2 server with a plain handler,
	# the ceiling of the server Awning's HTTP/2 runs on.
	local awning=https://shop.example:18243 nginx=https://shop.example:18344
	local haproxy=https://shop.example:18543 caddy=https://shop.example:18643 limit=https://shop.example:18143
	W=H-A
	mkdir -p "$OUT/$W"
	OWNER=([awning]=awning-tls)
	h2_expect awning "$awning/product/1" 'Awning-Served: stale'
	h2_expect nginx "$nginx/product/1" 'X-Cache-Status: HIT'
	h2_expect limit "$limit/product/1" 'Content-Encoding: gzip'
	H2=1 rounds limit="$limit/product/1" awning="$awning/product/1" nginx="$nginx/product/1"
	W=H-C
	mkdir -p "$OUT/$W"
	h2_expect awning "$awning/product/nocopy" 'Awning-Served: outage'
	h2_expect nginx "$nginx/product/nocopy" 'Content-Encoding: gzip'
	h2_expect haproxy "$haproxy/product/nocopy" '^HTTP/2 503'
	h2_expect caddy "$caddy/product/nocopy" 'Content-Encoding: gzip'
	h2_expect limit "$limit/outage" 'Content-Encoding: gzip'
	H2=1 rounds limit="$limit/outage" awning="$awning/product/nocopy" nginx="$nginx/product/nocopy" \
		haproxy="$haproxy/product/nocopy" caddy="$caddy/product/nocopy"
}

# hs_once NAME ADDR PID ROUND [ARGS]: one hsload run, with the server's CPU
# time (PID and its children) over the run.
hs_once() {
	local name=$1 addr=$2 pid=$3 r=$4 t0 t1 f
	shift 4
	f=$OUT/$W/$name.$r.txt
	log "$W round $r: $name"
	t0=$(cpu_ticks "$pid")
	taskset -c "$CLIENT_CPU" env GOMAXPROCS=1 "$BIN/hsload" -addr "$addr" -sni shop.example \
		-c "$HS_CONNS" -d "$DURATION" "$@" >"$f"
	t1=$(cpu_ticks "$pid")
	echo "server_cpu_s: $(awk -v a="$t0" -v b="$t1" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/t}')" >>"$f"
	echo "loadavg: $(loadavg)" >>"$f"
}

phase_E() {
	log "E: TLS, the same ECDSA P-256 certificate, X25519, TLS 1.3"
	start_down
	W=E-keepalive
	mkdir -p "$OUT/$W"
	expect awning https://127.0.0.1:18243/product/1 'Awning-Served: stale'
	expect nginx https://127.0.0.1:18343/product/1 'X-Cache-Status: HIT'
	OWNER=([awning]=awning-tls)
	rounds awning=https://127.0.0.1:18243/product/1 nginx=https://127.0.0.1:18343/product/1
	local kind r flag
	for kind in full resumed; do
		W=E-$kind
		mkdir -p "$OUT/$W"
		flag=
		[ $kind = resumed ] && flag=-resume
		for ((r = 1; r <= ROUNDS; r++)); do
			hs_once awning 127.0.0.1:18243 "${PID[awning-tls]}" "$r" $flag
			hs_once nginx 127.0.0.1:18343 "${PID[nginx]}" "$r" $flag
		done
	done
}

# ---------------------------------------------------------------- D: black hole

phase_D() {
	stop_all
	down_started=
	log "D: the origin black-holed"
	start_origin
	start_go awning-d-default "$BIN/awning" serve --config "$(conf awning-d-default.yaml awning-d-default 18210 18292)"
	start_go awning-d-tuned "$BIN/awning" serve --config "$(conf awning-d-tuned.yaml awning-d-tuned 18211 18293)"
	start nginx nginx -c "$(conf nginx.conf nginx)" -g 'daemon off;'
	varnish_start varnish-d-default "$(conf varnish-d-default.vcl varnish-d-default)" -a 127.0.0.1:18410
	varnish_start varnish-d-tuned "$(conf varnish-d-tuned.vcl varnish-d-tuned)" -a 127.0.0.1:18411
	start haproxy haproxy -db -f "$(conf haproxy.cfg haproxy)"
	start_go caddy env XDG_CONFIG_HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" caddy run --adapter caddyfile --config "$(conf Caddyfile caddy)"
	local -A url=(
		[awning-default]=http://127.0.0.1:18210 [awning-tuned]=http://127.0.0.1:18211
		[nginx-default]=http://127.0.0.1:18310 [nginx-tuned]=http://127.0.0.1:18311
		[varnish-default]=http://127.0.0.1:18410 [varnish-tuned]=http://127.0.0.1:18411
		[haproxy-default]=http://127.0.0.1:18510 [haproxy-tuned]=http://127.0.0.1:18511
		[caddy-default]=http://127.0.0.1:18610 [caddy-tuned]=http://127.0.0.1:18611
	)
	local n
	for n in "${!url[@]}"; do wait_http "${url[$n]}/healthz"; done
	sleep 2 # probes see the origin up
	for n in "${!url[@]}"; do get "${url[$n]}/product/d?ttl=1" >/dev/null; done
	sleep 2 # the copies expire for nginx and Varnish (max-age=1)
	W=D-wait
	mkdir -p "$OUT/$W"
	curl -s -X POST "http://127.0.0.1:$CONTROL_PORT/mode?m=blackhole" >/dev/null
	log "D: one shopper a second for 40 s at each proxy, each waiting at most 65 s"
	local t
	for ((t = 0; t < 40; t++)); do
		for n in "${!url[@]}"; do
			{
				curl -s -o /dev/null --max-time 65 -w "$n $t %{time_total} %{http_code}\n" \
					-H 'Host: shop.example' -H 'Accept-Encoding: gzip' "${url[$n]}/product/d?ttl=1" || true
			} >>"$OUT/$W/waits.txt" &
		done
		sleep 1
	done
	wait_jobs() { local j; for j in $(jobs -p); do case " ${PID[*]} " in *" $j "*) ;; *) wait "$j" || true ;; esac; done; }
	wait_jobs
	W=D-circuit
	log "D: load once the circuit is open (issue 4)"
	mkdir -p "$OUT/$W"
	expect awning-default-copy "${url[awning-default]}/product/d?ttl=1" 'Awning-Served: stale'
	expect awning-tuned-copy "${url[awning-tuned]}/product/d?ttl=1" 'Cache-Status: Awning; hit'
	expect awning-tuned-outage "${url[awning-tuned]}/product/nocopy" 'Awning-Served: outage'
	expect nginx-tuned-copy "${url[nginx-tuned]}/product/d?ttl=1" 'X-Cache-Status: (STALE|UPDATING)'
	expect varnish-default-copy "${url[varnish-default]}/product/d?ttl=1" '^HTTP/1.1 200'
	OWNER=([awning-default-copy]=awning-d-default [awning-tuned-copy]=awning-d-tuned [awning-tuned-outage]=awning-d-tuned
		[nginx-tuned-copy]=nginx [varnish-default-copy]=varnish-d-default)
	rounds awning-default-copy="${url[awning-default]}/product/d?ttl=1" \
		awning-tuned-copy="${url[awning-tuned]}/product/d?ttl=1" \
		awning-tuned-outage="${url[awning-tuned]}/product/nocopy" \
		nginx-tuned-copy="${url[nginx-tuned]}/product/d?ttl=1" \
		varnish-default-copy="${url[varnish-default]}/product/d?ttl=1"
	curl -s -X POST "http://127.0.0.1:$CONTROL_PORT/mode?m=ok" >/dev/null
	stop_all
}

# ---------------------------------------------------------------- S: many sites

# S: one node with $SITES sites (two hosts each, one origin endpoint)
# serving copies of a page of random shops, beside a node with one site
# serving $SITES pages at random (as many copies: what many sites cost,
# not what many copies cost) and serving a single page (the best case), in
# the same rounds.
phase_S() {
	stop_all
	down_started=
	W=S
	log "S: $SITES sites against one"
	start_origin
	local many one
	many=$WORK/awning-s-many.yaml
	one=$WORK/awning-s-one.yaml
	mkdir -p "$WORK/awning-s-many" "$WORK/awning-s-one"
	"$BIN/scale" -write "$SITES" -origin "http://127.0.0.1:$ORIGIN_PORT" -listen 127.0.0.1:18220 -admin 127.0.0.1:18296 \
		-dir "$WORK/awning-s-many" -extra 'cache: {memory: 4GiB}' >"$many"
	"$BIN/scale" -write 1 -origin "http://127.0.0.1:$ORIGIN_PORT" -listen 127.0.0.1:18221 -admin 127.0.0.1:18297 \
		-dir "$WORK/awning-s-one" -extra 'cache: {memory: 4GiB}' >"$one"
	sed -i 's/level: info/level: warn/' "$many" "$one"
	start_go awning "$BIN/awning" serve --config "$many"
	start_go awning-1site "$BIN/awning" serve --config "$one"
	wait_http http://127.0.0.1:18220/healthz 120
	wait_http http://127.0.0.1:18221/healthz
	log "S: a copy of a page of each of $SITES sites, and of $SITES pages of one site"
	"$BIN/scale" -warm 127.0.0.1:18220 -n "$SITES"
	"$BIN/scale" -warm 127.0.0.1:18221 -n 1 -pages "$SITES"
	stop origin
	log "S: waiting for the one endpoint's probes to close every site"
	local i
	for ((i = 0; i < 300; i++)); do
		# A site asked once cannot trip by its own answers (3 in a row):
		# a hit says the shared endpoint is down.
		curl -s -o /dev/null -D - -H "Host: shop$(((SITES / 2 + i) % SITES)).example" http://127.0.0.1:18220/product/1 | grep -q 'Cache-Status: Awning; hit' &&
			curl -s -o /dev/null -D - -H 'Host: shop0.example' http://127.0.0.1:18221/product/1 | grep -q 'Cache-Status: Awning; hit' && break
		sleep 0.1
	done
	# The first stale answer of a copy builds its stale form once (the
	# banner put in, gzip at the best level: a few ms for this page); the
	# rounds measure serving, so every copy is served once first.
	log "S: each copy served stale once"
	"$BIN/scale" -warm 127.0.0.1:18220 -n "$SITES" -served stale
	"$BIN/scale" -warm 127.0.0.1:18221 -n 1 -pages "$SITES" -served stale
	mkdir -p "$OUT/S"
	curl -s -o /dev/null -D - -H "Host: shop$((SITES / 3)).example" -H 'Accept-Encoding: gzip' http://127.0.0.1:18220/product/1 | tr -d '\r' >"$OUT/S/awning.head"
	grep -q 'Awning-Served: stale' "$OUT/S/awning.head" || { echo "run.sh: S: no copy served:" >&2; cat "$OUT/S/awning.head" >&2; exit 1; }
	OWNER=([awning-1page]=awning-1site)
	WRK_SCRIPT=$ROOT/bench/conf/sites.lua rounds awning="http://127.0.0.1:18220/$SITES/1" \
		awning-1site="http://127.0.0.1:18221/1/$SITES" awning-1page=http://127.0.0.1:18221/1/1
	stop_all
}

for w in "${WORKLOADS[@]}"; do
	case $w in
	A | B | C | D | E | H | S) "phase_$w" ;;
	*) echo "run.sh: unknown workload $w (A B C D E H S)" >&2; exit 2 ;;
	esac
done
stop_all
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
"$BIN/report" "$OUT" | tee "$OUT/report.md"
log "raw results in $OUT"
