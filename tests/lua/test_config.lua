-- rp.config: YAML typed as the YAML 1.2 core schema, errors with
-- file:line:column, key=value overrides, merge and a pipeline's args.
local rp = require "recpipe"
local T = require "recpipe.test"
local C = rp.config

T.case("scalars are typed as YAML types them", function()
  local v = C.parse [[
int: 42
neg: -7
hex: 0x1f
oct: 0o17
float: 2.5
exp: 1e3
inf: .inf
ninf: -.inf
yes: true
no: false
null1: ~
null2: null
str: hello world
quoted: "10"
single: '3.5'
tagged: !!str 12
date: 2024-01-01
version: 1.2.3
empty_str: ""
]]
  T.eq(v.int, 42)
  T.eq(math.type(v.int), "integer")
  T.eq(v.neg, -7)
  T.eq(v.hex, 31)
  T.eq(v.oct, 15)
  T.eq(v.float, 2.5)
  T.eq(math.type(v.exp), "float")
  T.eq(v.exp, 1000)
  T.eq(v.inf, math.huge)
  T.eq(v.ninf, -math.huge)
  T.eq(v.yes, true)
  T.eq(v.no, false)
  T.eq(v.null1, nil)
  T.eq(v.null2, nil)
  T.eq(v.str, "hello world")
  T.eq(v.quoted, "10")
  T.eq(v.single, "3.5")
  T.eq(v.tagged, "12")
  T.eq(v.date, "2024-01-01")
  T.eq(v.version, "1.2.3")
  T.eq(v.empty_str, "")
  local nan = C.parse("x: .nan").x
  T.ok(nan ~= nan, "nan")
end)

T.case("lists, maps, anchors", function()
  local v = C.parse [[
weights: {purchase: 5, addtocart: 3, view: 1}
context: [device, country]
steps:
  - name: read
    path: a.csv
  - name: split
    fraction: 0.2
base: &b {k: 10, metrics: [ndcg, map]}
copy: *b
holes: [1, ~, 3]
]]
  T.same(v.weights, { purchase = 5, addtocart = 3, view = 1 })
  T.same(v.context, { "device", "country" })
  T.eq(#v.steps, 2)
  T.eq(v.steps[2].fraction, 0.2)
  T.same(v.copy, { k = 10, metrics = { "ndcg", "map" } })
  T.eq(v.copy, v.base) -- an alias shares the table
  T.same(v.holes, { 1, 3 }) -- null list elements are skipped
  T.eq(C.parse(""), nil)
  T.eq(C.parse("5"), 5)
end)

T.case("bad YAML names line and column", function()
  T.errors(function() C.parse("a: [1, 2\nb: 3\n", "cfg.yaml") end, "cfg.yaml:")
  local e = T.errors(function() C.parse("a: 1\n  b: 2\n", "x.yaml") end, "x.yaml:2:")
  T.ok(e:find("x.yaml:2:%d+: mapping values are not allowed"), e)
  e = T.errors(function() C.parse("k: [1, 2\n", "f.yaml") end, "started at 1:4")
  T.ok(e:find("^f.yaml:%d+:%d+: "), e)
  T.errors(function() C.parse("a: *nope\n", "al.yaml") end, "al.yaml:1:4: ")
  T.errors(function() C.parse("--- 1\n--- 2\n", "two.yaml") end, "two.yaml:2: more than one")
  T.errors(function() C.parse("[1]: 2\n", "k.yaml") end, "k.yaml:1:1: mapping key must be a scalar")
end)

-- issue 8: 30,000 levels (60 KB) overflowed the C stack of the parser
T.case("nesting deeper than 256 levels is an error naming where", function()
  local n = 30000
  T.errors(function() C.parse(("["):rep(n) .. ("]"):rep(n), "deep.yaml") end,
    "deep.yaml:1:257: YAML nested deeper than 256 levels")
  T.errors(function() C.parse(("{a: "):rep(n) .. "1" .. ("}"):rep(n), "deep.yaml") end,
    "deep.yaml:1:1025: YAML nested deeper than 256 levels")
  T.errors(function() C.parse(("- "):rep(n) .. "x\n", "deep.yaml") end,
    "deep.yaml:1:513: YAML nested deeper than 256 levels")
  -- block mappings, one more space of indentation a level
  local lines = {}
  for k = 0, 299 do lines[#lines + 1] = (" "):rep(k) .. "a:" end
  lines[#lines] = lines[#lines] .. " 1"
  local dir = T.tmpdir()
  local p = T.write(dir .. "/deep.yaml", table.concat(lines, "\n") .. "\n")
  T.errors(function() C.load(p) end, "deep.yaml:257:257: YAML nested deeper than 256 levels")
  -- 256 levels are fine
  local v = C.parse(("["):rep(256) .. "7" .. ("]"):rep(256))
  for _ = 1, 256 do v = v[1] end
  T.eq(v, 7)
  -- the depth is counted, not the number of nodes
  T.eq(#C.parse("[" .. ("[1], "):rep(5000) .. "[2]]"), 5001)
end)

T.case("load: files, overrides, empty and non-mapping files", function()
  local dir = T.tmpdir()
  local p = T.write(dir .. "/c.yaml", "pipeline: explore\nkcore: {min_user: 3}\n")
  local c = C.load(p, { "kcore.min_item=5", "kcore.min_user=4", "input=x.csv" })
  T.same(c, { pipeline = "explore", kcore = { min_user = 4, min_item = 5 }, input = "x.csv" })
  T.same(C.load(T.write(dir .. "/empty.yaml", "")), {})
  T.same(C.load(T.write(dir .. "/comment.yaml", "# nothing\n")), {})
  T.errors(function() C.load(T.write(dir .. "/list.yaml", "- 1\n")) end,
    "list.yaml: a config must be a YAML mapping")
  T.errors(function() C.load(dir .. "/missing.yaml") end,
    "cannot open config '" .. dir .. "/missing.yaml'")
  local e = T.errors(function() C.load(T.write(dir .. "/bad.yaml", "a: 1\nb: [\n")) end, "bad.yaml:")
  T.ok(e:find("bad.yaml:%d+:%d+:"), e)
end)

T.case("overrides: dotted keys, YAML types, lists, null", function()
  local c = { als = { factors = 32 }, list = { 10, 20 }, keep = 1 }
  C.override(c, "als.factors=64")
  C.override(c, "als.solver=cg")
  C.override(c, "new.deep.key=true")
  C.override(c, "list.2=25")
  C.override(c, "name='10'")
  C.override(c, "metrics=[ndcg, map]")
  C.override(c, "path=/tmp/a:b")
  C.override(c, "keep=")
  T.same(c, { als = { factors = 64, solver = "cg" }, new = { deep = { key = true } },
    list = { 10, 25 }, name = "10", metrics = { "ndcg", "map" }, path = "/tmp/a:b" })
  T.eq(math.type(c.als.factors), "integer")
  T.errors(function() C.override(c, "nokey") end, "bad override 'nokey': expected key=value")
  T.errors(function() C.override(c, "=5") end, "bad override '=5'")
  T.errors(function() C.override(c, "a..b=1") end, "empty key")
  T.errors(function() C.override(c, "als.factors.x=1") end, "'als.factors' is not a table")
  T.errors(function() C.override(c, "x=[1,") end, "override 'x=[1,'")
end)

T.case("merge: defaults under the config, tables merge, lists replace", function()
  local d = { k = 10, als = { factors = 32, iterations = 15 }, metrics = { "ndcg", "map" } }
  local m = C.merge(d, { als = { factors = 64 }, metrics = { "auc" }, extra = "x" })
  T.same(m, { k = 10, als = { factors = 64, iterations = 15 }, metrics = { "auc" }, extra = "x" })
  T.eq(d.als.factors, 32) -- defaults untouched
  T.ok(m.als ~= d.als, "a copy, not the defaults' table")
end)

T.case("check: unknown keys refused naming the file and the known ones", function()
  local schema = { data = C.keys({ "path" }, { read = C.keys { "sep", "user" } }), k = true,
                   list = { ["*"] = C.keys { "a" } } }
  T.eq(C.check({ data = { path = "x", read = { sep = "," } }, k = 3, pipeline = "p",
                 _config_file = "f.yaml", list = { { a = 1 } } }, schema).k, 3)
  -- a config error (no traceback): "file: message"
  local function says(cfg, where, want)
    local ok, e = pcall(C.check, cfg, schema, where)
    T.ok(not ok and type(e) == "table", "a config error object")
    T.eq(tostring(e), want)
  end
  says({ kk = 1, _config_file = "f.yaml" }, nil, "f.yaml: unknown key 'kk' (known: data, k, list)")
  says({ data = { read = { sepp = 1 } } }, "args",
    "args: unknown key 'data.read.sepp' (known under data.read: sep, user)")
  says({ list = { { a = 1 }, { b = 2 } } }, nil,
    "config: unknown key 'list[2].b' (known under list[2]: a)")
  says({ data = 3 }, "args", "args: 'data' must be a table (keys: path, read), got number")
end)

T.case("args: a YAML run's table or command-line strings", function()
  local d = { input = "default.csv", kcore = { min_user = 1 }, positional = { "input" } }
  -- positional is the pipeline's, not a config key, whichever way it is called
  T.same(C.args(d, { kcore = { min_user = 3 } }),
    { input = "default.csv", kcore = { min_user = 3 } })
  T.same(C.args(d, "data.csv", "kcore.min_user=2"), { input = "data.csv", kcore = { min_user = 2 } })
  T.same(C.args(d), { input = "default.csv", kcore = { min_user = 1 } })
  local dir = T.tmpdir()
  local y = T.write(dir .. "/a.yaml", "kcore: {min_user: 7}\n")
  T.same(C.args(d, y, "kcore.min_item=2"),
    { input = "default.csv", kcore = { min_user = 7, min_item = 2 } })
  T.errors(function() C.args(d, "a.csv", "b.csv") end, "unexpected argument 'b.csv'")
  T.errors(function() C.args(d, 5) end, "expected a string, got number")
end)

T.done()
