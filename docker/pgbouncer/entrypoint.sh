#!/bin/sh
# Writes PgBouncer's configuration from the environment, then runs it in the foreground (PID 1: SIGTERM stops it).
#   DB_HOST, DB_PORT          PostgreSQL (default postgres:5432)
#   DB_USER, DB_PASSWORD      the one login the apps use; PgBouncer checks it (SCRAM) and logs in with it
#   POOL_MODE                 transaction (default): a server connection per transaction, not per client
#   DEFAULT_POOL_SIZE         server connections per database and user (default 20)
#   MAX_CLIENT_CONN           client connections accepted (default 200)
#   LISTEN_PORT, PGBOUNCER_DIR  where it listens (6432) and keeps its configuration (/run/pgbouncer)
set -eu
conf="${PGBOUNCER_DIR:-/run/pgbouncer}"
: "${DB_USER:?set DB_USER}" "${DB_PASSWORD:?set DB_PASSWORD}"
umask 077
cat >"$conf/pgbouncer.ini" <<INI
[databases]
* = host=${DB_HOST:-postgres} port=${DB_PORT:-5432}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = ${LISTEN_PORT:-6432}
unix_socket_dir = $conf
auth_type = scram-sha-256
auth_file = $conf/userlist.txt
pool_mode = ${POOL_MODE:-transaction}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
max_client_conn = ${MAX_CLIENT_CONN:-200}
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
INI
printf '"%s" "%s"\n' "$DB_USER" "$DB_PASSWORD" >"$conf/userlist.txt"
exec pgbouncer "$conf/pgbouncer.ini"
