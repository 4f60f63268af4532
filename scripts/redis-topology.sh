#!/bin/sh
# Starts a local Redis Sentinel set or Redis Cluster on 127.0.0.1 to try
# Awning's shared state on (docs/operations.md, "Redis: one server,
# Sentinel or Cluster"), and stops it again. Debian's redis-server,
# redis-sentinel and redis-cli are enough (apt-get install redis-server
# redis-sentinel). Persistence is off: a killed server comes back empty,
# which is one of the things to try.
#
#   scripts/redis-topology.sh sentinel   master :6390, replica :6391,
#                                        sentinels :26390-26392
#   scripts/redis-topology.sh cluster    masters and replicas :7000-7005,
#                                        cluster bus ports :17100-17105
#   scripts/redis-topology.sh stop       stops what either started
#
# Each prints the state.redis URL to put in awning.yaml. Every process
# writes its PID, log and files under $AWNING_REDIS_DIR (default
# /tmp/awning-redis); stop kills exactly those PIDs.
set -eu

dir=${AWNING_REDIS_DIR:-/tmp/awning-redis}

need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || {
			echo "redis-topology: $tool is missing; apt-get install redis-server redis-sentinel" >&2
			exit 1
		}
	done
}

# server NAME PORT ARGS... starts redis-server in $dir/NAME.
server() {
	name=$1 port=$2
	shift 2
	mkdir -p "$dir/$name"
	redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--dir "$dir/$name" --daemonize yes --pidfile "$dir/$name/pid" \
		--logfile "$dir/$name/log" --protected-mode no "$@"
}

# wait_ping PORT waits until the server on PORT answers.
wait_ping() {
	i=0
	until redis-cli -p "$1" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "redis-topology: nothing answers on :$1" >&2; exit 1; }
		sleep 0.1
	done
}

sentinel() {
	need redis-server redis-sentinel redis-cli
	server sentinel-master 6390 --repl-diskless-sync yes --repl-diskless-sync-delay 0
	wait_ping 6390
	server sentinel-replica 6391 --replicaof 127.0.0.1 6390
	wait_ping 6391
	for port in 26390 26391 26392; do
		mkdir -p "$dir/sentinel-$port"
		cat >"$dir/sentinel-$port/sentinel.conf" <<-EOF
			port $port
			bind 127.0.0.1
			protected-mode no
			daemonize yes
			pidfile $dir/sentinel-$port/pid
			logfile $dir/sentinel-$port/log
			dir $dir/sentinel-$port
			sentinel monitor awning 127.0.0.1 6390 2
			sentinel down-after-milliseconds awning 2000
			sentinel failover-timeout awning 10000
			sentinel parallel-syncs awning 1
		EOF
		redis-sentinel "$dir/sentinel-$port/sentinel.conf"
		wait_ping $port
	done
	cat <<-EOF
		Sentinel set running: master 127.0.0.1:6390, replica 127.0.0.1:6391,
		sentinels 127.0.0.1:26390-26392 (master name "awning"). In awning.yaml:

		  state: {redis: "redis+sentinel://127.0.0.1:26390?master_name=awning&addr=127.0.0.1:26391&addr=127.0.0.1:26392"}

		Try: redis-cli -p 26390 sentinel failover awning     (a graceful failover)
		     kill -9 \$(cat $dir/sentinel-master/pid)          (the master dies)
	EOF
}

cluster() {
	need redis-server redis-cli
	nodes=""
	for i in 0 1 2 3 4 5; do
		port=$((7000 + i))
		server "cluster-$port" $port --cluster-enabled yes --cluster-config-file nodes.conf \
			--cluster-port $((17100 + i)) --cluster-node-timeout 2000 \
			--cluster-require-full-coverage no --cluster-allow-reads-when-down yes \
			--repl-diskless-sync yes --repl-diskless-sync-delay 0
		wait_ping $port
		nodes="$nodes 127.0.0.1:$port"
	done
	# shellcheck disable=SC2086 # one argument per node
	redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$dir/cluster-create.log"
	cat <<-EOF
		Cluster running: 127.0.0.1:7000-7005, three masters with a replica each,
		cluster-require-full-coverage no and cluster-allow-reads-when-down yes.
		In awning.yaml:

		  state: {redis: "redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"}

		Try: redis-cli -p 7000 cluster keyslot '{awning-state}:scopes'   (the state's slot)
		     redis-cli -p 7000 cluster nodes                             (who serves it)
		     redis-cli -p <its replica> cluster failover                 (a graceful failover)
		     kill -9 \$(cat $dir/cluster-<its port>/pid)                 (its master dies)
	EOF
}

stop() {
	found=0
	for pidfile in "$dir"/*/pid; do
		[ -f "$pidfile" ] || continue
		found=1
		kill "$(cat "$pidfile")" 2>/dev/null || true
		rm -f "$pidfile"
	done
	[ $found = 1 ] && echo "stopped (logs stay in $dir)" || echo "nothing to stop in $dir"
}

running() {
	for pidfile in "$dir"/*/pid; do
		if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			echo "redis-topology: already running (see $dir); run '$0 stop' first" >&2
			exit 1
		fi
	done
	rm -rf "$dir"
	mkdir -p "$dir"
}

case ${1:-} in
sentinel) running && sentinel ;;
cluster) running && cluster ;;
stop) stop ;;
*)
	echo "usage: $0 sentinel|cluster|stop" >&2
	exit 2
	;;
esac
