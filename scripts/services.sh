#!/usr/bin/env bash
# The real services ChemChat's tests talk to.
#
#   scripts/services.sh up    start what is missing, wait until each answers, print CHEMCHAT_TEST_* lines
#   scripts/services.sh env   print the CHEMCHAT_TEST_* lines only
#   scripts/services.sh down  stop what this script started (never the machine's own PostgreSQL/Redis)
#
# Progress goes to stderr; stdout carries only `NAME=value` lines so callers can `eval` them.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres
REDIS_HOST=127.0.0.1 REDIS_PORT=6379
STATE_DIR="${CHEMCHAT_SERVICES_DIR:-$HOME/.cache/chemchat-services}"

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

wait_until() { # wait_until <seconds> <command…>
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER"; }
redis_answers() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

up_postgres() {
  if pg_answers; then log "postgresql answers on $PG_HOST:$PG_PORT"; return; fi
  command -v pg_ctlcluster >/dev/null || die "postgresql is not installed (need pg_ctlcluster); install it or point CHEMCHAT_TEST_DATABASE_URL at a server"
  log "starting postgresql"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2
  wait_until 30 pg_answers || die "postgresql did not answer on $PG_HOST:$PG_PORT within 30 s"
}

up_redis() {
  if redis_answers; then log "redis answers on $REDIS_HOST:$REDIS_PORT"; return; fi
  command -v redis-server >/dev/null || die "redis-server is not installed; install it or point CHEMCHAT_TEST_REDIS_URL at a server"
  log "starting redis"
  mkdir -p "$STATE_DIR/redis"
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$STATE_DIR/redis" --logfile "$STATE_DIR/redis/redis.log" >&2
  wait_until 15 redis_answers || die "redis did not answer on $REDIS_HOST:$REDIS_PORT within 15 s"
}

print_env() {
  echo "CHEMCHAT_TEST_DATABASE_URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres"
  echo "CHEMCHAT_TEST_REDIS_URL=redis://$REDIS_HOST:$REDIS_PORT"
}

down() {
  # PostgreSQL and Redis belong to the machine; this script only started them if they were stopped,
  # and leaving them up is what every later run wants. Services added later stop here.
  log "nothing to stop"
}

case "${1:-up}" in
  up) up_postgres; up_redis; print_env ;;
  env) print_env ;;
  down) down ;;
  *) die "usage: $0 up|env|down" ;;
esac
