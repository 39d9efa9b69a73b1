-- vers kong stand-in: Kong 3.4's Admin API, read-only as in DB-less mode: node information
-- (`GET /`), `GET /status`, and the configured services, routes, plugins, consumers and
-- key-auth credentials in Kong's JSON shapes. Writes answer 405 as DB-less Kong does.

local json = require "vers_kong.json"
local gateway = require "vers_kong.gateway"
local response = require "vers_kong.response"
local process = require "ngx.process"

local M = {}

local PAGE_SIZE = 100

local function send(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = response.MIME_JSON
  ngx.header["Access-Control-Allow-Origin"] = "*"
  ngx.header["Server"] = response.SERVER
  ngx.update_time()
  ngx.header["X-Kong-Admin-Latency"] =
    math.floor((ngx.now() - ngx.req.start_time()) * 1000 + 0.5)
  local text = json.encode(body)
  ngx.header["Content-Length"] = #text
  ngx.print(text)
  return ngx.exit(ngx.OK)
end

local function not_found()
  return send(404, { message = "Not found" })
end

local function mib(bytes)
  return string.format("%.2f MiB", bytes / 1048576)
end

local function server_statistics()
  local res = ngx.location.capture("/vers_kong_nginx_status")
  local body = res and res.status == 200 and res.body or ""
  local active = tonumber(body:match("Active connections:%s*(%d+)")) or 0
  local accepted, handled, requests = body:match("\n%s*(%d+)%s+(%d+)%s+(%d+)")
  return {
    connections_active = active,
    connections_accepted = tonumber(accepted) or 0,
    connections_handled = tonumber(handled) or 0,
    total_requests = tonumber(requests) or 0,
    connections_reading = tonumber(body:match("Reading:%s*(%d+)")) or 0,
    connections_writing = tonumber(body:match("Writing:%s*(%d+)")) or 0,
    connections_waiting = tonumber(body:match("Waiting:%s*(%d+)")) or 0,
  }
end

local function status()
  local dicts = {}
  for name, dict in pairs(ngx.shared) do
    local capacity = dict:capacity()
    dicts[name] = {
      capacity = mib(capacity),
      allocated_slabs = mib(capacity - dict:free_space()),
    }
  end
  return send(200, {
    memory = {
      workers_lua_vms = json.list({
        { pid = ngx.worker.pid(), http_allocated_gc = mib(collectgarbage("count") * 1024) },
      }),
      lua_shared_dicts = dicts,
    },
    server = server_statistics(),
    configuration_hash = gateway.state.configuration_hash,
  })
end

local function node_info()
  local st = gateway.state
  local available = {}
  for name, priority in pairs(gateway.PRIORITIES) do
    available[name] = { version = response.VERSION, priority = priority }
  end
  local enabled, seen = json.list(), {}
  for _, p in ipairs(st.entities.plugins) do
    if not seen[p.name] then
      seen[p.name] = true
      enabled[#enabled + 1] = p.name
    end
  end
  return send(200, {
    tagline = "Welcome to kong",
    version = response.VERSION,
    hostname = st.doc.hostname,
    node_id = st.doc.node_id,
    timers = { running = ngx.timer.running_count(), pending = ngx.timer.pending_count() },
    plugins = { available_on_server = available, enabled_in_cluster = enabled },
    lua_version = jit and jit.version or _VERSION,
    configuration = st.doc.configuration,
    pids = { master = process.get_master_pid(), workers = json.list({ ngx.worker.pid() }) },
  })
end

-- A page of `list` (Kong's `size` and `offset` query arguments), as `{data, next, offset}`.
local function page(list, path)
  local args = ngx.req.get_uri_args()
  local size = tonumber(args.size) or PAGE_SIZE
  if size < 1 or size > 1000 then
    return send(400, {
      code = 2,
      name = "schema violation",
      message = "schema violation (size: must be a number between 1 and 1000)",
      fields = { size = "must be a number between 1 and 1000" },
    })
  end
  local start = 1
  if args.offset then
    start = tonumber(ngx.decode_base64(args.offset) or "")
    if not start or start < 1 then
      return send(400, {
        code = 7,
        name = "invalid offset",
        message = "'" .. tostring(args.offset) .. "' is not a valid offset: bad base64 encoding",
      })
    end
  end
  local data = json.list()
  for i = start, math.min(#list, start + size - 1) do
    data[#data + 1] = list[i]
  end
  local body = { data = data, next = json.null }
  if start + size <= #list then
    local offset = ngx.encode_base64(tostring(start + size))
    body.offset = offset
    body.next = path .. "?offset=" .. ngx.escape_uri(offset) .. "&size=" .. size
  end
  return send(200, body)
end

local function filter(list, keep)
  local out = {}
  for _, e in ipairs(list) do
    if keep(e) then
      out[#out + 1] = e
    end
  end
  return out
end

-- Entity collections: their list and how an entity is named in a URL besides its id.
local COLLECTIONS = {
  services = { list = "services", schema = "services", key = "name" },
  routes = { list = "routes", schema = "routes", key = "name" },
  plugins = { list = "plugins", schema = "plugins" },
  consumers = { list = "consumers", schema = "consumers", key = "username" },
  ["key-auths"] = { list = "keyauth_credentials", schema = "keyauth_credentials", key = "key" },
}

local function find(collection, ref)
  local c = COLLECTIONS[collection]
  for _, e in ipairs(gateway.state.entities[c.list]) do
    if e.id == ref or (c.key and e[c.key] == ref) then
      return e
    end
  end
  return nil
end

local function refers(entity, field, id)
  return json.present(entity[field]) and entity[field].id == id
end

local OPERATIONS = {
  POST = "create", PUT = "create or update", PATCH = "update", DELETE = "remove",
}

local function get(segments, path)
  local st = gateway.state
  local e = st.entities
  local n = #segments
  if n == 0 then
    return node_info()
  end
  local first = segments[1]
  if n == 1 and first == "status" then
    return status()
  end
  if n == 2 and first == "plugins" and segments[2] == "enabled" then
    local names = json.list()
    for name in pairs(gateway.PRIORITIES) do
      names[#names + 1] = name
    end
    table.sort(names)
    return send(200, { enabled_plugins = names })
  end
  local c = COLLECTIONS[first]
  if not c then
    return not_found()
  end
  if n == 1 then
    return page(e[c.list], path)
  end
  local entity = find(first, segments[2])
  if not entity then
    return not_found()
  end
  if n == 2 then
    return send(200, entity)
  end
  if n ~= 3 then
    return not_found()
  end
  local sub = segments[3]
  if first == "services" and sub == "routes" then
    return page(filter(e.routes, function(r) return refers(r, "service", entity.id) end), path)
  elseif (first == "services" or first == "routes" or first == "consumers") and sub == "plugins" then
    local field = first:sub(1, -2)
    return page(filter(e.plugins, function(p) return refers(p, field, entity.id) end), path)
  elseif first == "routes" and sub == "service" then
    return send(200, st.services_by_id[entity.service.id])
  elseif first == "consumers" and sub == "key-auth" then
    return page(filter(e.keyauth_credentials, function(k)
      return refers(k, "consumer", entity.id)
    end), path)
  elseif first == "key-auths" and sub == "consumer" then
    return send(200, st.consumers_by_id[entity.consumer.id])
  end
  return not_found()
end

--- Serves one Admin API request.
function M.handle()
  local path = ngx.var.uri
  local segments = {}
  for segment in path:gmatch("[^/]+") do
    segments[#segments + 1] = ngx.unescape_uri(segment)
  end
  local method = ngx.req.get_method()
  if method == "GET" or method == "HEAD" then
    return get(segments, path)
  end
  if method == "OPTIONS" then
    ngx.header["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    ngx.header["Server"] = response.SERVER
    ngx.status = 204
    return ngx.exit(204)
  end
  local c = COLLECTIONS[segments[1] or ""]
  if c and OPERATIONS[method] then
    return send(405, {
      code = 12,
      name = "operation unsupported",
      message = string.format("cannot %s '%s' entities when not using a database",
        OPERATIONS[method], c.schema),
    })
  end
  return send(405, { message = "Method not allowed" })
end

return M
