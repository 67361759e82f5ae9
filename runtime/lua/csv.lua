-- recpipe.csv: the CSV text every pipeline writes, quoted as RFC 4180 says
-- (a field holding a comma, a double quote, CR or LF goes in double quotes,
-- its quotes doubled; records end in LF), and a reader for such text.
--
--   local csv = require "recpipe.csv"
--   local text = csv.text({ "model", "ndcg" }, { { "a,b", 0.25 }, { 'say "hi"', 0.5 } })
--   local rows = csv.parse(text)   -- { {"model", "ndcg"}, {"a,b", "0.25"}, ... }
local M = {}

-- the shortest decimal that reads back to the same double
local function number(v)
  if math.type(v) == "integer" then return tostring(v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  for digits = 15, 17 do
    local s = ("%." .. digits .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
end

-- M.quote(s): s as one field (quoted when it must be)
function M.quote(s)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- M.field(v): a value as one field: nil is empty, numbers the shortest
-- decimal that reads back exactly, anything else its tostring
function M.field(v)
  if v == nil then return "" end
  return M.quote(type(v) == "number" and number(v) or tostring(v))
end

-- M.row(cells[, n]): one record (no line end) of cells[1..n] (n defaults
-- to #cells; pass it when cells may hold nils)
function M.row(cells, n)
  local out = {}
  for i = 1, n or #cells do out[i] = M.field(cells[i]) end
  return table.concat(out, ",")
end

-- M.text(header, rows): the header record and one record per row, each
-- ending in LF (rows: lists of cells; header: a list of names)
function M.text(header, rows)
  local out = { M.row(header) }
  for _, r in ipairs(rows) do out[#out + 1] = M.row(r, #header) end
  return table.concat(out, "\n") .. "\n"
end

-- M.parse(text) -> list of records, each a list of strings (RFC 4180:
-- quoted fields may hold commas, doubled quotes and line breaks; CRLF or
-- LF ends a record).  A malformed field is an error naming the record.
function M.parse(text)
  local rows, row, pos, n, rec = {}, {}, 1, #text, 1
  while pos <= n do
    local c = text:sub(pos, pos)
    local field
    if c == '"' then
      local parts, p = {}, pos + 1
      while true do
        local q = text:find('"', p, true)
        if not q then error(("csv: record %d: unterminated quoted field"):format(rec), 2) end
        parts[#parts + 1] = text:sub(p, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          parts[#parts + 1] = '"'
          p = q + 2
        else
          pos = q + 1
          break
        end
      end
      field = table.concat(parts)
      local nx = text:sub(pos, pos)
      if nx ~= "," and nx ~= "\n" and nx ~= "\r" and nx ~= "" then
        error(("csv: record %d: text after a closing quote"):format(rec), 2)
      end
    else
      local e = text:find("[,\r\n]", pos) or n + 1
      field = text:sub(pos, e - 1)
      if field:find('"', 1, true) then
        error(("csv: record %d: a quote inside an unquoted field"):format(rec), 2)
      end
      pos = e
    end
    row[#row + 1] = field
    local d = text:sub(pos, pos)
    if d == "," then
      pos = pos + 1
      if pos > n then row[#row + 1] = "" end
    else
      if d == "\r" and text:sub(pos + 1, pos + 1) == "\n" then pos = pos + 1 end
      pos = pos + 1
      rows[#rows + 1] = row
      row, rec = {}, rec + 1
    end
  end
  if #row > 0 then rows[#rows + 1] = row end
  return rows
end

return M
