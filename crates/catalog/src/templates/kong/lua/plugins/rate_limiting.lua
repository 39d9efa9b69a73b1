-- vers kong stand-in: Kong 3.4's `rate-limiting` plugin with the `local` policy: counters in
-- a shared memory zone per route, service, identifier and window (aligned to UTC like
-- Kong's), RateLimit-* and X-RateLimit-* headers, and 429 once a window is used up.

local json = require "vers_kong.json"
local response = require "vers_kong.response"

local M = {}

local shm = ngx.shared.vers_kong_rate_limiting

local EMPTY_UUID = "00000000-0000-0000-0000-000000000000"
local PERIODS = { "second", "minute", "hour", "day", "month", "year" }
local WINDOW = {
  second = 1, minute = 60, hour = 3600, day = 86400, month = 2592000, year = 31536000,
}
local LIMIT_HEADER, REMAINING_HEADER = {}, {}
for _, period in ipairs(PERIODS) do
  local suffix = period:sub(1, 1):upper() .. period:sub(2)
  LIMIT_HEADER[period] = "X-RateLimit-Limit-" .. suffix
  REMAINING_HEADER[period] = "X-RateLimit-Remaining-" .. suffix
end

-- Days since 1970-01-01 of a proleptic Gregorian date.
local function days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The start (seconds since the epoch, UTC) of each window containing `now`.
local function window_starts(now)
  local t = os.date("!*t", now)
  return {
    second = now,
    minute = now - now % 60,
    hour = now - now % 3600,
    day = now - now % 86400,
    month = days_from_civil(t.year, t.month, 1) * 86400,
    year = days_from_civil(t.year, 1, 1) * 86400,
  }
end

local function identifier(conf, ctx)
  local id
  local by = conf.limit_by
  if by == "service" then
    id = ctx.service and ctx.service.id
  elseif by == "consumer" then
    id = (ctx.consumer and ctx.consumer.id) or (ctx.credential and ctx.credential.id)
  elseif by == "credential" then
    id = ctx.credential and ctx.credential.id
  elseif by == "header" then
    id = ngx.req.get_headers()[conf.header_name]
    if type(id) == "table" then
      id = id[1]
    end
  elseif by == "path" then
    if ctx.request_path == conf.path then
      id = ctx.request_path
    end
  end
  return id or ngx.var.remote_addr
end

--- Counts the request, or answers 429 when a window is used up.
function M.access(conf, ctx, plugin)
  local now = ngx.time()
  local starts = window_starts(now)
  local id = identifier(conf, ctx)
  local route_id = json.present(plugin.route) and plugin.route.id or EMPTY_UUID
  local service_id = json.present(plugin.service) and plugin.service.id or EMPTY_UUID
  local usage, stop = {}, nil
  for _, period in ipairs(PERIODS) do
    local limit = conf[period]
    if limit then
      local key = string.format("ratelimit:%s:%s:%s:%d:%s",
        route_id, service_id, id, starts[period] * 1000, period)
      local remaining = limit - (shm:get(key) or 0)
      usage[#usage + 1] = { period = period, limit = limit, remaining = remaining, key = key }
      if remaining <= 0 then
        stop = period
      end
    end
  end

  local headers, reset
  if not conf.hide_client_headers then
    headers = {}
    local limit, window, remaining
    for _, u in ipairs(usage) do
      local left = u.remaining
      if stop == nil or stop == u.period then
        left = left - 1
      end
      left = math.max(0, left)
      local span = WINDOW[u.period]
      if not limit or left < remaining or (left == remaining and span > window) then
        limit, window, remaining = u.limit, span, left
        reset = math.max(1, span - (now - starts[u.period]))
      end
      headers[LIMIT_HEADER[u.period]] = u.limit
      headers[REMAINING_HEADER[u.period]] = left
    end
    headers["RateLimit-Limit"] = limit
    headers["RateLimit-Remaining"] = remaining
    headers["RateLimit-Reset"] = reset
  end

  if stop then
    headers = headers or {}
    headers["Retry-After"] = reset
    return response.error(math.floor(conf.error_code), conf.error_message, headers)
  end
  for name, value in pairs(headers or {}) do
    ngx.header[name] = value
  end
  for _, u in ipairs(usage) do
    local ok, err = shm:incr(u.key, 1, 0, WINDOW[u.period])
    if not ok then
      ngx.log(ngx.ERR, "could not increment counter for period '", u.period, "': ", err)
    end
  end
end

return M
