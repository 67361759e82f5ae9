-- recpipe.report: self-contained HTML reports with inline SVG charts (no
-- network, no JavaScript), for rp.metrics evaluations and tuning runs.
--
--   local R = require "recpipe.report"
--   local svg = R.lines{ title = "NDCG@k", xlabel = "k", series = {
--     { name = "als", x = {1, 2, 3}, y = {0.1, 0.15, 0.18} } } }
--   R.write("out/report.html", R.page{ title = "Evaluation", body = { R.h2("Curves"), svg } })
--
-- R.evaluation(reports, opts) and R.tuning(results, opts) build the whole
-- page the evaluate and tune pipelines write.
local R = {}

local PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                  "#7f7f7f", "#bcbd22", "#17becf" }
R.palette = PALETTE

-- ---- text ---------------------------------------------------------------------
function R.esc(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&#39;" }))
end
local esc = R.esc

-- a number as every report shows it: 4 decimals (digits to change), whole
-- numbers as integers
function R.num(v, digits)
  if v == nil then return "–" end
  if type(v) ~= "number" then return tostring(v) end
  if v ~= v then return "NaN" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  if math.type(v) == "integer" then return tostring(v) end
  if v == math.floor(v) and math.abs(v) < 1e15 then return ("%d"):format(v) end
  return ("%." .. (digits or 4) .. "f"):format(v)
end

-- R.mean_interval(values[, level = 0.95]) -> mean, lo, hi: the mean of a
-- list of numbers and its interval by the normal approximation, mean ±
-- z · s / sqrt(n) (s the sample standard deviation; lo = hi = mean for one
-- value; nil for none).  For per-user figures pooled over days.
function R.mean_interval(values, level)
  local n = #values
  if n == 0 then return nil end
  local s = 0
  for _, v in ipairs(values) do s = s + v end
  local m = s / n
  if n == 1 then return m, m, m end
  local ss = 0
  for _, v in ipairs(values) do ss = ss + (v - m) ^ 2 end
  -- z of the two-sided level: 1.96 for 0.95 (Acklam-free: the levels used)
  local z = ({ [0.9] = 1.6448536269514722, [0.95] = 1.959963984540054,
               [0.99] = 2.5758293035489004 })[level or 0.95]
  if not z then error("mean_interval: level must be 0.9, 0.95 or 0.99", 2) end
  local h = z * math.sqrt(ss / (n - 1) / n)
  return m, m - h, m + h
end

-- R.options_table(models) -> html: one row per model, {name, options =
-- {key = value}}, the options as "key = value" sorted by key (tables
-- shown inline), so a report says what each model was
function R.options_table(models)
  local rows = {}
  for _, mdl in ipairs(models) do
    local keys, parts = {}, {}
    for key in pairs(mdl.options or {}) do
      if key ~= "name" then keys[#keys + 1] = key end
    end
    table.sort(keys)
    for _, key in ipairs(keys) do
      local v = mdl.options[key]
      if type(v) == "table" then
        local t = {}
        for _, x in ipairs(v) do t[#t + 1] = R.num(x) end
        v = "[" .. table.concat(t, ", ") .. "]"
      end
      parts[#parts + 1] = ("%s = %s"):format(key, R.num(v))
    end
    rows[#rows + 1] = { mdl.name, table.concat(parts, ", ") }
  end
  return R.table({ "model", "options" }, rows)
end
local num = R.num

function R.h2(text) return "<h2>" .. esc(text) .. "</h2>\n" end
function R.h3(text) return "<h3>" .. esc(text) .. "</h3>\n" end
function R.p(text) return "<p>" .. esc(text) .. "</p>\n" end
function R.pre(text) return "<pre>" .. esc(text) .. "</pre>\n" end

-- R.table(headers, rows[, opts]): rows of cells (numbers formatted); a
-- cell may be {html = "..."} to pass markup through.
function R.table(headers, rows, opts)
  opts = opts or {}
  local out = { "<table" .. (opts.class and (' class="' .. esc(opts.class) .. '"') or "") .. ">",
                "<thead><tr>" }
  for _, h in ipairs(headers) do out[#out + 1] = "<th>" .. esc(h) .. "</th>" end
  out[#out + 1] = "</tr></thead><tbody>"
  for _, row in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for _, c in ipairs(row) do
      local cell = type(c) == "table" and c.html or esc(type(c) == "number" and num(c) or c)
      out[#out + 1] = "<td>" .. cell .. "</td>"
    end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table>\n"
  return table.concat(out)
end

-- ---- scales and axes ----------------------------------------------------------------
-- "nice" ticks covering [lo, hi]: steps of 1, 2 or 5 times a power of ten
local function ticks(lo, hi, n)
  n = n or 5
  if hi <= lo then hi = lo + 1 end
  local raw = (hi - lo) / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, m in ipairs { 1, 2, 5, 10 } do
    step = m * mag
    if raw <= step then break end
  end
  local t, out = math.ceil(lo / step - 1e-9) * step, {}
  while t <= hi + step * 1e-9 do
    out[#out + 1] = math.abs(t) < step * 1e-9 and 0 or t
    t = t + step
  end
  return out, step
end

local function log_ticks(lo, hi)
  local out = {}
  for e = math.floor(math.log(lo, 10)), math.ceil(math.log(hi, 10)) do
    local v = 10 ^ e
    if v >= lo * 0.999 and v <= hi * 1.001 then out[#out + 1] = v end
  end
  if #out < 2 then out = { lo, hi } end
  return out
end

local function extent(series, key, from_zero)
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, v in ipairs(s[key]) do
      if v == v and v ~= math.huge and v ~= -math.huge then
        lo, hi = math.min(lo, v), math.max(hi, v)
      end
    end
  end
  if lo == math.huge then lo, hi = 0, 1 end
  if from_zero and lo > 0 then lo = 0 end
  if hi == lo then hi = lo + (lo == 0 and 1 or math.abs(lo) * 0.1) end
  return lo, hi
end

-- A chart frame: returns the svg head, a function mapping (x, y) to pixels,
-- and the closing part (axes, ticks, labels, legend).
local function frame(o, xlo, xhi, ylo, yhi, xlog)
  local W, H = o.width or 640, o.height or 340
  local L, Rm, T, B = 64, 16, (o.title and 34 or 14) + (o.has_legend and 18 or 0), 46
  local pw, ph = W - L - Rm, H - T - B
  local function px(x)
    if xlog then
      return L + (math.log(x) - math.log(xlo)) / (math.log(xhi) - math.log(xlo)) * pw
    end
    return L + (x - xlo) / (xhi - xlo) * pw
  end
  local function py(y) return T + ph - (y - ylo) / (yhi - ylo) * ph end
  local head = {
    ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
      .. 'role="img" font-family="sans-serif" font-size="11">'):format(W, H, W, H),
  }
  if o.title then
    head[#head + 1] = ('<text x="%d" y="18" font-size="13" font-weight="bold">%s</text>')
      :format(L, esc(o.title))
  end
  head[#head + 1] = ('<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#ccc"/>')
    :format(L, T, pw, ph)
  -- y grid and ticks
  local yt = ticks(ylo, yhi, 5)
  for _, v in ipairs(yt) do
    if v >= ylo - 1e-12 and v <= yhi + 1e-12 then
      local y = py(v)
      head[#head + 1] = ('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>')
        :format(L, L + pw, y, y)
      head[#head + 1] = ('<text x="%d" y="%.1f" text-anchor="end">%s</text>'):format(L - 4,
        y + 4, num(v, 3))
    end
  end
  local tail = {}
  local xt = o.xticks or (xlog and log_ticks(xlo, xhi) or ticks(xlo, xhi, 6))
  for _, v in ipairs(xt) do
    local xv = type(v) == "table" and v[1] or v
    local label = type(v) == "table" and v[2] or num(v, 3)
    if xv >= xlo - 1e-12 and xv <= xhi * (1 + 1e-12) + 1e-12 then
      local x = px(xv)
      tail[#tail + 1] = ('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>'):format(x, x,
        T + ph, T + ph + 4)
      tail[#tail + 1] = ('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'):format(x,
        T + ph + 16, esc(label))
    end
  end
  if o.xlabel then
    tail[#tail + 1] = ('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'):format(L + pw / 2,
      H - 8, esc(o.xlabel))
  end
  if o.ylabel then
    tail[#tail + 1] = ('<text x="14" y="%.1f" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>')
      :format(T + ph / 2, T + ph / 2, esc(o.ylabel))
  end
  return head, px, py, tail, { L = L, T = T, pw = pw, ph = ph, W = W, H = H }
end

-- a horizontal legend in the band above the plot area (never over the data)
local function legend(names, colors, box, kinds)
  if #names < 1 then return "" end
  local out = {}
  local x, y = box.L, box.T - 8
  for i, n in ipairs(names) do
    if kinds and kinds[i] == "bar" then
      out[#out + 1] = ('<rect x="%.1f" y="%d" width="12" height="9" fill="%s"/>'):format(x,
        y - 8, colors[i])
    else
      out[#out + 1] = ('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="2.5"/>')
        :format(x, x + 14, y - 4, y - 4, colors[i])
    end
    out[#out + 1] = ('<text x="%.1f" y="%d">%s</text>'):format(x + 18, y, esc(n))
    x = x + 30 + #n * 6.2
  end
  return table.concat(out)
end

-- ---- charts ----------------------------------------------------------------------------
-- R.lines{title, xlabel, ylabel, series = {{name, x = {...}, y = {...}, lo, hi}},
--   xlog, points = false, from_zero = true, width, height} -> svg string; a
--   series with lo and hi (arrays beside y) gets an interval bar at each point
function R.lines(o)
  local series = o.series or {}
  local xlo, xhi = extent(series, "x", false)
  local ylo, yhi = extent(series, "y", o.from_zero ~= false)
  for _, s in ipairs(series) do -- intervals (s.lo, s.hi) fit in the frame too
    for _, key in ipairs { "lo", "hi" } do
      for _, v in ipairs(s[key] or {}) do
        if v == v and math.abs(v) ~= math.huge then ylo, yhi = math.min(ylo, v), math.max(yhi, v) end
      end
    end
  end
  if not o.from_zero and o.from_zero ~= nil then
    local pad = (yhi - ylo) * 0.05
    ylo, yhi = ylo - pad, yhi + pad
  else
    yhi = yhi * 1.05
  end
  o.has_legend = o.legend ~= false and #series > 0
  local head, px, py, tail, box = frame(o, xlo, xhi, ylo, yhi, o.xlog)
  local body, names, colors = {}, {}, {}
  for i, s in ipairs(series) do
    local c = s.color or PALETTE[(i - 1) % #PALETTE + 1]
    local pts = {}
    for j = 1, math.min(#s.x, #s.y) do
      if s.y[j] == s.y[j] then pts[#pts + 1] = ("%.1f,%.1f"):format(px(s.x[j]), py(s.y[j])) end
    end
    if #pts > 0 then
      body[#body + 1] = ('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>')
        :format(c, table.concat(pts, " "), esc(s.name or ""))
    end
    if s.lo and s.hi then -- an interval bar at each point
      for j = 1, math.min(#s.x, #s.lo, #s.hi) do
        local a, b = s.lo[j], s.hi[j]
        if a == a and b == b then
          body[#body + 1] = ('<line class="ci" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" opacity="0.6"><title>%s: %s = %s, interval [%s, %s]</title></line>')
            :format(px(s.x[j]), px(s.x[j]), py(a), py(b), c, esc(s.name or ""), num(s.x[j]),
              num(s.y[j]), num(a), num(b))
        end
      end
    end
    if o.points or #pts == 1 then
      for j = 1, math.min(#s.x, #s.y) do
        if s.y[j] == s.y[j] then
          body[#body + 1] = ('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s = %s</title></circle>')
            :format(px(s.x[j]), py(s.y[j]), c, esc(s.name or ""), num(s.x[j]), num(s.y[j]))
        end
      end
    end
    names[#names + 1], colors[#colors + 1] = s.name or ("series " .. i), c
  end
  return table.concat(head) .. table.concat(body) .. table.concat(tail)
    .. (o.legend == false and "" or legend(names, colors, box)) .. "</svg>\n"
end

-- R.scatter{title, xlabel, ylabel, points = {{x, y, label}}, xlog, best = index,
--   envelope = true} -> svg.  The best point is drawn larger in red; with
-- envelope a line joins the best y at each distinct x (for a tuning run:
-- the best configuration at each value of the parameter).
function R.scatter(o)
  local xs, ys, distinct = {}, {}, {}
  for i, p in ipairs(o.points or {}) do
    xs[i], ys[i] = p[1], p[2]
    if p[2] == p[2] and (distinct[p[1]] == nil or p[2] > distinct[p[1]]) then distinct[p[1]] = p[2] end
  end
  local dx = {}
  for x in pairs(distinct) do dx[#dx + 1] = x end
  table.sort(dx)
  local s = { { x = xs, y = ys } }
  local xlo, xhi = extent(s, "x", false)
  local ylo, yhi = extent(s, "y", false)
  local xlog = o.xlog and xlo > 0
  if xlog then
    xlo, xhi = xlo / 1.5, xhi * 1.5
  else
    local pad = (xhi - xlo) * 0.08
    xlo, xhi = xlo - pad, xhi + pad
  end
  local pad = (yhi - ylo) * 0.08
  ylo, yhi = ylo - pad, yhi + pad
  local fo = {}
  for k, v in pairs(o) do fo[k] = v end
  if #dx >= 1 and #dx <= 8 then
    fo.xticks = {}
    for i, x in ipairs(dx) do fo.xticks[i] = { x, num(x, 3) } end
  end
  local head, px, py, tail = frame(fo, xlo, xhi, ylo, yhi, xlog)
  local body = {}
  if o.envelope ~= false and #dx > 1 then
    local pts = {}
    for _, x in ipairs(dx) do pts[#pts + 1] = ("%.1f,%.1f"):format(px(x), py(distinct[x])) end
    body[#body + 1] = ('<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3" points="%s"><title>best at each value</title></polyline>')
      :format(PALETTE[4], table.concat(pts, " "))
  end
  for i, p in ipairs(o.points or {}) do
    local best = i == o.best
    body[#body + 1] = ('<circle cx="%.1f" cy="%.1f" r="%d" fill="%s" fill-opacity="%s"><title>%s</title></circle>')
      :format(px(p[1]), py(p[2]), best and 6 or 4, best and PALETTE[4] or PALETTE[1],
        best and "1" or "0.6", esc(p[3] or (num(p[1]) .. ", " .. num(p[2]))))
  end
  return table.concat(head) .. table.concat(body) .. table.concat(tail) .. "</svg>\n"
end

-- R.bars{title, xlabel, ylabel, categories = {...}, series = {{name, values}}} -> svg
-- (grouped bars, one group per category)
function R.bars(o)
  local cats, series = o.categories or {}, o.series or {}
  local n = math.max(#cats, 1)
  local _, yhi = extent(series, "values", true)
  yhi = yhi * 1.1
  local xt = {}
  for i, c in ipairs(cats) do xt[i] = { i, tostring(c) } end
  local head, px, py, tail, box = frame({ title = o.title, xlabel = o.xlabel, ylabel = o.ylabel,
    width = o.width, height = o.height, xticks = xt, has_legend = #series > 0 }, 0.5, n + 0.5, 0,
    yhi)
  local body, names, colors, kinds = {}, {}, {}, {}
  local groupw = box.pw / n * 0.8
  local bw = groupw / math.max(#series, 1)
  for si, s in ipairs(series) do
    local c = s.color or PALETTE[(si - 1) % #PALETTE + 1]
    for ci = 1, #cats do
      local v = s.values[ci] or 0
      local x = px(ci) - groupw / 2 + (si - 1) * bw
      local y = py(v)
      body[#body + 1] = ('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %s</title></rect>')
        :format(x, y, math.max(bw - 1, 0.5), math.max(py(0) - y, 0), c, esc(s.name or ""),
          esc(tostring(cats[ci])), num(v))
    end
    names[#names + 1], colors[#colors + 1], kinds[#kinds + 1] = s.name or ("series " .. si), c,
      "bar"
  end
  return table.concat(head) .. table.concat(body) .. table.concat(tail)
    .. legend(names, colors, box, kinds) .. "</svg>\n"
end

-- ---- pages -------------------------------------------------------------------------------
local CSS = [[
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1080px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}
.note{color:#666;font-size:12px}pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto}
]]

-- R.page{title, subtitle, body = {html parts}} -> a complete HTML document
function R.page(o)
  local parts = { "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
    "<title>", esc(o.title or "recpipe report"), "</title>\n<style>\n", CSS, "</style>\n</head>\n<body>\n",
    "<h1>", esc(o.title or "recpipe report"), "</h1>\n" }
  if o.subtitle then parts[#parts + 1] = '<p class="note">' .. esc(o.subtitle) .. "</p>\n" end
  for _, b in ipairs(o.body or {}) do parts[#parts + 1] = b end
  parts[#parts + 1] = '<p class="note">Generated by recpipe'
    .. (o.generated and (" on " .. esc(o.generated)) or "") .. ".</p>\n</body>\n</html>\n"
  return table.concat(parts)
end

function R.charts(list) return '<div class="charts">\n' .. table.concat(list) .. "</div>\n" end

-- R.write(path, html): written to a temporary file and renamed into place
function R.write(path, html)
  local dirname = path:match("^(.*)/[^/]*$")
  if dirname and dirname ~= "" then os.execute(("mkdir -p '%s'"):format(dirname:gsub("'", "'\\''"))) end
  local tmp = path .. ".tmp." .. tostring(os.time())
  local f, err = io.open(tmp, "wb")
  if not f then error("cannot write report: " .. tostring(err), 2) end
  local ok, werr = f:write(html)
  f:close()
  if not ok then
    os.remove(tmp)
    error("cannot write report " .. path .. ": " .. tostring(werr), 2)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    error("cannot write report " .. path .. ": " .. tostring(rerr), 2)
  end
  return path
end

-- ---- evaluation page ----------------------------------------------------------------------
local CURVE_METRICS = { "ndcg", "precision", "recall", "map", "hit_rate", "coverage" }

-- R.evaluation(entries, opts) -> html page
-- entries: { {name = "als", report = <k=K report with ci, per-user values>,
--             curve = <report with curve = true up to 50>} ... }
-- opts: title, subtitle, metrics (table rows), bins (distribution), compare
--   (rp.metrics.compare results to tabulate), notes (list of strings)
function R.evaluation(entries, opts)
  opts = opts or {}
  local body = {}
  local first = entries[1] and entries[1].report
  local metrics = opts.metrics or (first and first.metrics) or {}
  -- summary table
  body[#body + 1] = R.h2(("Metrics at k = %s"):format(first and first.k or "?"))
  local headers = { "metric" }
  for _, e in ipairs(entries) do headers[#headers + 1] = e.name end
  local rows = {}
  for _, m in ipairs(metrics) do
    local row = { m }
    for _, e in ipairs(entries) do
      local r = e.report
      local ci = r.ci and r.ci[m]
      row[#row + 1] = { html = esc(num(r[m])) .. (ci and (' <span class="note">[' .. num(ci[1])
        .. ", " .. num(ci[2]) .. "]</span>") or "") }
    end
    rows[#rows + 1] = row
  end
  local urow = { "users evaluated" }
  for _, e in ipairs(entries) do urow[#urow + 1] = e.report.users end
  rows[#rows + 1] = urow
  body[#body + 1] = R.table(headers, rows)
  local models = {}
  for _, e in ipairs(entries) do
    if e.options then models[#models + 1] = { name = e.name, options = e.options } end
  end
  if #models > 0 then body[#body + 1] = R.h2("Models") .. R.options_table(models) end
  if first and first.ci then
    body[#body + 1] = '<p class="note">' .. esc(("[lo, hi]: %d%% percentile bootstrap interval over %d resamples of the users.")
      :format(math.floor((first.level or 0.95) * 100 + 0.5), first.bootstrap or 0)) .. "</p>\n"
  end
  -- paired comparisons
  if opts.compare and #opts.compare > 0 then
    body[#body + 1] = R.h2("Paired differences")
    local crow = {}
    for _, c in ipairs(opts.compare) do
      for _, m in ipairs(c.result._order or {}) do
        local d = c.result[m]
        local p = d.p and (d.p < 0.0001 and "<0.0001" or ("%.4f"):format(d.p)) or ""
        crow[#crow + 1] = { c.a .. " − " .. c.b, m, d.diff, { html = "[" .. num(d.lo) .. ", "
          .. num(d.hi) .. "]" }, p, d.wins or "", d.losses or "", d.users }
      end
    end
    body[#body + 1] = R.table({ "pair", "metric", "difference", "interval", "p", "wins",
      "losses", "users" }, crow)
  end
  -- curves
  local charts = {}
  for _, m in ipairs(opts.curve_metrics or CURVE_METRICS) do
    local series = {}
    for _, e in ipairs(entries) do
      local c = e.curve and e.curve.curve and e.curve.curve[m]
      if c then
        local xs = {}
        for j = 1, #c do xs[j] = j end
        series[#series + 1] = { name = e.name, x = xs, y = c }
      end
    end
    if #series > 0 then
      charts[#charts + 1] = R.lines { title = m .. "@k", xlabel = "k", ylabel = m, series = series,
        width = 520, height = 300 }
    end
  end
  if #charts > 0 then
    body[#body + 1] = R.h2("Metric at k = 1.." .. (entries[1].curve and entries[1].curve.k or ""))
    body[#body + 1] = R.charts(charts)
  end
  -- per-user distribution
  local dm = opts.distribution_metric or "ndcg"
  local bins = opts.bins or 10
  local cats, dseries = {}, {}
  for b = 1, bins do cats[b] = ("%.1f–%.1f"):format((b - 1) / bins, b / bins) end
  for _, e in ipairs(entries) do
    local ok, h = pcall(e.report.histogram, e.report, dm, bins, 0, 1)
    if ok then
      local shares = {}
      for b = 1, bins do shares[b] = e.report.users > 0 and h[b] / e.report.users or 0 end
      dseries[#dseries + 1] = { name = e.name, values = shares }
    end
  end
  if #dseries > 0 then
    body[#body + 1] = R.h2(("Per-user %s@%d"):format(dm, first.k))
    body[#body + 1] = R.bars { title = ("share of users by %s@%d"):format(dm, first.k),
      xlabel = dm, ylabel = "share of users", categories = cats, series = dseries, width = 900,
      height = 320 }
  end
  -- popularity profile
  local pbins = opts.popularity_bins or 10
  local pseries, pcats, prow = {}, {}, {}
  for b = 1, pbins do pcats[b] = ("%d"):format(b) end
  for i, e in ipairs(entries) do
    local p = e.report:popularity(pbins)
    if i == 1 then pseries[1] = { name = "train interactions", values = p.train, color = "#bbbbbb" } end
    pseries[#pseries + 1] = { name = e.name, values = p.recommended,
      color = PALETTE[(i - 1) % #PALETTE + 1] }
    prow[#prow + 1] = { e.name, p.mean_recommended, p.mean_catalogue,
      p.mean_catalogue and p.mean_catalogue > 0 and p.mean_recommended
        and p.mean_recommended / p.mean_catalogue or nil, e.report.coverage, e.report.gini,
      e.report.novelty }
  end
  if #pseries > 1 then
    body[#body + 1] = R.h2("Recommended-item popularity vs catalogue popularity")
    body[#body + 1] = R.p(("The catalogue sorted by train popularity (most popular first) in %d groups of equal size: the share of train interactions each group holds, and the share of each model's recommendations.")
      :format(pbins))
    body[#body + 1] = R.bars { title = "share per popularity group", xlabel =
      "popularity group (1 = most popular items)", ylabel = "share", categories = pcats,
      series = pseries, width = 900, height = 320 }
    body[#body + 1] = R.table({ "model", "mean train users of a recommended item",
      "mean train users of a catalogue item", "ratio", "coverage", "gini", "novelty" }, prow)
  end
  for _, n in ipairs(opts.notes or {}) do body[#body + 1] = '<p class="note">' .. esc(n) .. "</p>\n" end
  return R.page { title = opts.title or "Evaluation", subtitle = opts.subtitle, body = body,
                  generated = opts.generated }
end

-- ---- tuning page ---------------------------------------------------------------------------
-- R.tuning(results, opts) -> html page
-- results: array of {params = {name = value}, score = number, seconds = n, ...}
-- opts: metric, params (names in order), best (index), final (report on test),
--   title, subtitle, log_params (set of names drawn on a log axis)
function R.tuning(results, opts)
  opts = opts or {}
  local metric = opts.metric or "score"
  local params = opts.params or {}
  local body = {}
  if opts.model then
    body[#body + 1] = R.h2("Model (options every configuration shares)")
      .. R.options_table { { name = opts.model.type or "model", options = opts.model } }
  end
  local sorted = {}
  for i, r in ipairs(results) do sorted[i] = r end
  table.sort(sorted, function(a, b) return (a.score or -math.huge) > (b.score or -math.huge) end)
  if opts.final then
    local f = opts.final
    body[#body + 1] = R.h2("Best configuration, retrained and evaluated once on test")
    local rows = {}
    for _, m in ipairs(f.metrics or {}) do
      local ci = f.ci and f.ci[m]
      rows[#rows + 1] = { m .. "@" .. f.k, f[m], ci and { html = "[" .. num(ci[1]) .. ", "
        .. num(ci[2]) .. "]" } or "" }
    end
    body[#body + 1] = R.table({ "metric", "test", "interval" }, rows)
  end
  body[#body + 1] = R.h2(("Validation %s for each hyperparameter"):format(metric))
  local charts = {}
  for _, p in ipairs(params) do
    local pts, best, distinct = {}, nil, {}
    local nd = 0
    for _, r in ipairs(results) do
      local v = r.params[p]
      if type(v) == "number" and r.score then
        pts[#pts + 1] = { v, r.score, ("%s = %s: %s %s"):format(p, num(v), metric, num(r.score)) }
        if r == sorted[1] then best = #pts end
        if not distinct[v] then distinct[v] = true; nd = nd + 1 end
      end
    end
    if #pts > 0 and nd > 1 then
      charts[#charts + 1] = R.scatter { title = metric .. " vs " .. p, xlabel = p, ylabel = metric,
        points = pts, best = best, xlog = opts.log_params and opts.log_params[p], width = 420,
        height = 280 }
    end
  end
  if #charts > 0 then body[#body + 1] = R.charts(charts) end
  body[#body + 1] = R.h2("All configurations, best first")
  local headers = { "#" }
  for _, p in ipairs(params) do headers[#headers + 1] = p end
  headers[#headers + 1] = metric
  headers[#headers + 1] = "seconds"
  local rows = {}
  for i, r in ipairs(sorted) do
    local row = { i }
    for _, p in ipairs(params) do row[#row + 1] = r.params[p] == nil and "" or r.params[p] end
    row[#row + 1] = r.score
    row[#row + 1] = r.seconds
    rows[#rows + 1] = row
  end
  body[#body + 1] = R.table(headers, rows)
  return R.page { title = opts.title or "Tuning", subtitle = opts.subtitle, body = body,
                  generated = opts.generated }
end

return R
