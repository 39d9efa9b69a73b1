-- vers kong stand-in: JSON encoding that keeps lists apart from maps (Debian's lua-cjson
-- has no array marker, so an empty list would come out as `{}`), with sorted keys.

local cjson = require "cjson.safe"

local M = {}

local LIST = {}

--- JSON null, as cjson decodes it.
M.null = cjson.null

--- Decodes a JSON text (nil and an error message on bad input).
M.decode = cjson.decode

--- Marks `t` (or a new table) as a list, so that it encodes as `[]` even when empty.
function M.list(t)
  return setmetatable(t or {}, LIST)
end

--- Whether `v` holds a value (neither nil nor JSON null).
function M.present(v)
  return v ~= nil and v ~= cjson.null
end

local ESCAPES = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function quote(s)
  local escaped = s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or string.format("\\u%04x", c:byte())
  end)
  return '"' .. escaped .. '"'
end

M.quote = quote

local function is_list(t)
  if getmetatable(t) == LIST then
    return true
  end
  local n = #t
  if n == 0 then
    return false
  end
  local count = 0
  for _ in pairs(t) do
    count = count + 1
  end
  return count == n
end

local function encode_into(v, out)
  local kind = type(v)
  if v == nil or v == cjson.null then
    out[#out + 1] = "null"
  elseif kind == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      out[#out + 1] = "null"
    elseif v == math.floor(v) and math.abs(v) < 1e15 then
      out[#out + 1] = string.format("%d", v)
    else
      out[#out + 1] = string.format("%.14g", v)
    end
  elseif kind == "string" then
    out[#out + 1] = quote(v)
  elseif kind == "table" then
    if is_list(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then
          out[#out + 1] = ","
        end
        encode_into(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        keys[#keys + 1] = k
      end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then
          out[#out + 1] = ","
        end
        out[#out + 1] = quote(tostring(k))
        out[#out + 1] = ":"
        encode_into(v[k], out)
      end
      out[#out + 1] = "}"
    end
  else
    out[#out + 1] = "null"
  end
end

--- Encodes `v` as JSON text.
function M.encode(v)
  local out = {}
  encode_into(v, out)
  return table.concat(out)
end

return M
