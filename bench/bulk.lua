-- wrk script: POST /api/v1/invites/bulk with 50 website ids and a fresh email per request.
--
--   wrk -t1 -c64 -d20s --latency -s bench/bulk.lua http://127.0.0.1:PORT -- MODE KEY IDS [TAG]
--
--   MODE  direct | email                       (or env BULK_MODE)
--   KEY   the organization's API key           (or env BULK_KEY)
--   IDS   website ids, comma-separated         (or env BULK_IDS)
--   TAG   optional label put into the emails   (or env BULK_TAG)
--
-- Emails are b-<run nonce>-<tag>-<thread>-<n>@bench.example: unique across threads (thread id set
-- in setup()), across requests (a counter) and across runs on one database (the nonce).
--
-- Every response is checked: a status other than 200, or a 200 whose body reports a target that
-- was not added / invited ("success":false), counts as a failure. done() prints the totals, a few
-- failing responses, one machine-readable line starting with "BULK", and exits 1 if anything
-- failed (including socket errors and timeouts).

local threads = {}
local next_id = 0
local run_nonce

function setup(thread)
  if not run_nonce then
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
    run_nonce = string.format("%x%04x", os.time(), math.random(0, 0xffff))
  end
  thread:set("thread_id", next_id)
  thread:set("nonce", run_nonce)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local prefix, suffix, headers
local counter = 0
-- Per-thread globals, read by done() through thread:get() (thread_id and nonce come from setup).
mode = nil
ok = 0
non200 = 0
partial = 0
samples = ""
local sample_count = 0

function init(args)
  mode = args[1] or os.getenv("BULK_MODE") or "direct"
  local key = args[2] or os.getenv("BULK_KEY")
  local ids = args[3] or os.getenv("BULK_IDS")
  local tag = args[4] or os.getenv("BULK_TAG") or "run"
  if mode ~= "direct" and mode ~= "email" then
    error("bulk.lua: mode must be direct or email, got " .. tostring(mode))
  end
  if not key or key == "" then error("bulk.lua: no API key (arg 2 or BULK_KEY)") end
  if not ids or ids == "" then error("bulk.lua: no website ids (arg 3 or BULK_IDS)") end
  local quoted = {}
  for id in string.gmatch(ids, "[^,%s]+") do table.insert(quoted, '"' .. id .. '"') end
  prefix = '{"invite_method":"' .. mode .. '","email":"b-' .. nonce .. '-' .. tag .. '-' ..
           thread_id .. '-'
  suffix = '@bench.example","website_ids":[' .. table.concat(quoted, ",") .. ']}'
  headers = { ["Content-Type"] = "application/json", ["x-api-key"] = key }
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/api/v1/invites/bulk", headers, prefix .. counter .. suffix)
end

local function keep_sample(status, body)
  if sample_count < 3 then
    sample_count = sample_count + 1
    samples = samples .. "  HTTP " .. status .. ": " .. string.sub(body or "", 1, 300) .. "\n"
  end
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    keep_sample(status, body)
  elseif string.find(body, '"success":false', 1, true) then
    partial = partial + 1
    keep_sample(status, body)
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local good, bad_status, bad_body, text = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    good = good + thread:get("ok")
    bad_status = bad_status + thread:get("non200")
    bad_body = bad_body + thread:get("partial")
    text = text .. thread:get("samples")
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BULK mode=%s requests=%d ok=%d non200=%d partial=%d socket_errors=%d seconds=%.3f " ..
    "rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    threads[1] and threads[1]:get("mode") or "?", summary.requests, good, bad_status, bad_body, socket, seconds,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  if bad_status + bad_body + socket > 0 or good == 0 then
    io.write(string.format(
      "\n!!!! BENCHMARK FAILED: %d non-200 responses, %d responses with a failed target, " ..
      "%d socket errors (connect %d, read %d, write %d, timeout %d), %d good responses !!!!\n",
      bad_status, bad_body, socket, e.connect, e.read, e.write, e.timeout, good))
    if text ~= "" then io.write("first failing responses:\n" .. text) end
    io.stdout:flush()
    os.exit(1)
  end
end
