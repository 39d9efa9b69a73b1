-- vers kong stand-in: responses the gateway produces itself, in Kong 3.4's shapes: JSON
-- `{"message": ...}` bodies (HTML, plain text or XML when the client's Accept asks for it),
-- `Content-Length` set, and the request marked as answered by the gateway.

local json = require "vers_kong.json"

local M = {}

--- The Kong release whose behaviour the stand-in follows.
M.VERSION = "3.4.2"
--- Kong's `Server` / `Via` token.
M.SERVER = "kong/" .. M.VERSION

local MIME_JSON = "application/json; charset=utf-8"
local MIME_HTML = "text/html; charset=utf-8"
local MIME_PLAIN = "text/plain; charset=utf-8"
local MIME_XML = "application/xml; charset=utf-8"

M.MIME_JSON = MIME_JSON

local TEMPLATES = {
  [MIME_JSON] = '{\n  "message":%s\n}',
  [MIME_PLAIN] = "%s\n",
  [MIME_HTML] = '<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n'
    .. '    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n'
    .. '    <p>%s.</p>\n  </body>\n</html>\n',
  [MIME_XML] = '<?xml version="1.0" encoding="UTF-8"?>\n<error>\n'
    .. '  <message>%s</message>\n</error>\n',
}

local KNOWN = {
  ["application/json"] = MIME_JSON,
  ["text/html"] = MIME_HTML,
  ["text/plain"] = MIME_PLAIN,
  ["application/xml"] = MIME_XML,
  ["*/*"] = MIME_JSON,
  ["application/*"] = MIME_JSON,
  ["text/*"] = MIME_PLAIN,
}

--- The error body type for an `Accept` header: the best-quality media type Kong knows,
--- JSON for anything else.
function M.negotiate(accept)
  if type(accept) == "table" then
    accept = table.concat(accept, ",")
  end
  local chosen = MIME_JSON
  if not accept then
    return chosen
  end
  local best = 0
  for part in accept:gmatch("[^,]+") do
    local media = part:match("^%s*([^;%s]+)")
    if media and media:find("/", 1, true) then
      local q = tonumber(part:match(";%s*[qQ]%s*=%s*([%d.]+)") or "1") or 1
      if q > best then
        best = q
        chosen = KNOWN[media:lower()] or MIME_JSON
      end
    end
  end
  return chosen
end

--- Sends `status` with `body` (text or nil) and `headers`, ending the request.
function M.send(status, body, headers)
  ngx.ctx.exited = true
  ngx.status = status
  for name, value in pairs(headers or {}) do
    ngx.header[name] = value
  end
  ngx.header["Content-Length"] = body and #body or 0
  if body then
    ngx.print(body)
  end
  return ngx.exit(status)
end

--- Sends `status` with a JSON body (a table) or a text body.
function M.exit(status, body, headers)
  headers = headers or {}
  if type(body) == "table" then
    body = json.encode(body)
    headers["Content-Type"] = headers["Content-Type"] or MIME_JSON
  end
  return M.send(status, body, headers)
end

--- The body of an error `message` in the type `mime`.
function M.error_body(mime, message)
  local template = TEMPLATES[mime] or TEMPLATES[MIME_JSON]
  if template == TEMPLATES[MIME_JSON] then
    return template:format(json.quote(message))
  end
  return template:format(message)
end

--- Sends Kong's error response: `message` in the type the client accepts.
function M.error(status, message, headers)
  headers = headers or {}
  local mime = headers["Content-Type"] or M.negotiate(ngx.req.get_headers()["Accept"])
  headers["Content-Type"] = mime
  return M.send(status, M.error_body(mime, message), headers)
end

return M
