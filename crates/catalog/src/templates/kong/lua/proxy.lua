-- vers kong stand-in: the proxy port. `access` routes the request, runs the plugins and
-- prepares the upstream request the way Kong 3.4 does (Host, X-Forwarded-*, X-Real-IP,
-- Connection); `balancer` picks the upstream address — a new connection for every request,
-- so that vers's balancer in front of a replicated service spreads requests over its
-- replicas; `header_filter` adds Kong's Via/Server and latency headers; `error_page` answers
-- nginx errors (a dead upstream) with Kong's bodies.

local balancer = require "ngx.balancer"
local gateway = require "vers_kong.gateway"
local hosts = require "vers_kong.hosts"
local response = require "vers_kong.response"
local uri = require "vers_kong.uri"

local M = {}

local DEFAULT_RETRIES = 5
local DEFAULT_TIMEOUT_MS = 60000

local ERROR_MESSAGES = {
  [400] = "Bad request",
  [404] = "Not found",
  [405] = "Method not allowed",
  [408] = "Request timeout",
  [411] = "Length required",
  [412] = "Precondition failed",
  [413] = "Payload too large",
  [414] = "URI too long",
  [417] = "Expectation failed",
  [494] = "Request header or cookie too large",
  [500] = "An unexpected error occurred",
  [502] = "An invalid response was received from the upstream server",
  [503] = "The upstream server is currently unavailable",
  [504] = "The upstream server is timing out",
}

local function millis(seconds)
  return math.floor(seconds * 1000 + 0.5)
end

--- Routes the request, runs the plugins' access phase, prepares the upstream request.
function M.access()
  local ctx = ngx.ctx
  local var = ngx.var
  local st = gateway.state
  local request_uri = var.request_uri
  local raw_path = request_uri:match("^[^?]*")
  ctx.request_path = raw_path
  local port = tonumber(var.server_port)
  local match = st.router:match(ngx.req.get_method(), var.host, port, uri.normalize(raw_path))
  if not match then
    return response.error(404, "no Route matched with those values")
  end
  local route, service = match.route, match.service
  ctx.route, ctx.service = route, service

  var.upstream_scheme = service.protocol
  var.upstream_uri = uri.escape(match.upstream_uri)
  local xff = var.http_x_forwarded_for
  var.upstream_x_forwarded_for = xff and (xff .. ", " .. var.remote_addr) or var.remote_addr
  var.upstream_x_forwarded_proto = var.scheme
  var.upstream_x_forwarded_host = var.host
  var.upstream_x_forwarded_port = var.server_port
  var.upstream_x_forwarded_path = raw_path
  if match.prefix and match.prefix ~= "/" then
    var.upstream_x_forwarded_prefix = match.prefix
  end
  local upgrade = var.http_upgrade
  if upgrade and upgrade:lower() == "websocket" then
    var.upstream_connection = "keep-alive, Upgrade"
    var.upstream_upgrade = "websocket"
  else
    var.upstream_connection = "keep-alive"
  end

  ctx.plugins = st.route_plugins[route.id]
  for _, plugin in ipairs(ctx.plugins) do
    if plugin.handler.access then
      plugin.handler.access(plugin.conf, ctx, plugin.entity)
    end
  end

  if request_uri:sub(-1) == "?" or var.is_args == "?" then
    var.upstream_uri = var.upstream_uri .. "?" .. (var.args or "")
  end

  local address = hosts.resolve(service.host)
  if not address then
    ngx.log(ngx.ERR, "name resolution failed: ", service.host, " is not in ", hosts.file())
    return response.error(503, "name resolution failed")
  end
  ctx.peer_address, ctx.peer_port = address, service.port

  if route.preserve_host then
    var.upstream_host = var.http_host or var.host
  else
    local default_port = service.protocol == "https" and 443 or 80
    var.upstream_host = service.port == default_port and service.host
      or (service.host .. ":" .. service.port)
  end

  -- Hop-by-hop request headers named in Connection stay with this hop.
  local connection = var.http_connection
  if connection then
    for token in connection:gmatch("[^,%s]+") do
      local name = token:lower()
      if name ~= "keep-alive" and name ~= "close" and name ~= "upgrade" then
        ngx.req.clear_header(name)
      end
    end
  end
  local te = var.http_te
  if te and te:lower():find("trailers", 1, true) then
    var.upstream_te = "trailers"
  end
  ngx.req.clear_header("Proxy")
  ngx.req.clear_header("Proxy-Connection")

  ngx.update_time()
  ctx.access_done = ngx.now()
  ctx.proxied = true
end

--- Points nginx at the upstream address, with the service's retries and timeouts.
function M.balancer()
  local ctx = ngx.ctx
  local service = ctx.service
  if not ctx.tries then
    ctx.tries = 1
    local retries = service.retries or DEFAULT_RETRIES
    if retries > 0 then
      balancer.set_more_tries(retries)
    end
    balancer.set_timeouts(
      (service.connect_timeout or DEFAULT_TIMEOUT_MS) / 1000,
      (service.write_timeout or DEFAULT_TIMEOUT_MS) / 1000,
      (service.read_timeout or DEFAULT_TIMEOUT_MS) / 1000)
  else
    ctx.tries = ctx.tries + 1
    local state, code = balancer.get_last_failure()
    ngx.log(ngx.WARN, "retrying ", service.name, " (try ", ctx.tries, ") after ",
      tostring(state), " ", tostring(code))
  end
  local ok, err = balancer.set_current_peer(ctx.peer_address, ctx.peer_port)
  if not ok then
    ngx.log(ngx.ERR, "could not set the upstream address: ", err)
    return ngx.exit(500)
  end
end

--- Runs the plugins' header filters and adds Kong's response headers.
function M.header_filter()
  local ctx = ngx.ctx
  for _, plugin in ipairs(ctx.plugins or {}) do
    if plugin.handler.header_filter then
      plugin.handler.header_filter(plugin.conf, ctx, plugin.entity)
    end
  end
  ngx.update_time()
  local now = ngx.now()
  if ctx.proxied and not ctx.exited then
    ngx.header["X-Kong-Upstream-Latency"] = millis(now - ctx.access_done)
    ngx.header["X-Kong-Proxy-Latency"] = millis(ctx.access_done - ngx.req.start_time())
    ngx.header["Via"] = response.SERVER
  else
    ngx.header["X-Kong-Response-Latency"] = millis(now - ngx.req.start_time())
    ngx.header["Server"] = response.SERVER
  end
end

--- Answers an error nginx raised (e.g. 502 from a dead upstream) with Kong's body, typed
--- by Accept, else Content-Type, else text/plain (Kong's `error_default_type`).
function M.error_page()
  local status = ngx.status
  local message = ERROR_MESSAGES[status]
    or string.format("The upstream server responded with %d", status)
  if status == 494 then
    status = 400
  end
  local headers = ngx.req.get_headers()
  local accept = headers["Accept"] or headers["Content-Type"] or "text/plain"
  local mime = response.negotiate(accept)
  return response.send(status, response.error_body(mime, message), { ["Content-Type"] = mime })
end

return M
