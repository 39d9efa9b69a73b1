-- vers kong stand-in: upstream names resolved through the hosts file, where vers lists every
-- service of the environment. The file is read again at most once a second, so an address
-- vers changes reaches the gateway without a restart.

local M = {}

local file = "/etc/hosts"
local loaded_at = -1
local names = {}

local function is_ipv4(text)
  return text:match("^%d+%.%d+%.%d+%.%d+$") ~= nil
end

local function load()
  local map = {}
  local f = io.open(file, "r")
  if not f then
    return map
  end
  for line in f:lines() do
    line = line:gsub("#.*$", "")
    local address, rest = line:match("^%s*(%S+)%s+(.+)$")
    if address and is_ipv4(address) then
      for name in rest:gmatch("%S+") do
        name = name:lower()
        if not map[name] then
          map[name] = address
        end
      end
    end
  end
  f:close()
  return map
end

--- Uses `path` as the hosts file.
function M.use(path)
  file = path
  loaded_at = -1
end

--- The hosts file in use.
function M.file()
  return file
end

--- The IPv4 address of `host` (an address is its own), nil when the hosts file lacks it.
function M.resolve(host)
  if is_ipv4(host) then
    return host
  end
  local now = ngx.now()
  if now - loaded_at >= 1 then
    names = load()
    loaded_at = now
  end
  return names[host:lower()]
end

return M
