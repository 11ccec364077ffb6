#!/usr/bin/env bash
# Fuzzes the running REST API against its own OpenAPI document with Schemathesis (PyPI) and fails
# on any 5xx. One command, with `npm start` running:
#   bash scripts/fuzz-api.sh [max-examples-per-operation (default 100)]
# Settings: API (default http://127.0.0.1:10022); DIALER_KEY/DIALER_SECRET (default: a new domain
# credential "fuzz" is created with scripts/credentials.ts, which uses MONGODB_URI).
# Schemathesis is installed (pinned) into .tools/fuzz-venv on first use. Path ids are pinned to a
# dialer and a member created for the run, so the generated requests reach the handlers instead of
# stopping at 404.
set -euo pipefail
cd "$(dirname "$0")/.."
API=${API:-http://127.0.0.1:10022}
EXAMPLES=${1:-100}
VENV=.tools/fuzz-venv
if [ ! -x "$VENV/bin/st" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis==3.39.16' 'hypothesis<6.120'
fi
if [ -z "${DIALER_KEY:-}" ]; then
  cred=$(npx --no-install tsx scripts/credentials.ts create --domain fuzz --name fuzz --json)
  DIALER_KEY=$(node -e 'console.log(JSON.parse(process.argv[1]).key)' "$cred")
  DIALER_SECRET=$(node -e 'console.log(JSON.parse(process.argv[1]).secret)' "$cred")
fi
H=(-H "X-Key: $DIALER_KEY" -H "X-Access-Token: $DIALER_SECRET" -H 'Content-Type: application/json')
dialer=$(curl -sf "${H[@]}" -X POST "$API/api/v2/dialer" -d '{"name":"fuzz","type":"Voice Broadcasting","resources":[{"dialedNumber":".*","destinations":[{"dialString":"sofia/gateway/fuzz/$1"}]}]}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).data.insertedIds[0]))')
member=$(curl -sf "${H[@]}" -X POST "$API/api/v2/dialer/$dialer/members" -d '{"name":"fuzz","communications":[{"number":"380501112233"}]}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).data.insertedIds[0]))')
spec=$(mktemp --suffix=.json)
trap 'rm -f "$spec"' EXIT
curl -sf "$API/api/v2/openapi.json" | node -e '
  let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
    const doc = JSON.parse(s); const [dialer, member] = process.argv.slice(1);
    for (const [path, item] of Object.entries(doc.paths)) for (const op of Object.values(item)) for (const p of op.parameters || []) {
      if (p.in !== "path") continue;
      if (p.name === "dialer" || (p.name === "id" && path.startsWith("/api/v2/dialer/{id}"))) p.schema = { type: "string", enum: [dialer] };
      else if (p.name === "id" && path.includes("/members/")) p.schema = { type: "string", enum: [member] };
    }
    process.stdout.write(JSON.stringify(doc));
  });' "$dialer" "$member" > "$spec"
echo "fuzzing $API (dialer $dialer, member $member), $EXAMPLES examples per operation"
PYTHONPATH=scripts/fuzz SCHEMATHESIS_HOOKS=hooks "$VENV/bin/st" run "$spec" --experimental=openapi-3.1 --base-url "$API" \
  -H "X-Key: $DIALER_KEY" -H "X-Access-Token: $DIALER_SECRET" \
  --checks not_a_server_error --hypothesis-max-examples "$EXAMPLES" --hypothesis-suppress-health-check=all \
  --hypothesis-derandomize --exclude-method DELETE --workers 4
# DELETEs are excluded from generation so the pinned dialer and member survive the run; the
# DELETE routes are covered by test/api*.test.ts.
