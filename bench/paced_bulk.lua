-- wrk script: bench/bulk.lua's requests, paced to BULK_RATE requests per second in all.
--
--   BULK_RATE=1000 wrk -t1 -c64 -d60s -s bench/paced_bulk.lua http://127.0.0.1:PORT -- email KEY IDS [TAG]
--
-- wrk runs a closed loop: each connection sends its next request once the last one is answered.
-- delay() holds each request back until its slot in one schedule shared by the thread's
-- connections (a slot every 1000 / BULK_RATE ms per thread, with -tN each thread takes
-- BULK_RATE / N), so the rate is BULK_RATE as long as the connections suffice (a slow answer
-- delays only its own connection); the achieved rate is in wrk's summary. The clock is
-- CLOCK_MONOTONIC through LuaJIT's FFI (wrk's Lua has no finer clock than os.time()).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "bulk.lua")

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
  int clock_gettime(int clock, paced_timespec* out);
]]
local timespec = ffi.new("paced_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local interval_ms
local next_slot_ms

local bulk_init = init
function init(args)
  bulk_init(args)
  local rate = tonumber(os.getenv("BULK_RATE") or "")
  if not rate or rate <= 0 then error("paced_bulk.lua: set BULK_RATE (requests per second)") end
  local threads = tonumber(os.getenv("BULK_THREADS") or "1")
  interval_ms = 1000 * threads / rate
end

function delay()
  local now = now_ms()
  if not next_slot_ms or next_slot_ms < now then next_slot_ms = now end
  local wait = next_slot_ms - now
  next_slot_ms = next_slot_ms + interval_ms
  return math.floor(wait)
end
