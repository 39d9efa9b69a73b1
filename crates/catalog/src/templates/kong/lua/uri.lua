-- vers kong stand-in: request paths as Kong's router sees them (percent-decoding where it
-- does not change meaning, dot segments removed, repeated slashes merged) and escaped again
-- for the upstream request.

local M = {}

-- Reserved characters keep their percent-encoding: decoding them would change the path.
local RESERVED = {}
for c in ("!*'();:@&=+$,/?%#[]"):gmatch(".") do
  RESERVED[c:byte()] = true
end

local function remove_dot_segments(path)
  local segments = {}
  for segment in (path:sub(2) .. "/"):gmatch("([^/]*)/") do
    segments[#segments + 1] = segment
  end
  local out = {}
  local n = #segments
  for i, segment in ipairs(segments) do
    if segment == "." then
      if i == n then
        out[#out + 1] = ""
      end
    elseif segment == ".." then
      if #out > 0 then
        out[#out] = nil
      end
      if i == n then
        out[#out + 1] = ""
      end
    else
      out[#out + 1] = segment
    end
  end
  return "/" .. table.concat(out, "/")
end

--- The normalized form of `path` (which starts with `/`).
function M.normalize(path)
  if path == "" or path == "/" then
    return path
  end
  if path:find("%", 1, true) then
    path = path:gsub("%%(%x%x)", function(hex)
      local byte = tonumber(hex, 16)
      if RESERVED[byte] then
        return "%" .. hex:upper()
      end
      return string.char(byte)
    end)
  end
  if path:find("//", 1, true) then
    path = path:gsub("//+", "/")
  end
  if path:find(".", 1, true) then
    path = remove_dot_segments(path)
  end
  return path
end

--- `path` with every character that may not appear raw in a request line percent-encoded.
function M.escape(path)
  local escaped = path:gsub("[^%w!#%$&'%(%)%*%+,/:;=%?@%[%]%-_%.~%%]", function(c)
    return string.format("%%%02X", c:byte())
  end)
  return escaped
end

return M
