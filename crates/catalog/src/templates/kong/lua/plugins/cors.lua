-- vers kong stand-in: Kong 3.4's `cors` plugin. Preflight requests (OPTIONS with Origin and
-- Access-Control-Request-Method) are answered by the gateway with 200; other responses get
-- the Access-Control-* headers in the header filter.

local M = {}

local ACAO = "Access-Control-Allow-Origin"
local ALL_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"

local response = require "vers_kong.response"

-- Configured origins, compiled once per plugin config.
local compiled = setmetatable({}, { __mode = "k" })

local function parse_origin(origin)
  local scheme, host, port = origin:match("^(%a[%w+.-]*)://([^/:?#]+):?(%d*)")
  if not scheme then
    return { domain = origin, host = origin }
  end
  scheme = scheme:lower()
  if (scheme == "http" and port == "80") or (scheme == "https" and port == "443") then
    port = ""
  end
  return {
    domain = scheme .. "://" .. host .. (port ~= "" and (":" .. port) or ""),
    host = host,
  }
end

local function origins_of(conf)
  local list = compiled[conf]
  if list then
    return list
  end
  list = {}
  for _, entry in ipairs(conf.origins) do
    local domain
    if ngx.re.find(entry, "[^A-Za-z0-9.:/-]", "jo") then
      local pattern = entry
      if pattern:sub(-1) ~= "$" then
        pattern = pattern .. "$"
      end
      if pattern:sub(1, 1) == "^" then
        pattern = pattern:sub(2)
      end
      domain = { regex = pattern }
    else
      domain = parse_origin(entry)
    end
    domain.by_host = not entry:find(":", 1, true)
    list[#list + 1] = domain
  end
  compiled[conf] = list
  return list
end

local function add_vary(in_header_filter)
  local current = ngx.header["Vary"]
  if not in_header_filter or current == nil then
    ngx.header["Vary"] = "Origin"
  elseif type(current) == "table" then
    current[#current + 1] = "Origin"
    ngx.header["Vary"] = current
  else
    ngx.header["Vary"] = { current, "Origin" }
  end
end

-- Sets Access-Control-Allow-Origin; true when every origin is allowed (`*`).
local function configure_origin(conf, in_header_filter)
  local origins = conf.origins
  local n = origins and #origins or 0
  if n == 0 or (n == 1 and origins[1] == "*") then
    ngx.header[ACAO] = "*"
    return true
  end
  add_vary(in_header_filter)
  if n == 1 and ngx.re.find(origins[1], "^[A-Za-z0-9.:/-]+$", "jo") then
    ngx.header[ACAO] = origins[1]
    return false
  end
  local requested = ngx.var.http_origin
  if requested then
    local origin = parse_origin(requested)
    for _, domain in ipairs(origins_of(conf)) do
      local found
      if domain.regex then
        local subject = domain.by_host and origin.host or origin.domain
        local from, _, err = ngx.re.find(subject, domain.regex, "ajo")
        if err then
          ngx.log(ngx.ERR, "could not search for domain: ", err)
        end
        found = from ~= nil
      else
        found = origin.domain == domain.domain
      end
      if found then
        ngx.header[ACAO] = origin.domain
        return false
      end
    end
  end
  ngx.header[ACAO] = nil
  return false
end

local function configure_credentials(conf, allow_all, in_header_filter)
  if not conf.credentials then
    return
  end
  if not allow_all then
    ngx.header["Access-Control-Allow-Credentials"] = "true"
    return
  end
  local requested = ngx.var.http_origin
  if requested then
    add_vary(in_header_filter)
    ngx.header[ACAO] = requested
    ngx.header["Access-Control-Allow-Credentials"] = "true"
  end
end

--- Answers preflight requests.
function M.access(conf, ctx)
  if ngx.req.get_method() ~= "OPTIONS"
    or not ngx.var.http_origin
    or not ngx.var.http_access_control_request_method
  then
    return
  end
  ctx.cors_preflight = true
  if conf.preflight_continue then
    return
  end
  local allow_all = configure_origin(conf, false)
  configure_credentials(conf, allow_all, false)
  if conf.headers and #conf.headers > 0 then
    ngx.header["Access-Control-Allow-Headers"] = table.concat(conf.headers, ",")
  else
    ngx.header["Access-Control-Allow-Headers"] = ngx.var.http_access_control_request_headers
  end
  ngx.header["Access-Control-Allow-Methods"] = conf.methods and table.concat(conf.methods, ",")
    or ALL_METHODS
  if conf.max_age then
    ngx.header["Access-Control-Max-Age"] = tostring(conf.max_age)
  end
  return response.send(200, nil, nil)
end

--- Adds the CORS headers to every other response.
function M.header_filter(conf, ctx)
  if ctx.cors_preflight then
    return
  end
  local allow_all = configure_origin(conf, true)
  configure_credentials(conf, allow_all, true)
  if conf.exposed_headers and #conf.exposed_headers > 0 then
    ngx.header["Access-Control-Expose-Headers"] = table.concat(conf.exposed_headers, ",")
  end
end

return M
