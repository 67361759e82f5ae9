-- recpipe.report: the HTML/SVG report builders produce standalone,
-- well-formed pages (no script, no network) holding the charts and the
-- numbers they were given.
local rp = require "recpipe"
local R = require "recpipe.report"
local T = require "recpipe.test"

local dir = T.tmpdir()

-- A small well-formedness check: every element closed in order (HTML void
-- elements and self-closing tags aside).  Returns true or nil, message.
local VOID = { meta = true, br = true, img = true, input = true, link = true, hr = true }
local function well_formed(html)
  local stack = {}
  for close, name, rest in html:gmatch("<(/?)([%a][%w:%-]*)([^>]*)>") do
    name = name:lower()
    if close == "/" then
      local top = table.remove(stack)
      if top ~= name then return nil, ("</%s> closes <%s>"):format(name, tostring(top)) end
    elseif not VOID[name] and not rest:match("/%s*$") then
      stack[#stack + 1] = name
    end
  end
  if #stack > 0 then return nil, "unclosed <" .. stack[#stack] .. ">" end
  return true
end

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

local function standalone(html)
  T.ok(html:sub(1, 15) == "<!DOCTYPE html>", "doctype first")
  T.ok(html:find('<meta charset="utf-8">', 1, true), "charset")
  T.ok(not html:lower():find("<script", 1, true), "no script")
  -- no reference to anything outside the page (the SVG namespace is a name, not a fetch)
  local stripped = html:gsub('xmlns="http://www.w3.org/2000/svg"', "")
  T.ok(not stripped:find("https?://"), "no URL")
  T.ok(not stripped:find("src=", 1, true) and not stripped:find("<link", 1, true), "no external resource")
  local ok, msg = well_formed(html)
  T.ok(ok, msg)
end

T.case("charts: well-formed SVG with the values in tooltips", function()
  local svg = R.lines { title = "NDCG@k", xlabel = "k", ylabel = "ndcg", series = {
    { name = "a<b", x = { 1, 2, 3 }, y = { 0.1, 0.2, 0.15 } },
    { name = "c", x = { 1, 2, 3 }, y = { 0.3, 0 / 0, 0.25 } } }, points = true }
  T.ok(svg:find("^<svg"))
  T.ok(well_formed(svg))
  T.eq(count(svg, "<polyline"), 2)
  T.ok(svg:find("a&lt;b", 1, true), "names escaped")
  T.ok(svg:find("c: 3 = 0.25", 1, true), "point tooltips carry the numbers")
  T.ok(not svg:find("nan", 1, true), "NaN points skipped")
  local bars = R.bars { title = "t", categories = { "x", "y" }, series = {
    { name = "s1", values = { 1, 2 } }, { name = "s2", values = { 0.5, 0 } } } }
  T.ok(well_formed(bars))
  T.eq(count(bars, "<rect"), 1 + 4 + 2) -- frame, bars, legend swatches
  T.ok(bars:find("s1, y: 2", 1, true))
  local sc = R.scatter { title = "ndcg vs reg", points = { { 0.01, 0.2 }, { 0.1, 0.25 },
    { 1, 0.22 }, { 0.1, 0.21 } }, best = 2, xlog = true }
  T.ok(well_formed(sc))
  T.eq(count(sc, "<circle"), 4)
  T.ok(sc:find('r="6"', 1, true), "best point larger")
  T.ok(sc:find("stroke-dasharray", 1, true), "best-at-each-value line")
  -- degenerate input does not break the frame
  T.ok(well_formed(R.lines { series = {} }))
  T.ok(well_formed(R.lines { series = { { name = "one", x = { 5 }, y = { 5 } } } }))
end)

-- reports of two baselines on a small log
local lines = { "user,item,time" }
local s = 7
local function rnd(m)
  s = (s * 1103515245 + 12345) % 2147483648
  return s % m
end
for _ = 1, 3000 do
  lines[#lines + 1] = ("u%d,i%d,%d"):format(rnd(100), math.min(rnd(60), rnd(60)),
    1700000000 + rnd(30 * 86400))
end
T.write(dir .. "/log.csv", table.concat(lines, "\n") .. "\n")
local ev = rp.io.read_events(dir .. "/log.csv", { time = "time" })
local tr, te = rp.split.by_time(ev, { test_fraction = 0.2 })
local train, test = tr:to_matrix(), te:to_matrix()

T.case("evaluation page: tables, curves, distribution, popularity", function()
  local entries = {}
  for _, spec in ipairs { { "pop & co", rp.baseline.popularity(tr) },
                          { "knn", rp.baseline.item_knn(train, { k = 20 }) } } do
    local rep = rp.metrics.evaluate(spec[2], train, test, { k = 10, bootstrap = 100,
      name = spec[1] })
    local curve = rp.metrics.evaluate(spec[2], train, test, { k = 50, curve = true })
    entries[#entries + 1] = { name = spec[1], report = rep, curve = curve,
                              options = { type = spec[1] == "knn" and "item_knn" or "popularity",
                                          k = spec[1] == "knn" and 20 or nil } }
  end
  local cmp = rp.metrics.compare(entries[2].report, entries[1].report, { bootstrap = 100 })
  local html = R.evaluation(entries, { title = "Eval <test>", compare = {
    { a = "knn", b = "pop & co", result = cmp } } })
  standalone(html)
  T.ok(html:find("<title>Eval &lt;test&gt;</title>", 1, true))
  T.ok(html:find("pop &amp; co", 1, true), "model names escaped")
  -- 6 metric@k charts + the per-user distribution + the popularity profile
  T.eq(count(html, "<svg"), 8)
  T.eq(count(html, "</svg>"), 8)
  -- the numbers of the reports are in the page
  for _, e in ipairs(entries) do
    T.ok(html:find(R.num(e.report.ndcg), 1, true), "ndcg of " .. e.name)
    T.ok(html:find(R.num(e.report.ci.ndcg[1]), 1, true), "its interval")
  end
  T.ok(html:find("Paired differences", 1, true))
  -- each model's options; every figure with 4 decimals
  T.ok(html:find("<td>knn</td><td>k = 20, type = item_knn</td>", 1, true), "knn's options")
  T.ok(html:find("<td>pop &amp; co</td><td>type = popularity</td>", 1, true), "popularity's")
  T.ok(html:find(("%.4f"):format(entries[1].report.ndcg), 1, true), "4 decimals")
  T.ok(html:find(R.num(cmp.ndcg.diff), 1, true), "paired difference shown")
  local path = R.write(dir .. "/sub/dir/eval.html", html)
  local f = assert(io.open(path, "rb"))
  T.eq(f:read("a"), html)
  f:close()
  local p = io.popen("ls " .. dir .. "/sub/dir")
  local listing = p:read("a")
  p:close()
  T.eq(listing, "eval.html\n", "no temporary file left behind")
end)

T.case("tuning page: one chart per varied parameter, the table, the final test", function()
  local results = {
    { params = { factors = 32, regularization = 0.01, values = "binary" }, score = 0.21, seconds = 1 },
    { params = { factors = 64, regularization = 0.1, values = "binary" }, score = 0.25, seconds = 2 },
    { params = { factors = 64, regularization = 0.01, values = "binary" }, score = 0.23, seconds = 2 },
  }
  local final = rp.metrics.evaluate(rp.baseline.popularity(tr), train, test, { k = 10,
    metrics = { "ndcg", "map" }, bootstrap = 50 })
  local html = R.tuning(results, { metric = "ndcg@10", params = { "factors", "regularization",
    "values" }, final = final, log_params = { regularization = true } })
  standalone(html)
  -- factors and regularization vary; values does not (and is not numeric)
  T.eq(count(html, "<svg"), 2)
  T.ok(html:find("ndcg@10 vs factors", 1, true) and html:find("ndcg@10 vs regularization", 1, true))
  -- the table is sorted best first
  local t0 = html:find("All configurations", 1, true)
  local a = html:find("0.25", t0, true)
  local b = html:find("0.23", t0, true)
  local c = html:find("0.21", t0, true)
  T.ok(a and b and c and a < b and b < c, "best first")
  T.ok(html:find(R.num(final.ndcg), 1, true), "final test figure")
end)

T.case("numbers with 4 decimals; mean intervals by hand; charts from zero with intervals", function()
  T.eq(R.num(0.123456), "0.1235")
  T.eq(R.num(1 / 3), "0.3333")
  T.eq(R.num(12345.5), "12345.5000")
  T.eq(R.num(0.00001), "0.0000")
  T.eq(R.num(3.0), "3")
  T.eq(R.num(7), "7")
  T.eq(R.num(0.5, 2), "0.50")
  T.eq(R.num(nil), "–")
  -- {0, 1, 1, 0}: mean 0.5, s = sqrt(1/3), half-width 1.959964 * s / 2 = 0.565792
  local m, lo, hi = R.mean_interval { 0, 1, 1, 0 }
  T.eq(m, 0.5)
  T.near(lo, 0.5 - 0.5657921, 1e-6)
  T.near(hi, 0.5 + 0.5657921, 1e-6)
  m, lo, hi = R.mean_interval({ 2, 4 }, 0.9) -- s = sqrt(2), half 1.644854 * sqrt(2) / sqrt(2)
  T.eq(m, 3)
  T.near(hi - m, 1.6448536, 1e-6)
  T.same({ R.mean_interval { 0.25 } }, { 0.25, 0.25, 0.25 })
  T.eq(R.mean_interval {}, nil)
  T.errors(function() R.mean_interval({ 1, 2 }, 0.8) end, "level must be 0.9, 0.95 or 0.99")
  -- a series near 0.5 with small noise: the y axis still starts at 0
  local svg = R.lines { title = "t", series = { { name = "s", x = { 0, 1, 2 }, y = { 0.50, 0.51, 0.49 },
    lo = { 0.45, 0.46, 0.44 }, hi = { 0.55, 0.56, 0.54 } } } }
  T.ok(svg:find('text%-anchor="end">0</text>'), "a 0 tick on the y axis")
  T.eq(count(svg, '<line class="ci"'), 3)
  T.ok(svg:find("interval [0.4600, 0.5600]", 1, true))
  T.ok(well_formed(svg))
  -- an interval above every point widens the frame
  local tall = R.lines { series = { { x = { 0, 1 }, y = { 0.5, 0.5 }, lo = { 0.4, 0.4 }, hi = { 2, 2 } } } }
  T.ok(tall:find('text%-anchor="end">2', 1), "the axis reaches the interval's top")
end)

T.done()
