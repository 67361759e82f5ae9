-- recpipe.csv: RFC 4180 quoting and reading, checked against rp.io's C
-- reader (an independent parser of the same text) and by hand.
local rp = require "recpipe"
local csv = require "recpipe.csv"
local T = require "recpipe.test"

local dir = T.tmpdir()

T.case("fields quoted when they must be", function()
  T.eq(csv.field("plain"), "plain")
  T.eq(csv.field("a,b"), '"a,b"')
  T.eq(csv.field('say "hi"'), '"say ""hi"""')
  T.eq(csv.field("two\nlines"), '"two\nlines"')
  T.eq(csv.field("cr\r"), '"cr\r"')
  T.eq(csv.field(nil), "")
  T.eq(csv.field(42), "42")
  T.eq(csv.field(0.1), "0.1")
  T.eq(csv.field(1 / 3), "0.3333333333333333")
  T.eq(tonumber(csv.field(2 / 3)), 2 / 3)
  T.eq(csv.field(true), "true")
  T.eq(csv.row({ "a", nil, 3 }, 3), "a,,3")
  T.eq(csv.text({ "x", "y" }, { { "a,b", 1 }, { 'q"', 0.5 } }), 'x,y\n"a,b",1\n"q""",0.5\n')
end)

T.case("parse reads back what text wrote", function()
  local rows = { { "a,b", "1" }, { 'say "hi"', "" }, { "two\nlines", "x" }, { "", "" } }
  local back = csv.parse(csv.text({ "name", "v" }, rows))
  T.same(back, { { "name", "v" }, table.unpack(rows) })
  T.same(csv.parse('a,"b\r\nc"\r\n1,2\r\n'), { { "a", "b\r\nc" }, { "1", "2" } })
  T.same(csv.parse("a,b\n1,"), { { "a", "b" }, { "1", "" } })
  T.errors(function() csv.parse('a,"b\n') end, "csv: record 1: unterminated quoted field")
  T.errors(function() csv.parse('a,b\nx"y,1\n') end, "csv: record 2: a quote inside an unquoted field")
  T.errors(function() csv.parse('"a"b\n') end, "csv: record 1: text after a closing quote")
end)

T.case("the C reader reads the same fields", function()
  local names = { "a,b", 'say "hi"', "plain", "comma, and \"quote\"" }
  local rows = {}
  for i, n in ipairs(names) do rows[i] = { n, "i" .. i, i / 4 } end
  local p = T.write(dir .. "/q.csv", csv.text({ "user", "item", "value" }, rows))
  local ev = rp.io.read_events(p, { value = "value" })
  T.eq(#ev, #names)
  for i, n in ipairs(names) do
    local r = ev:row(i)
    T.eq(r.user, n)
    T.eq(r.item, "i" .. i)
    T.eq(r.value, i / 4)
  end
end)

T.done()
