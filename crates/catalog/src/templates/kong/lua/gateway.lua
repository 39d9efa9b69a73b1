-- vers kong stand-in: the gateway's state, loaded once in the nginx master from the JSON file
-- vers writes at launch (Kong's entities in Admin API shapes, plus node facts), with lookup
-- tables for the router, the plugins and key-auth.

local json = require "vers_kong.json"
local router = require "vers_kong.router"
local hosts = require "vers_kong.hosts"

local M = {}

local HANDLERS = {
  ["cors"] = { module = "vers_kong.plugins.cors", priority = 2000 },
  ["key-auth"] = { module = "vers_kong.plugins.key_auth", priority = 1250 },
  ["rate-limiting"] = { module = "vers_kong.plugins.rate_limiting", priority = 910 },
}

--- The plugins the stand-in runs: name → priority.
M.PRIORITIES = {}
for name, h in pairs(HANDLERS) do
  M.PRIORITIES[name] = h.priority
end

-- A plugin config without JSON nulls, so unset fields read as nil.
local function without_nulls(config)
  local out = {}
  for k, v in pairs(config) do
    if json.present(v) then
      out[k] = v
    end
  end
  return out
end

local function by_id(list)
  local map = {}
  for _, e in ipairs(list) do
    map[e.id] = e
  end
  return map
end

local function sorted_plugins(chosen)
  local list = {}
  for _, entry in pairs(chosen) do
    list[#list + 1] = entry
  end
  table.sort(list, function(a, b) return a.priority > b.priority end)
  return list
end

--- Loads the gateway from `path`; errors stop nginx from starting.
function M.init(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local doc = assert(json.decode(text))
  local e = doc.entities
  local st = {
    doc = doc,
    entities = e,
    configuration_hash = ngx.md5(text),
    services_by_id = by_id(e.services),
    routes_by_id = by_id(e.routes),
    consumers_by_id = by_id(e.consumers),
    consumers_by_username = {},
    credentials_by_key = {},
    route_plugins = {},
  }
  for _, c in ipairs(e.consumers) do
    if json.present(c.username) then
      st.consumers_by_username[c.username] = c
    end
  end
  for _, cred in ipairs(e.keyauth_credentials) do
    st.credentials_by_key[cred.key] = cred
  end
  local global, by_route, by_service = {}, {}, {}
  for _, p in ipairs(e.plugins) do
    local handler = HANDLERS[p.name]
    if not handler then
      error("plugin " .. p.name .. " is not available in the vers kong stand-in")
    end
    if p.enabled then
      local entry = {
        name = p.name,
        priority = handler.priority,
        conf = without_nulls(p.config),
        entity = p,
        handler = require(handler.module),
      }
      if json.present(p.route) then
        by_route[p.route.id] = by_route[p.route.id] or {}
        by_route[p.route.id][p.name] = entry
      elseif json.present(p.service) then
        by_service[p.service.id] = by_service[p.service.id] or {}
        by_service[p.service.id][p.name] = entry
      else
        global[p.name] = entry
      end
    end
  end
  -- A route's plugins: route-level over service-level over global, by name.
  for _, route in ipairs(e.routes) do
    local chosen = {}
    for name, entry in pairs(global) do
      chosen[name] = entry
    end
    for name, entry in pairs(by_service[route.service.id] or {}) do
      chosen[name] = entry
    end
    for name, entry in pairs(by_route[route.id] or {}) do
      chosen[name] = entry
    end
    st.route_plugins[route.id] = sorted_plugins(chosen)
  end
  st.router = router.new(e.routes, st.services_by_id)
  hosts.use(doc.hosts_file or "/etc/hosts")
  M.state = st
end

return M
