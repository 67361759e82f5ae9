-- Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<h>/):
--   ./recpipe run tests/fuzz/seeds.lua [DIR]      (DIR defaults to tests/fuzz/corpus)
-- Each seed is the harness's option bytes followed by a small file in the
-- format it reads (see the comment at the top of tests/fuzz/fuzz_<h>.c).
-- Regenerating gives the same bytes except in the model files (their
-- header records the creation time).
local rp = require "recpipe"

local out = arg[1] or "tests/fuzz/corpus"
local scratch = io.popen("mktemp -d /tmp/recpipe-seeds.XXXXXX"):read("l")

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function seed(h, name, bytes)
  os.execute(("mkdir -p '%s/%s'"):format(out, h))
  local f = assert(io.open(("%s/%s/%s"):format(out, h, name), "wb"))
  f:write(bytes)
  f:close()
end

local B = string.char

-- ---- event reader: 9 option bytes (fuzz_read.c), context colrefs, file ----
-- colref bytes: kind 1 = position (bits 2-4: position - 1), 2 = name
local function pos(p) return 1 | ((p - 1) << 2) end
local function name(i) return 2 | (i << 2) end -- user item value time event ctx x ""
local HEADER, SKIP, DROP = 8, 16, 32
local GZ1, GZ9, GZCUT = 64, 128, 192
local function ropts(t)
  local b6 = #(t.ctx or {}) | ((t.unit or 0) << 3) | (t.weights and 32 or 0) |
    (t.maps and 64 or 0) | (t.shared and 128 or 0)
  local b7 = ((t.threads or 1) - 1) | ((t.block or 0) << 2)
  local s = B(t.b0, t.user or 0, t.item or 0, t.value or 0, t.time or 0, t.event or 0, b6, b7,
    t.sep or 0)
  for _, c in ipairs(t.ctx or {}) do s = s .. B(c) end
  return s
end

local shop = table.concat({
  "user,item,value,time,event,ctx",
  "u1,i1,1,2024-03-01T12:30:00Z,view,mobile",
  "u1,i2,2.5,2024-03-01 12:31:05.123+02:00,buy,desktop",
  '"u,2","i""3",-0.25,1709296200,cart,mobile',
  "u3,i1,1e-3,2024-03-02,view,",
  "", "u2,i9,4,1709296300,view,tablet", ""}, "\n")
local all = { user = name(0), item = name(1), value = name(2), time = name(3), event = name(4),
  ctx = { name(5) } }
local function with(t, extra)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  for k, v in pairs(extra) do r[k] = v end
  return r
end
seed("read", "csv-all-columns", ropts(with(all, { b0 = HEADER })) .. shop)
seed("read", "csv-weights-threads", ropts(with(all, { b0 = HEADER, weights = true, threads = 2,
  block = 5 })) .. shop)
seed("read", "csv-defaults-crlf-bom", ropts { b0 = HEADER } ..
  "\xEF\xBB\xBFuser_id,sku,qty\r\n17,42,1\r\n18,\"4\"\"2\",2\r\n\r\n19,43,3\r\n")
seed("read", "tsv-no-header", ropts { b0 = 2, user = pos(1), item = pos(2), value = pos(3),
  time = pos(4), unit = 1 } .. "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")
seed("read", "dat-colons", ropts { b0 = 4, value = pos(3), time = pos(4) } ..
  "1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n")
seed("read", "semicolon-ms", ropts { b0 = 3 | HEADER, value = name(2), time = name(3), unit = 2 } ..
  "user;item;value;time\na;b;1;1709296200123\nc;d;2;1709296200999\n")
seed("read", "pipe-sep-byte", ropts { b0 = 7 | HEADER, sep = string.byte("|") } ..
  "user|item\nx|y\n\"x|1\"|z\n")
seed("read", "ab-sep-skip", ropts { b0 = 6 | SKIP } .. "1ab2\n3ab4ab5\n6ab\"7\n8\"\nab9\n")
seed("read", "skip-malformed", ropts { b0 = 1 | HEADER | SKIP, value = name(2) } ..
  "user,item,value\n1,2,3\n1,2\n1,2,x\n,2,1\n1,,1\n\"a\"b,2,1\n1,2,inf\n4,5,6\n")
seed("read", "maps-drop-shared", ropts { b0 = 1 | HEADER | DROP, maps = true, shared = true } ..
  "user,item\n1,2\n17,999999\nnew,1\n2,u1\n")
seed("read", "maps-add", ropts { b0 = HEADER, maps = true, threads = 3, block = 3 } ..
  "user,item\n1,i1\n2,999999\n3,4\n" .. string.rep("5,6\n", 20))
seed("read", "gzip-level1", ropts(with(all, { b0 = HEADER | GZ1, threads = 2 })) .. shop)
seed("read", "gzip-level9-cut", ropts { b0 = 1 | GZCUT } .. "1,2\n3,4\n5,6\n")
seed("read", "context-positions", ropts { b0 = 2, ctx = { pos(3), pos(4) } } ..
  "u\ti\tdev\tcountry\nv\tj\tdev\tfr\n")
-- a larger log (a few KB) so that tiny blocks cut it into many parallel pieces
do
  local lines = { "user,item,value,time" }
  for k = 1, 150 do
    lines[#lines + 1] = ("%d,%d,%d,%d"):format(k % 37, (k * 7) % 53, k % 5, 1700000000 + k * 61)
  end
  seed("read", "many-lines-small-blocks", ropts { b0 = 1 | HEADER, value = name(2), time = name(3),
    threads = 4, block = 40 } .. table.concat(lines, "\n") .. "\n")
end
-- a real gzip file as written by ev:write, given as it is (mode 0: detected by its magic)
do
  local p = scratch .. "/x.csv"
  local f = assert(io.open(p, "wb"))
  f:write("user,item,time,event\nu1,i1,1709296200,view\nu2,i1,1709296260,buy\n")
  f:close()
  local ev = rp.io.read_events(p, { time = "time", event = "event" })
  ev:write(scratch .. "/x.csv.gz")
  seed("read", "gzip-file-as-is", ropts { b0 = HEADER, value = name(2), time = name(3),
    event = name(4) } .. slurp(scratch .. "/x.csv.gz"))
end

-- ---- matrix files: option byte (fuzz_matrix.c), then the file ---------------
local FIXHDR, FIXALL, GZ, CUT = 1, 2, 4, 8
local m = rp.sparse.from_triplets({ { "u1", "i1", 1 }, { "u1", "i2", 2.5 }, { "u2", "i2", -1 },
  { "u\0x", "i,3", 0.125 } })
m:save(scratch .. "/m.rpm")
m:save(scratch .. "/m.rpm.gz")
local mfile = slurp(scratch .. "/m.rpm")
seed("matrix", "small", B(FIXALL) .. mfile)
seed("matrix", "small-raw", B(0) .. mfile)
seed("matrix", "small-gzip-file", B(0) .. slurp(scratch .. "/m.rpm.gz"))
seed("matrix", "small-gzipped-fixed", B(FIXALL | GZ) .. mfile)
seed("matrix", "small-gzip-cut", B(FIXALL | GZ | CUT) .. mfile)
seed("matrix", "header-only", B(FIXHDR) .. mfile:sub(1, 64))
do
  local e = rp.sparse.from_triplets({})
  e:save(scratch .. "/e.rpm")
  seed("matrix", "empty", B(FIXALL) .. slurp(scratch .. "/e.rpm"))
end

-- ---- ALS model files: option byte (fuzz_model.c), then the file ---------------
local model = rp.als.train(m, { factors = 2, iterations = 2, seed = 1, threads = 1 })
model:save(scratch .. "/a.rpa")
model:save(scratch .. "/a.rpa.gz")
local afile = slurp(scratch .. "/a.rpa")
seed("model", "small", B(FIXALL) .. afile)
seed("model", "small-raw", B(0) .. afile)
seed("model", "small-gzip-file", B(0) .. slurp(scratch .. "/a.rpa.gz"))
seed("model", "small-gzipped-fixed", B(FIXALL | GZ) .. afile)
seed("model", "header-only", B(FIXHDR) .. afile:sub(1, 152))
do
  local explicit = rp.als.train(m, { factors = 3, iterations = 1, seed = 2, threads = 1,
    implicit = false, solver = "cholesky" })
  explicit:save(scratch .. "/b.rpa")
  seed("model", "explicit-cholesky", B(FIXALL) .. slurp(scratch .. "/b.rpa"))
end

-- ---- YAML: mode byte (fuzz_yaml.c), then the text ---------------------------------
local PARSE, FILE, OVERRIDE, TWICE = 0, 1, 2, 3
for _, f in ipairs({ "explore", "evaluate", "coldstart", "tune" }) do
  local p = "examples/" .. f .. ".yaml"
  local fh = io.open(p, "rb")
  if fh then
    seed("yaml", "example-" .. f, B(FILE) .. fh:read("a"))
    fh:close()
  end
end
seed("yaml", "anchors-aliases", B(PARSE) .. [[
base: &b {factors: 64, regularization: 0.01, solver: cg}
models:
  - name: small
    als: *b
  - name: big
    als: {<<: *b, factors: 128}
list: [1, -2, 0x1f, 0o17, 1.5e3, .inf, -.inf, .nan, ~, null, true, FALSE, "quoted", !!str 42]
]])
seed("yaml", "block-scalars", B(TWICE) .. "text: |\n  line one\n  line two\nfolded: >-\n  a\n  b\n")
seed("yaml", "flow-nesting", B(PARSE) .. "{a: [1, {b: [2, [3, {c: d}]]}], e: {}}\n")
seed("yaml", "override-nested", B(OVERRIDE) .. "als.factors=64")
seed("yaml", "override-list", B(OVERRIDE) .. "models.1.name=[a, {b: 1}]")
seed("yaml", "two-documents", B(PARSE) .. "a: 1\n---\nb: 2\n")
seed("yaml", "bad-indent", B(FILE) .. "pipeline: explore\n  kcore: [1, 2\n")

-- ---- attribute files: 4 option bytes + 2 per field (fuzz_attrs.c), then the file ----
-- field bytes a: kind | column name index << 3 | lower 64 | weight 128; b: sep/bounds/flags
local CAT, MULTI, BUCKETS, TOKENS, FLAGS = 0, 1, 2, 3, 4
local function col(i) return i << 3 end -- id genre age title tags a b ""
local function aopts(b0, b1, b2, sep, fields)
  local s = B(b0, b1, b2 | (#fields - 1), sep or 0)
  for _, f in ipairs(fields) do s = s .. B(f[1], f[2] or 0) end
  return s
end
seed("attrs", "items-csv", aopts(HEADER, 0, 0, 0, { { MULTI | col(1), 0 }, { BUCKETS | col(2), 2 },
  { TOKENS | col(3) } }) ..
  "id,genre,age,title\n1,Comedy|Drama,17,Toy Story (1995)\n2,Action,30,\"GoldenEye, the\"\n" ..
  "3,,,\n1,Drama,99,Again\n")
seed("attrs", "movielens-pipes", aopts(128 | 16, 1 | (1 << 3) | (0 << 5), 3 << 2 | 1 << 4, 0,
  { { FLAGS | col(1), 1 }, { CAT | col(1) | 64 } }) ..
  "1|Toy Story|01-Jan-1995||http://x|0|1\n2|GoldenEye|01-Jan-1995||http://y|1|0\n")
seed("attrs", "tags-tfidf", aopts(HEADER | 32 | 64, (2 << 1), 0, 0, { { CAT | col(4) | 64 | 128 } }) ..
  "id,tags\n1,funny\n1,funny\n2,dark\n3,funny\n")
seed("attrs", "skip-bad-lines", aopts(1 | HEADER | 16, 0, 0, 0, { { BUCKETS | col(2), 3 } }) ..
  "id,age\n1,10\n2,x\n,3\n4\n\"5\"x,1\n6,1e400\n7,25\n")
seed("attrs", "map-extend", aopts(128 | HEADER, 1, 0, 0, { { CAT | col(1) } }) ..
  "id,genre\n1,a\ni1,b\nnew,c\ntt0114709,d\n")
seed("attrs", "gzip-cut", aopts(HEADER, 0, (1 << 4) | (1 << 5), 0, { { CAT | col(1) } }) ..
  "id,genre\n1,a\n2,b\n")

-- ---- server requests: 1 option byte (fuzz_request.c), then the body, query or id ----
-- bits 0-1: 0 recommend body, 1 events body, 2 query string, 3 an id; bits 2-3: limits
local BODY, EVENTS, QUERY, ID = 0, 1, 2, 3
local TINY = 1 << 2
seed("request", "rec_user", B(BODY) .. '{"user":"u42","k":5}')
seed("request", "rec_full", B(BODY) .. '{"user":"visitor-9","history":["i1","i2"],' ..
  '"values":[1,2.5],"attributes":{"age_band":"25-34","n":3,"b":true},"k":5,' ..
  '"context":{"device":"mobile"},"exclude_seen":false,"items":["i1","i9"],"deny":["i2"]}')
seed("request", "rec_values", B(BODY) .. '{"history":["i1"],"values":[1,2]}')
seed("request", "rec_numbers", B(BODY) .. '{"user":17,"item":"i1","k":1e3}')
seed("request", "rec_twice", B(BODY) .. '{"user":"u","user":"v"}')
seed("request", "rec_control", B(BODY) .. '{"user":"a\\u0001b"}')
seed("request", "rec_nested", B(BODY) .. ("["):rep(12) .. "1" .. ("]"):rep(12))
seed("request", "rec_tiny", B(BODY | TINY) .. '{"history":["i1","i2","i3"],"k":4}')
seed("request", "ev_one", B(EVENTS) ..
  '{"request_id":"r1","user":"u42","item":"i1229","event":"click","time":1700000000}')
seed("request", "ev_array", B(EVENTS) .. '[{"user":"u1","item":"i1","event":"view"},' ..
  '{"user":"u,2","item":"i\\"2","event":"purchase"}]')
seed("request", "ev_wrapped", B(EVENTS) .. '{"events":[{"user":"u3","item":"i3","event":"addtocart"}]}')
seed("request", "ev_bad", B(EVENTS) .. '{"user":"u1","item":"i1","event":"clik","extra":null}')
local view = '{"user":"u","item":"i","event":"view"}'
seed("request", "ev_batch_tiny", B(EVENTS | TINY) .. "[" .. view .. "," .. view .. "," .. view .. "]")
seed("request", "qs_full", B(QUERY) .. "user=u42&k=5&exclude_seen=false&history=i1,i2&history=i3" ..
  "&values=1,2,3&deny=i9&attributes.age_band=25-34&context.device=mobile")
seed("request", "qs_escapes", B(QUERY) .. "user=a%2Cb&item=%41+b&k=010")
seed("request", "qs_empty", B(QUERY) .. "user=&k=&frob")
seed("request", "qs_tiny", B(QUERY | TINY) .. "history=a,b,c&k=4")
seed("request", "id_plain", B(ID) .. "plain-id")
seed("request", "id_odd", B(ID) .. 'with,comma "quote"\nand newline\1\127\194\169')

os.execute(("rm -rf '%s'"):format(scratch))
