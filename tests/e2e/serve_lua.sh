#!/bin/sh
# recpipe serve with Lua: the example shop's chain (examples/serve.lua:
# answers equal chain:recommend in a plain script, reasons cf / fold_in /
# segment / popularity, request-time attributes, warm lists), request hooks
# and filters on the C path, a rule that raises (500, the server goes on),
# and the serve script contract's errors at start-up and at a reload.
. "$(dirname "$0")/lib/serve.sh"
make_model

# ---- the shop chain ------------------------------------------------------------------
start examples/serve.yaml "params.model=$tmp/model.rpa" "log_dir=$tmp/logs" workers=3 ||
  { fail "serve examples/serve.yaml: $(cat "$tmp/server.log")"; finish; }
grep -q "7 answers warmed into the cache" "$tmp/server.log" || fail "warm: $(cat "$tmp/server.log")"
cat >"$tmp/ref.lua" <<'LUA'
-- the reference: the same script run by recpipe run, asked directly
local rp = require "recpipe"
local model = ...
local chain, set = assert(loadfile("examples/serve.lua"))({ params = { model = model } })
local function ask(name, user, opts)
  opts.k, opts.exclude = opts.k or 10, set.seen
  local items, scores, reason = chain:recommend(user, opts)
  items, scores = set.filter(items, scores)
  print(name, reason, table.concat(items, ","))
end
ask("known", "u42", { k = 5 })
ask("history", "visitor-1", { k = 5, history = { "i1", "i2" } })
ask("segment", "visitor-2", { k = 5, attributes = { age_band = "25-34" } })
ask("anyone", "visitor-3", { k = 5 })
LUA
"$BIN" run --quiet "$tmp/ref.lua" "$tmp/model.rpa" >"$tmp/ref.out" || fail "reference script"
ref() { awk -v n="$1" '$1 == n { print $2, $3 }' "$tmp/ref.out"; }
got() { echo "$(field reason) $(items)"; }
expect 200 GET "/v1/recommend?user=u42&k=5"
[ "$(got)" = "$(ref known)" ] || fail "known user: $(got), Lua: $(ref known)"
expect 200 POST /v1/recommend '{"user":"visitor-1","history":["i1","i2"],"k":5}'
[ "$(got)" = "$(ref history)" ] || fail "history: $(got), Lua: $(ref history)"
expect 200 POST /v1/recommend '{"user":"visitor-2","attributes":{"age_band":"25-34"},"k":5,"context":{"device":"mobile"}}'
[ "$(got)" = "$(ref segment)" ] || fail "attributes: $(got), Lua: $(ref segment)"
expect 200 GET "/v1/recommend?user=visitor-3&k=5"
[ "$(got)" = "$(ref anyone)" ] || fail "anyone: $(got), Lua: $(ref anyone)"
expect 200 GET "/v1/recommend?attributes.age_band=65%2B"
has '"cached":true'
has '"reason":"segment"'
expect 200 GET "/v1/recommend"
has '"cached":true'
has '"reason":"popularity"'
expect 200 GET "/v1/similar?item=i1229&k=3"
expect 200 GET /metrics
for r in cf fold_in segment popularity; do has "recpipe_answers_total{reason=\"$r\"}"; done
stop

# ---- hooks on the C path: on_request, filter, version, reason ----------------------------------
cat >"$tmp/hooks.lua" <<'LUA'
local rp = require "recpipe"
local p = (...).params
local model = rp.als.load(p.model)
return model, {
  seen = rp.sparse.load(p.seen),
  version = "v-test", reason = "als",
  on_request = function(req)
    if req.user == "blocked" then return false, "this user is blocked" end
    if req.context.page == "home" then req.k = 3 end
    if req.context.page == "new" then return { user = "u42", k = 2, exclude_seen = false } end
  end,
  filter = function(items, scores, req)
    table.remove(items, 1)
    table.remove(scores, 1)
    if req.context.boom then error("filter exploded") end
    return items, scores
  end,
}
LUA
start "$tmp/hooks.lua" "params.model=$tmp/model.rpa" "params.seen=$tmp/train.rpm" "log_dir=''" ||
  { fail "hooks.lua: $(cat "$tmp/server.log")"; finish; }
expect 200 GET "/v1/recommend?user=u42&k=5"
has '"model_version":"v-test"'
has '"reason":"als"'
[ "$(items)" = "$(expect_of u42_5_seen | cut -d, -f2-5)" ] || fail "filter: $(items)"
expect 200 GET "/v1/recommend?user=u42&k=5&context.page=home"
[ "$(items)" = "$(expect_of u42_5_seen | cut -d, -f2-3)" ] || fail "on_request k: $(items)"
expect 200 GET "/v1/recommend?user=u7&context.page=new"
[ "$(items)" = "$(expect_of u42_5_all | cut -d, -f2)" ] || fail "on_request table: $(items)"
expect 400 GET "/v1/recommend?user=blocked"
has '"error":"this user is blocked"'
has '"field":"request"'
expect 500 GET "/v1/recommend?user=u42&context.boom=1"
has "filter failed"
has "filter exploded"
expect 200 GET "/v1/recommend?user=u42&k=5"
stop

# ---- lifetimes: a hook that frees what the worker uses ------------------------------------------
# The worker keeps the recommender, the seen matrix and the /v1/similar model
# across requests; a hook calling free() on them (or the GC) must not leave it
# a dangling pointer: the objects live until the generation is retired (Lua
# code that uses a freed object gets an error, as anywhere).  The model is
# trained here and the matrix copied, so nothing else (the object cache)
# keeps them alive; a SAN=1 build would report any use after free.
cat >"$tmp/frees.lua" <<'LUA'
local rp = require "recpipe"
local p = (...).params
local seen = rp.sparse.load(p.seen):copy()
local model = rp.als.train(seen, { factors = 8, iterations = 2, seed = 3 })
local fold = rp.hybrid.fold_in(model)
local chain = rp.hybrid.chain { { when = function(ctx) return ctx.known end, use = model },
                                { use = fold }, train = seen }
if p.print then
  print("u42", table.concat((model:recommend("u42", { k = 5, exclude = seen })), ","))
  print("sim", table.concat((model:similar_items("i1229", { k = 3, include_self = false })), ","))
  return
end
return p.chain and chain or model, {
  seen = seen, similar = model, version = "frees",
  on_request = function(req)
    if req.context.free then
      model:free(); fold:free()
      if not p.chain then seen:free() end -- a chain's rules read it in Lua (ctx.known)
      collectgarbage(); collectgarbage()
    end
  end,
}
LUA
cat >"$tmp/frees_ref.lua" <<'LUA'
assert(loadfile(arg[1]))({ params = { seen = arg[2], print = true } })
LUA
"$BIN" run --quiet "$tmp/frees_ref.lua" "$tmp/frees.lua" "$tmp/train.rpm" >"$tmp/frees.out" ||
  fail "the lifetime script's reference run"
frees_ref() { sed -n "s/^$1\t//p" "$tmp/frees.out"; }
for mode in model chain; do
  start "$tmp/frees.lua" "params.seen=$tmp/train.rpm" "params.chain=$([ $mode = chain ] && echo true || echo false)" \
    "log_dir=''" workers=1 cache_capacity=0 || { fail "frees.lua ($mode): $(cat "$tmp/server.log")"; finish; }
  expect 200 GET "/v1/recommend?user=u42&k=5"
  [ "$(items)" = "$(frees_ref u42)" ] || fail "$mode: before free: $(items), Lua: $(frees_ref u42)"
  expect 200 GET "/v1/recommend?user=u42&k=5&context.free=1"
  [ "$(items)" = "$(frees_ref u42)" ] || fail "$mode: the request that frees: $(items)"
  for n in 1 2 3; do
    expect 200 GET "/v1/recommend?user=u42&k=5"
    [ "$(items)" = "$(frees_ref u42)" ] || fail "$mode: after free ($n): $(items)"
  done
  expect 200 GET "/v1/similar?item=i1229&k=3"
  [ "$(items)" = "$(frees_ref sim)" ] || fail "$mode: similar after free: $(items), Lua: $(frees_ref sim)"
  expect 200 POST /v1/admin/reload ''
  expect 200 GET "/v1/recommend?user=u42&k=5&context.free=1"
  [ "$(items)" = "$(frees_ref u42)" ] || fail "$mode: after a reload: $(items)"
  stop
  [ "$rc" = 0 ] || fail "$mode: exit status $rc after frees: $(tail -5 "$tmp/server.log")"
done

# ---- a rule that raises, a Lua object that answers badly ------------------------------------
cat >"$tmp/boom.lua" <<'LUA'
local rp = require "recpipe"
local model = rp.als.load((...).params.model)
local odd = { recommend = function(self, user)
  if user == "tbl" then return { {} } end
  return { "x1", "x2" }, { 2, 1 }, "odd" end }
return rp.hybrid.chain {
  { when = function(ctx) if ctx.user == "boom" then error("rule exploded") end return ctx.user == "odd" or ctx.user == "tbl" end, use = odd },
  { use = model },
}
LUA
start "$tmp/boom.lua" "params.model=$tmp/model.rpa" "log_dir=''" workers=1 || { fail "boom.lua"; finish; }
expect 500 GET "/v1/recommend?user=boom"
has "rule exploded"
expect 200 GET "/v1/recommend?user=odd"
has '"items":["x1","x2"]'
has '"reason":"rule1"'
expect 500 GET "/v1/recommend?user=tbl"
has "bad item id"
expect 200 GET "/v1/recommend?user=u42&k=5&exclude_seen=false"
[ "$(items)" = "$(expect_of u42_5_all)" ] || fail "chain after errors: $(items)"
expect 404 GET "/v1/similar?item=i1"
stop

# ---- the serve script contract: errors at start-up -------------------------------------------
printf 'return 42\n' >"$tmp/num.lua"
fails_with "must return a recommender (an object with recommend)" "$tmp/num.lua"
printf 'local x = = 1\n' >"$tmp/syntax.lua"
fails_with "syntax.lua:1: unexpected symbol near '='" "$tmp/syntax.lua"
printf 'error("no model here")\n' >"$tmp/err.lua"
fails_with "err.lua:1: no model here" "$tmp/err.lua"
printf 'local rp = require "recpipe"\nreturn rp.als.load("%s"), { prot = 1 }\n' "$tmp/model.rpa" >"$tmp/typo.lua"
fails_with "unknown setting 'prot' (known: host, port," "$tmp/typo.lua"
fails_with "setting 'port' must be an integer in 0..65535, got 'x'" "$tmp/hooks.lua" port=x
fails_with "unknown setting 'workerz'" "$tmp/hooks.lua" workerz=2
fails_with "setting 'k' (2000) must not exceed max_k (1000)" "$tmp/hooks.lua" "params.model=$tmp/model.rpa" "params.seen=$tmp/train.rpm" k=2000
printf 'port: 0\n' >"$tmp/empty.yaml"
fails_with "needs 'script: FILE.lua' (a serve script), 'model: FILE' (an ALS model file) or 'registry' and 'live'" "$tmp/empty.yaml"
printf 'model: %s\nscript: x.lua\nfoo: 1\n' "$tmp/model.rpa" >"$tmp/foo.yaml"
fails_with "unknown setting 'foo'" "$tmp/foo.yaml"
printf 'model: %s/nosuch.rpa\n' "$tmp" >"$tmp/nomodel.yaml"
fails_with "nosuch.rpa" "$tmp/nomodel.yaml"
fails_with "cannot open '$tmp/missing.lua'" "$tmp/missing.lua"
fails_with "bad argument 'port'" "$tmp/hooks.lua" port
printf 'model: %s\nseen: 3\n' "$tmp/model.rpa" >"$tmp/seen.yaml"
fails_with "setting 'seen' must be a recpipe.Matrix" "$tmp/seen.yaml"
"$BIN" serve --help >"$tmp/out" 2>&1 || fail "serve --help"
grep -q "fsync_ms" "$tmp/out" || fail "serve --help lists no settings"
finish
