-- wrk script for bench/lists: walks one member list in cursor pages (limit 40), starting over at
-- the end, or (mode "page") asks for the page form's first page again and again. Arguments after
-- `--`: path, API key, mode ("cursor" or "page"). Every response must be 200; failures are
-- counted and printed at the end, and bench/lists fails the run if there are any.
local path, mode
local cursor = nil
local failed = 0

function init(args)
  path = args[1]
  wrk.headers["x-api-key"] = args[2]
  mode = args[3] or "cursor"
end

function request()
  if mode == "page" then return wrk.format("GET", path .. "?page_size=40") end
  if cursor then return wrk.format("GET", path .. "?limit=40&starting_after=" .. cursor) end
  return wrk.format("GET", path .. "?limit=40")
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
    cursor = nil
    return
  end
  if mode == "cursor" then
    local last = nil
    if body:find('"has_more":true', 1, true) then
      for id in body:gmatch('"user_id":"([0-9a-f%-]+)"') do last = id end
    end
    cursor = last
  end
end

function done(summary, latency, requests)
  io.write(string.format("LISTS requests=%d failed=%d\n", summary.requests, failed + summary.errors.status))
end
