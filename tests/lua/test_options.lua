-- Option tables exported by the modules (rp.<module>.options()): the one
-- source of names, defaults and ranges (runtime/core/opts.h), checked
-- against what the functions actually do with an empty options table.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()
local lines = { "user,item,value,time" }
for u = 1, 40 do
  for i = 1, 25 do
    if (u * 7 + i * 3) % 5 < 2 then lines[#lines + 1] = ("u%d,i%d,%d,%d"):format(u, i, 1 + (u + i) % 4, 1700000000 + u * 100 + i) end
  end
end
T.write(dir .. "/log.csv", table.concat(lines, "\n") .. "\n")
local ev = rp.io.read_events(dir .. "/log.csv", { value = "value", time = "time" })
local train = ev:to_matrix()

T.case("als: the exported defaults are the model's options", function()
  local d = rp.als.options("train")
  T.eq(d.factors.default, 100)
  T.eq(d.factors.min, 1)
  T.eq(d.factors.max, 4096)
  T.eq(d.alpha.min_open, true)
  T.eq(d[1].name, "factors")
  T.eq(d.regularization_mode.default, "auto")
  T.eq(table.concat(d.regularization_mode.values, ","), "fixed,frequency,auto")
  local m = rp.als.train(train, { iterations = 1 })
  for _, o in ipairs(d) do
    if o.default ~= nil and o.name ~= "regularization_mode" and o.name ~= "solver"
      and o.name ~= "iterations" and m.options[o.name] ~= nil then
      T.eq(m.options[o.name], o.default, o.name)
    end
  end
  T.eq(m.options.regularization_mode, "fixed")
  T.eq(d.solver.default, "auto")
  T.eq(m.options.solver, "cg")
  T.eq(rp.als.options().train.iterations.default, 15)
  T.eq(rp.als.options("validation").patience.default, 3)
  T.errors(function() rp.als.options("fit") end, "no function 'fit' (known: train, validation)")
end)

-- issue 11: the explicit default (frequency) was the binding's; the core
-- now resolves auto, so C and Lua callers get the same model
T.case("als: regularization_mode auto resolves by implicit", function()
  local a = rp.als.train(train, { implicit = false, iterations = 2, factors = 4 })
  local b = rp.als.train(train, { implicit = false, iterations = 2, factors = 4,
                                  regularization_mode = "frequency" })
  T.eq(a.options.regularization_mode, "frequency")
  T.eq(a.options.solver, "cholesky") -- solver auto: exact for explicit models
  T.eq(a:loss(train), b:loss(train))
end)

T.case("io: read_events and to_matrix tables", function()
  local r = rp.io.options("read_events")
  for _, k in ipairs { "sep", "header", "user", "item", "threads", "unknown", "on_error",
                       "max_line_bytes", "users", "items" } do
    T.ok(r[k] ~= nil, k)
  end
  T.eq(r.threads.max, 256)
  T.eq(r.on_error.default, "stop")
  local m = rp.io.options("to_matrix")
  T.eq(table.concat(m.aggregate.values, ","), "sum,max,count,last")
  T.eq(m.aggregate.default, "sum")
  T.eq(m.half_life_days.default, nil)
  -- every name the table lists is accepted, nothing else
  T.errors(function() ev:to_matrix { agregate = "max" } end,
    "unknown option 'agregate' (known: aggregate, half_life_days, now)")
end)

T.case("baseline tables", function()
  local b = rp.baseline.options()
  T.eq(b.item_knn.k.default, 50)
  T.eq(b.item_knn.similarity.default, "cosine")
  T.eq(b.popularity.by.default, "users")
  T.eq(b.random.seed.default, 42)
end)

T.case("metrics: evaluate and compare resolve their defaults in C", function()
  local e = rp.metrics.options("evaluate")
  T.eq(e.k.default, 10)
  T.eq(e.level.default, 0.95)
  T.eq(e.level.min_open, true)
  T.eq(e.bootstrap.default, nil)
  T.eq(rp.metrics.options("compare").bootstrap.default, 1000)
  local m = rp.baseline.popularity(train)
  local r = rp.metrics.evaluate(m, nil, train, { metrics = { "ndcg" } })
  T.eq(r.k, e.k.default)
  T.errors(function() rp.metrics.evaluate(m, nil, train, { kk = 20 }) end,
    "bad argument #4 to 'evaluate' (unknown option 'kk' (known: k, metrics, users, per_user, "
    .. "bootstrap, seed, level,")
  T.errors(function() rp.metrics.evaluate(m, nil, train, { level = 1 }) end,
    "bad argument #4 to 'evaluate' (field 'level' must be a number in (0, 1), got 1)")
  T.errors(function() rp.metrics.compare(r, r, { bootstrap = 0 }) end,
    "bad argument #3 to 'compare' (field 'bootstrap' must be an integer in 1..1000000, got 0)")
  local ci = rp.metrics.evaluate(m, nil, train, { metrics = { "ndcg" }, bootstrap = false })
  T.eq(ci.ci, nil)
end)

T.case("hybrid: projection's defaults", function()
  local p = rp.hybrid.options("project")
  T.eq(p.regularization.default, 1.0)
  T.eq(p.method.default, "ridge")
  T.eq(p.max_direct.default, 4096)
end)

T.done()
