#!/usr/bin/env bash
# Start the local services the tests use, if they are not running. Idempotent; safe to run often.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- 3<&-; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "warning: nothing listens on 127.0.0.1:$1 after starting $2" >&2
  return 1
}

if ! port_open 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_port 5432 PostgreSQL
fi
# Change data capture (mlake.streams.cdc) reads PostgreSQL's logical decoding: wal_level must be logical,
# which takes effect on a restart (done once; the setting is kept in postgresql.auto.conf).
if port_open 5432 && [ "$(psql -h 127.0.0.1 -U postgres -tAc 'show wal_level' 2>/dev/null)" != "logical" ]; then
  echo "setting PostgreSQL wal_level=logical (restarts it once)"
  psql -h 127.0.0.1 -U postgres -qc "ALTER SYSTEM SET wal_level = logical" \
    && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main restart || true
  wait_port 5432 PostgreSQL
fi
if ! port_open 6379; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_port 6379 Redis
fi
if ! port_open 4222; then
  echo "starting NATS"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
  wait_port 4222 NATS
fi
if ! port_open 3306; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_port 3306 MariaDB
fi
exit 0
