-- vers kong stand-in: Kong 3.4's router (traditional_compatible flavour) for HTTP routes.
-- Each path of a route is a candidate. Candidates are ordered as Kong orders them: routes
-- matching on more attributes (methods, hosts, paths) first, then routes with plain hosts,
-- then regex paths (by regex_priority), then longer prefixes, then configuration order.
-- A prefix path matches any request path starting with it; a `~` path is a regex anchored
-- at the start. The upstream path follows Kong's `path_handling = v0`.

local json = require "vers_kong.json"

local M = {}
M.__index = M

local present = json.present

local function count(list)
  return present(list) and #list or 0
end

local function host_matcher(host)
  local name, port = host:match("^(.-):(%d+)$")
  name = (name or host):lower()
  local matcher = { port = tonumber(port) }
  if name:sub(1, 1) == "*" then
    matcher.suffix = name:sub(2)
  elseif name:sub(-1) == "*" then
    matcher.prefix = name:sub(1, -2)
  else
    matcher.exact = name
  end
  return matcher
end

local function host_matches(matcher, host, port)
  if matcher.port and matcher.port ~= port then
    return false
  end
  if matcher.exact then
    return host == matcher.exact
  elseif matcher.suffix then
    return #host > #matcher.suffix and host:sub(-#matcher.suffix) == matcher.suffix
  end
  return #host > #matcher.prefix and host:sub(1, #matcher.prefix) == matcher.prefix
end

--- A router over `routes` (Admin API shapes); `services` maps service ids to services.
function M.new(routes, services)
  local candidates = {}
  for order, route in ipairs(routes) do
    local weight = 0
    local methods, hosts = nil, nil
    if count(route.methods) > 0 then
      weight = weight + 1
      methods = {}
      for _, m in ipairs(route.methods) do
        methods[m] = true
      end
    end
    local plain_hosts = false
    if count(route.hosts) > 0 then
      weight = weight + 1
      plain_hosts = true
      hosts = {}
      for _, h in ipairs(route.hosts) do
        if h:find("*", 1, true) then
          plain_hosts = false
        end
        hosts[#hosts + 1] = host_matcher(h)
      end
    end
    local base = {
      route = route,
      service = services[route.service.id],
      methods = methods,
      hosts = hosts,
      plain_hosts = plain_hosts,
      order = order,
    }
    local paths = count(route.paths) > 0 and route.paths or { false }
    if paths[1] then
      weight = weight + 1
    end
    for i, path in ipairs(paths) do
      local c = setmetatable({ path = path or nil, weight = weight, sub = i }, { __index = base })
      if path and path:sub(1, 1) == "~" then
        c.regex = "^" .. path:sub(2)
        c.regex_priority = route.regex_priority or 0
        c.length = 0
      else
        c.regex_priority = 0
        c.length = path and #path or 0
      end
      candidates[#candidates + 1] = c
    end
  end
  table.sort(candidates, function(a, b)
    if a.weight ~= b.weight then
      return a.weight > b.weight
    end
    if a.plain_hosts ~= b.plain_hosts then
      return a.plain_hosts
    end
    if (a.regex ~= nil) ~= (b.regex ~= nil) then
      return a.regex ~= nil
    end
    if a.regex_priority ~= b.regex_priority then
      return a.regex_priority > b.regex_priority
    end
    if a.length ~= b.length then
      return a.length > b.length
    end
    if a.order ~= b.order then
      return a.order < b.order
    end
    return a.sub < b.sub
  end)
  return setmetatable({ candidates = candidates }, M)
end

local function sanitize_postfix(postfix)
  if postfix == "." or postfix == ".." then
    return ""
  elseif postfix:sub(1, 2) == "./" then
    return postfix:sub(3)
  elseif postfix:sub(1, 3) == "../" then
    return postfix:sub(4)
  end
  return postfix
end

-- The upstream path for a request path `path`, the service path `base`, whether the route
-- strips, and the request path after the stripped prefix (`postfix`, without its slash when
-- nothing was stripped).
local function upstream_path(base, strip, postfix, path)
  local base_slash = base:sub(-1) == "/"
  if not strip then
    if base_slash then
      return base .. path:sub(2)
    elseif path == "/" then
      return base
    end
    return base .. path
  end
  if postfix == "" then
    if base_slash then
      if base == "/" then
        return "/"
      elseif path:sub(-1) == "/" then
        return base
      end
      return base:sub(1, -2)
    elseif #path > 1 and path:sub(-1) == "/" then
      return base .. "/"
    end
    return base
  end
  if postfix:sub(1, 1) == "/" then
    return (base_slash and base:sub(1, -2) or base) .. postfix
  end
  return base_slash and (base .. postfix) or (base .. "/" .. postfix)
end

--- The route for a request, or nil: `{route, service, prefix, upstream_uri}`. `host` is the
--- request host in lower case without its port, `path` the normalized request path.
function M:match(method, host, port, path)
  for _, c in ipairs(self.candidates) do
    local ok = (not c.methods or c.methods[method]) and true or false
    if ok and c.hosts then
      ok = false
      for _, matcher in ipairs(c.hosts) do
        if host_matches(matcher, host or "", port) then
          ok = true
          break
        end
      end
    end
    local matched
    if ok and c.path then
      if c.regex then
        local from, to = ngx.re.find(path, c.regex, "jo")
        if from == 1 then
          matched = path:sub(1, to)
        else
          ok = false
        end
      elseif path:sub(1, #c.path) == c.path then
        matched = c.path
      else
        ok = false
      end
    end
    if ok then
      local route, service = c.route, c.service
      local strip = route.strip_path ~= false
      local prefix = (strip and matched) or nil
      local postfix = prefix and path:sub(#prefix + 1) or path:sub(2)
      local base = present(service.path) and service.path or "/"
      return {
        route = route,
        service = service,
        prefix = prefix,
        upstream_uri = upstream_path(base, strip, sanitize_postfix(postfix), path),
      }
    end
  end
  return nil
end

return M
