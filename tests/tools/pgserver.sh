#!/bin/sh
# pgserver.sh — a private PostgreSQL server for the test suite.
#
#   pgserver.sh start DIR [PORT]
#                           initdb into DIR/data, listen on a unix socket in
#                           DIR only (no TCP; with PORT, on 127.0.0.1:PORT
#                           too), create database "tellonce"; prints the
#                           connection string on stdout
#   pgserver.sh restart DIR stop it (dropping its connections) and start it;
#                           starts it when it was halted
#   pgserver.sh halt DIR    stop it and keep DIR (PostgreSQL "down")
#   pgserver.sh stop DIR    stop it and remove DIR
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# "postgres" user the Debian package creates (make deps installs it).
set -eu
cmd=${1:?usage: pgserver.sh start|restart|halt|stop DIR}
dir=${2:?usage: pgserver.sh start|restart|halt|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "pgserver.sh: PostgreSQL is not installed (make deps)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A TCP port, given at start, is kept in DIR/port for the restarts.
listen() {
	if [ -f "$dir/port" ]; then
		echo "-k $dir -p $(cat "$dir/port") -c listen_addresses=127.0.0.1 -F"
	else
		echo "-k $dir -c listen_addresses= -F"
	fi
}

case $cmd in
start)
	mkdir -p "$dir"
	[ -z "${3:-}" ] || echo "$3" >"$dir/port"
	[ "$(id -u)" -ne 0 ] || chown postgres "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U tellonce -A trust -E UTF8 \
	    --locale=C --no-sync >"$dir/initdb.log" 2>&1
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
	    -o "$(listen)" start >/dev/null
	if [ -f "$dir/port" ]; then
		as_owner "$bin/createdb" -h 127.0.0.1 -p "$3" -U tellonce tellonce
		echo "host=127.0.0.1 port=$3 user=tellonce dbname=tellonce"
	else
		as_owner "$bin/createdb" -h "$dir" -U tellonce tellonce
		echo "host=$dir user=tellonce dbname=tellonce"
	fi
	;;
restart)
	how=start
	as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 && how=restart
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
	    -m fast -o "$(listen)" $how >/dev/null
	;;
halt)
	as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
stop)
	if [ -d "$dir/data" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop \
		    >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: pgserver.sh start|restart|halt|stop DIR" >&2
	exit 2
	;;
esac
