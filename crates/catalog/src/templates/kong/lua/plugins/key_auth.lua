-- vers kong stand-in: Kong 3.4's `key-auth` plugin. The key is looked for in headers, the
-- query string and (when enabled) JSON or form bodies under each of `key_names`; the
-- consumer owning it is sent upstream in X-Consumer-* headers.

local cjson = require "cjson.safe"
local json = require "vers_kong.json"
local gateway = require "vers_kong.gateway"
local response = require "vers_kong.response"

local M = {}

local REALM = 'Key realm="kong"'
local EMPTY = {}

local function read_body()
  ngx.req.read_body()
  local content_type = (ngx.var.content_type or ""):lower()
  if content_type:find("application/x-www-form-urlencoded", 1, true) then
    return ngx.req.get_post_args() or EMPTY, "form"
  end
  if content_type:find("application/json", 1, true) then
    local data = ngx.req.get_body_data()
    if not data then
      local path = ngx.req.get_body_file()
      local f = path and io.open(path, "rb")
      if f then
        data = f:read("*a")
        f:close()
      end
    end
    local decoded = data and cjson.decode(data)
    if type(decoded) == "table" then
      return decoded, "json"
    end
  end
  return EMPTY, nil
end

local function set_consumer(ctx, consumer, credential)
  ctx.consumer = consumer
  ctx.credential = credential
  local set, clear = ngx.req.set_header, ngx.req.clear_header
  local function header(name, value)
    if json.present(value) then
      set(name, value)
    else
      clear(name)
    end
  end
  header("X-Consumer-ID", consumer and consumer.id)
  header("X-Consumer-Custom-ID", consumer and consumer.custom_id)
  header("X-Consumer-Username", consumer and consumer.username)
  header("X-Credential-Identifier", credential and credential.id)
  if credential then
    clear("X-Anonymous-Consumer")
  else
    set("X-Anonymous-Consumer", "true")
  end
end

local function authenticate(conf, ctx)
  local headers = ngx.req.get_headers()
  local query = ngx.req.get_uri_args()
  local body, body_kind
  local key
  for _, name in ipairs(conf.key_names) do
    local v
    if conf.key_in_header then
      v = headers[name]
    end
    if v == nil and conf.key_in_query then
      v = query[name]
    end
    if v == nil and conf.key_in_body then
      if not body then
        body, body_kind = read_body()
      end
      v = body[name]
    end
    if type(v) == "string" then
      key = v
      if conf.hide_credentials then
        query[name] = nil
        ngx.req.set_uri_args(query)
        ngx.req.clear_header(name)
        if conf.key_in_body then
          if not body then
            body, body_kind = read_body()
          end
          if body_kind == "json" then
            body[name] = nil
            ngx.req.set_body_data(cjson.encode(body))
          elseif body_kind == "form" then
            body[name] = nil
            ngx.req.set_body_data(ngx.encode_args(body))
          end
        end
      end
      break
    elseif type(v) == "table" then
      return nil, "Duplicate API key found"
    end
  end
  if not key or key == "" then
    ngx.header["WWW-Authenticate"] = REALM
    return nil, "No API key found in request"
  end
  local credential = gateway.state.credentials_by_key[key]
  if not credential then
    return nil, "Invalid authentication credentials"
  end
  set_consumer(ctx, gateway.state.consumers_by_id[credential.consumer.id], credential)
  return true
end

--- Authenticates the request, or answers 401.
function M.access(conf, ctx)
  if not conf.run_on_preflight and ngx.req.get_method() == "OPTIONS" then
    return
  end
  if conf.anonymous and ctx.credential then
    return
  end
  local ok, message = authenticate(conf, ctx)
  if ok then
    return
  end
  if conf.anonymous then
    local st = gateway.state
    local consumer = st.consumers_by_id[conf.anonymous] or st.consumers_by_username[conf.anonymous]
    set_consumer(ctx, consumer, nil)
    return
  end
  return response.error(401, message)
end

return M
