-- recpipe.tune_tables (part of recpipe.tune): search results as CSV and
-- Markdown tables, and files written through a temporary name.
local M = {}

local function cell(v)
  if v == nil then return "" end
  if type(v) == "number" and math.type(v) ~= "integer" then return ("%.6g"):format(v) end
  return tostring(v)
end

local function csv_cell(v) return require("recpipe.csv").quote(cell(v)) end

-- M.csv(results, names, metrics) -> text (header + one line per result)
function M.csv(results, names, metrics)
  local head = { "rank" }
  for _, n in ipairs(names) do head[#head + 1] = n end
  for _, m in ipairs(metrics) do head[#head + 1] = m end
  head[#head + 1] = "train_seconds"
  head[#head + 1] = "seconds"
  local lines = { table.concat(head, ",") }
  for i, r in ipairs(results) do
    local row = { i }
    for _, n in ipairs(names) do row[#row + 1] = csv_cell(r.params[n]) end
    for _, m in ipairs(metrics) do row[#row + 1] = csv_cell(r.metrics[m]) end
    row[#row + 1] = csv_cell(r.train_seconds)
    row[#row + 1] = csv_cell(r.seconds)
    lines[#lines + 1] = table.concat(row, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- M.markdown(results, names, metrics) -> a Markdown table
function M.markdown(results, names, metrics)
  local head = { "#" }
  for _, n in ipairs(names) do head[#head + 1] = n end
  for _, m in ipairs(metrics) do head[#head + 1] = m end
  head[#head + 1] = "seconds"
  local lines = { "| " .. table.concat(head, " | ") .. " |",
                  "|" .. string.rep("---|", #head) }
  for i, r in ipairs(results) do
    local row = { tostring(i) }
    for _, n in ipairs(names) do row[#row + 1] = cell(r.params[n]) end
    for _, m in ipairs(metrics) do
      row[#row + 1] = r.metrics[m] and ("%.4f"):format(r.metrics[m]) or ""
    end
    row[#row + 1] = ("%.2f"):format(r.seconds or 0)
    lines[#lines + 1] = "| " .. table.concat(row, " | ") .. " |"
  end
  return table.concat(lines, "\n") .. "\n"
end

-- M.write(path, text): through a temporary file renamed into place
function M.write(path, text)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then os.execute(("mkdir -p '%s'"):format(dir:gsub("'", "'\\''"))) end
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
  return path
end

return M
