-- wrk script for examples/load/load.sh and bench.sh: GET /users/ with the "tenant" header
-- rotating over many tenants, so that the load spreads over tenant schemas the
-- way real traffic does (every connection switches schemas as it goes).
--
--   wrk -t2 -c20 -d10s --latency -s rotate.lua http://127.0.0.1:8080 -- <prefix> <count>
--
-- requests tenants <prefix>0001 .. <prefix><count>. At the end it prints one
-- machine-readable RESULT line (requests/s, latency percentiles in ms, errors).

local threads = {}
local id_seq = 0

-- setup runs in the main thread, once per wrk thread, before init.
function setup(thread)
  id_seq = id_seq + 1
  thread:set("id", id_seq)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state).
local prefix, count = "load_", 100
local tenants = {}
local n = 0
non2xx = 0 -- global, so that done() can read it with thread:get

function init(args)
  prefix = args[1] or prefix
  count = tonumber(args[2] or count)
  for i = 1, count do
    tenants[i] = string.format("%s%04d", prefix, i)
  end
  -- Threads start at different tenants.
  n = ((id or 1) * 7919) % count
end

function request()
  n = n % count + 1
  return wrk.format("GET", "/users/", { ["Tenant"] = tenants[n] })
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d " ..
    "socket_errors=%d timeouts=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, bad, e.connect + e.read + e.write, e.timeout))
end
