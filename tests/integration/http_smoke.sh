#!/usr/bin/env bash
# Smoke test of `nexum serve` with curl: starts the server (memory bus, a
# token, dev mode) on a free port, checks every endpoint's status code and
# a few bodies, then SIGTERM must exit 0. Usage: http_smoke.sh PATH/TO/nexum
set -u
nexum="${1:?usage: http_smoke.sh PATH/TO/nexum}"
if ! command -v curl >/dev/null 2>&1; then
  echo "FAIL: curl is missing: apt-get install curl" >&2
  exit 1
fi
work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

echo "smoke-token" > "$work/token"
"$nexum" serve --data "$work/data" --http 127.0.0.1:0 --bus memory --token-file "$work/token" --dev \
  > "$work/serve.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 300); do
  port="$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/serve.log")"
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: nexum serve did not start:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
base="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer smoke-token")

# expect CODE METHOD PATH [curl args...]
expect() {
  local want="$1" method="$2" path="$3"
  shift 3
  local got
  got="$(curl -s -o "$work/body" -w '%{http_code}' -X "$method" "$@" "$base$path")"
  if [ "$got" != "$want" ]; then
    fail "$method $path: want $want, got $got: $(head -c 300 "$work/body")"
  fi
}

expect 200 GET /health
expect 200 GET /ready
expect 404 GET /no/such/path
expect 405 POST /health
expect 405 GET /kafka/config

# publish-test: the token is configured, so it is required even in dev mode.
expect 401 POST "/kafka/publish-test?topic=nexum.smoke&event_type=ping"
expect 403 POST "/kafka/publish-test?topic=nexum.smoke&event_type=ping" -H "Authorization: Bearer wrong"
expect 200 POST "/kafka/publish-test?topic=nexum.smoke&event_type=ping&entity_type=probe&entity_id=p1" "${auth[@]}" \
  -H 'Content-Type: application/json' -d '{"hello":"world"}'
grep -q '"message":"Test event published successfully"' "$work/body" || fail "publish-test body: $(cat "$work/body")"
expect 200 POST /kafka/publish-test "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"topic":"nexum.smoke","event_type":"pong","entity_type":"probe","entity_id":"p2","data":{"n":2}}'
expect 400 POST /kafka/publish-test "${auth[@]}" -d '{"topic":"nexum.smoke","event_type":'
expect 400 POST "/kafka/publish-test?event_type=x" "${auth[@]}"

expect 200 GET "/kafka/events?topic=nexum.smoke&limit=10"
grep -q '"showing":2' "$work/body" || fail "/kafka/events: $(cat "$work/body")"
for bad in 0 -1 1001 abc; do expect 400 GET "/kafka/events?limit=$bad"; done
expect 200 GET /kafka/status
grep -q '"type":"InMemoryEventBus"' "$work/body" || fail "/kafka/status: $(cat "$work/body")"

expect 400 POST "/kafka/config?bus_type=nope" "${auth[@]}"
expect 400 POST "/kafka/config?bus_type=kafka" "${auth[@]}"
expect 401 POST "/kafka/config?bus_type=log"
expect 200 POST "/kafka/config?bus_type=log" "${auth[@]}"
expect 200 POST /kafka/config "${auth[@]}" -d '{"bus_type":"memory"}'

expect 200 POST /commands/nexum.commands.customers "${auth[@]}" \
  -d '{"action":"create","customer_id":"s1","first_name":"Ada","last_name":"Lovelace","email":"s1@example.com"}'
grep -q '"outcome":"accepted"' "$work/body" || fail "command: $(cat "$work/body")"
expect 400 POST /commands/nexum.commands.customers "${auth[@]}" -d '{"customer_id":"s2"}'
expect 404 POST /commands/nexum.commands.nope "${auth[@]}" -d '{}'

expect 200 GET /streams/customer-s1
expect 404 GET /streams/customer-nobody
expect 400 GET /streams/nodash
expect 200 GET /projections
expect 404 GET /projections/customer_directory/nobody
expect 404 GET /sagas/loan_application/nobody

# Limits: a 2 MiB body is over the default 1 MiB (413).
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' > "$work/big"
expect 413 POST "/kafka/publish-test?topic=t&event_type=x" "${auth[@]}" --data-binary @"$work/big"
expect 431 GET /health -H "X-Filler: $(head -c 20000 /dev/zero | tr '\0' 'b')"

expect 200 GET /metrics
grep -q '^nexum_commands_total{outcome="accepted"} 1$' "$work/body" || fail "/metrics: accepted count"
grep -q '^# TYPE nexum_append_duration_seconds histogram$' "$work/body" || fail "/metrics: histogram"

kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=""
[ "$code" -eq 0 ] || fail "nexum serve exited $code after SIGTERM"
grep -q "nexum serve: stopped" "$work/serve.log" || fail "no clean shutdown line in the log"

if [ "$failures" -ne 0 ]; then
  echo "--- serve log ---" >&2
  tail -50 "$work/serve.log" >&2
  echo "http_smoke: $failures failure(s)" >&2
  exit 1
fi
echo "http_smoke: ok"
