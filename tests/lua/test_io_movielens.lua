-- Opt-in real-data test: MovieLens files under ../shared/data (skipped when
-- absent).  Expected counts are those the MovieLens READMEs state (and
-- pandas gives).
local rp = require "recpipe"
local T = require "recpipe.test"

local D = "../shared/data/"
local f = io.open(D .. "movielens-100k/u.data")
if not f then T.skip("../shared/data/movielens-100k is absent") end
f:close()

T.case("u.data: tab separated, no header", function()
  local ev, rep = rp.io.read_events(D .. "movielens-100k/u.data",
    { header = false, value = 3, time = 4 })
  T.eq(rep.sep, "\t")
  T.eq(#ev, 100000)
  T.eq(#ev.users, 943)
  T.eq(#ev.items, 1682)
  T.eq(ev:row(1).user, "196")
  T.eq(ev:row(1).item, "242")
  T.eq(ev:row(1).time, 881250949)
  T.eq(ev:stats().value_sum, 352986.0)
  local m = ev:to_matrix()
  T.eq(m.nnz, 100000) -- no repeated (user, item) pairs
end)

T.case("ratings.csv: header, CRLF", function()
  local ev, rep = rp.io.read_events(D .. "movielens-latest-small/ratings.csv",
    { user = "userId", item = "movieId", value = "rating", time = "timestamp" })
  T.eq(rep.sep, ",")
  T.eq(#ev, 100836)
  T.eq(#ev.users, 610)
  T.eq(#ev.items, 9724)
  local st = ev:stats()
  T.eq(st.value_sum, 353083.0)
  T.eq(st.tmin, 828124615)
  T.eq(st.tmax, 1537799250)
  T.eq(st.per_user.min, 20.0)
  -- the default column names find userId and movieId by themselves
  T.eq(#rp.io.read_events(D .. "movielens-latest-small/ratings.csv"), 100836)
end)

T.case("ua.base then ua.test onto its maps", function()
  local opts = { header = false, value = 3, time = 4 }
  local base = rp.io.read_events(D .. "movielens-100k/ua.base", opts)
  T.eq(#base, 90570)
  T.eq(#base.users, 943)
  T.eq(#base.items, 1680)
  local train = base:to_matrix()
  opts.users, opts.items = base.users, base.items
  local test = rp.io.read_events(D .. "movielens-100k/ua.test", opts)
  T.eq(#test, 9430)
  T.ok(test.users == base.users and test.items == base.items)
  T.eq(#base.items, 1682) -- two items appear only in ua.test
  T.eq(test:stats().value_sum, 33833.0)
  local held = test:to_matrix()
  T.eq(held.ncols, 1682)
  T.eq(train.ncols, 1680) -- built before the map grew
  -- dropping unknown ids instead: the two rows with test-only items
  local b2 = rp.io.read_events(D .. "movielens-100k/ua.base", { header = false, value = 3 })
  local t2, rep = rp.io.read_events(D .. "movielens-100k/ua.test",
    { header = false, value = 3, users = b2.users, items = b2.items, unknown = "drop" })
  T.eq(rep.dropped_unknown, 2)
  T.eq(#t2, 9428)
  T.eq(#b2.items, 1680)
end)

T.done()
