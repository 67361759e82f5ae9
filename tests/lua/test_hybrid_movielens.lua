-- rp.hybrid on the real MovieLens files (skipped when ../shared/data is
-- absent): reading u.item's genre flags, u.user's numbers into buckets,
-- movies.csv's multi-valued genres and tags.csv's one-line-per-tag layout,
-- with the counts the files imply; and a quick cold-start check on one fold.
local rp = require "recpipe"
local T = require "recpipe.test"

local ML = "../shared/data/movielens-100k"
local SMALL = "../shared/data/movielens-latest-small"
local f = io.open(ML .. "/u.item")
if not f then T.skip("../shared/data/movielens-100k is absent") end
f:close()

local GENRES = { "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western" }
local NAMES = { "movie_id", "title", "release", "video", "url" }
for _, g in ipairs(GENRES) do NAMES[#NAMES + 1] = g end

local ev = rp.io.read_events(ML .. "/u.data", { sep = "\t", header = false, user = 1, item = 2,
  value = 3, time = 4 })

T.case("MovieLens 100K: u.item genre flags and u.user buckets", function()
  local items, rep = rp.hybrid.attributes(ML .. "/u.item", { sep = "|", header = false,
    names = NAMES, id = "movie_id", map = ev.items, fields = { genre = { flags = GENRES } } })
  T.eq(rep.lines, 1682)
  T.eq(rep.entities, 1682)
  T.eq(rep.missing, 0)
  T.eq(rep.unknown, 0)
  T.eq(items.nfeatures, 19)
  -- Toy Story: Animation, Children's, Comedy
  T.same(items:attributes("1").genre, { "Animation", "Children's", "Comedy" })
  -- every movie has at least one genre flag set (unknown counts)
  local m = items:matrix()
  T.eq(m:nonempty(), 1682)
  local users, urep = rp.hybrid.attributes(ML .. "/u.user", { sep = "|", header = false,
    names = { "user_id", "age", "gender", "occupation", "zip" }, id = "user_id", map = ev.users,
    fields = { age = { buckets = { 18, 25, 35, 45, 56 } }, gender = true, occupation = true } })
  T.eq(urep.entities, 943)
  T.eq(users.nfeatures, 6 + 2 + 21)
  local a = users:attributes("1")
  T.same(a, { age = "[18,25)", gender = "M", occupation = "technician" })
end)

T.case("MovieLens latest-small: genres, title words and tags", function()
  local g = io.open(SMALL .. "/movies.csv")
  if not g then return end
  g:close()
  local sev = rp.io.read_events(SMALL .. "/ratings.csv", { user = "userId", item = "movieId",
    value = "rating", time = "timestamp" })
  local movies, rep = rp.hybrid.attributes(SMALL .. "/movies.csv", { id = "movieId",
    map = sev.items, fields = { genres = { sep = "|" }, title = { tokens = true } } })
  T.eq(rep.lines, 9742)
  T.eq(rep.unknown, 18)         -- movies nobody rated
  T.eq(rep.entities, 9724)
  T.eq(movies:attributes("1").genres[1], "Adventure")
  local tags, trep = rp.hybrid.attributes(SMALL .. "/tags.csv", { id = "movieId",
    map = sev.items, fields = { tag = { lower = true } }, tfidf = true, normalize = true,
    min_df = 2 })
  T.eq(trep.lines, 3683)
  T.ok(trep.entities > 1000 and trep.missing > 8000)
  T.ok(trep.dropped_features > 0)
  local both = rp.hybrid.combine { { movies, 1 }, { tags, 0.5 } }
  T.eq(both.nfeatures, movies.nfeatures + tags.nfeatures)
  T.same(both:fields(), { "genres", "title", "tag" })
end)

T.case("one cold-user fold: a blend beats popularity at reveal 5", function()
  local users = rp.hybrid.attributes(ML .. "/u.user", { sep = "|", header = false,
    names = { "user_id", "age", "gender", "occupation", "zip" }, id = "user_id", map = ev.users,
    fields = { age = { buckets = { 18, 25, 35, 45, 56 } }, gender = true } })
  local train, cases = rp.split.cold_users(ev, { folds = 5, fold = 2, reveal = { 5 }, seed = 42 })
  local tm = train:to_matrix():binarize()
  local known, test = cases[1].known:to_matrix(), cases[1].test:to_matrix()
  local pop = rp.baseline.popularity(tm)
  local seg = rp.hybrid.segment_popularity(train, users, { field = { "age", "gender" } })
  local knn = rp.hybrid.content(tm, rp.hybrid.interaction_features(tm), { binary = true })
  local chain = rp.hybrid.chain { { when = function(ctx) return ctx.n > 0 end,
    use = rp.hybrid.blend { { seg, 4 }, { knn, 2 }, { pop, 1 } } }, { use = pop } }
  local a = rp.metrics.evaluate(chain, known, test, { k = 10, metrics = { "ndcg" } })
  local b = rp.metrics.evaluate(pop, known, test, { k = 10, metrics = { "ndcg" } })
  T.eq(a.users, b.users)
  T.ok(a.ndcg > b.ndcg + 0.01, ("chain %.4f, popularity %.4f"):format(a.ndcg, b.ndcg))
end)

T.done()
