-- wrk script of benchmarks/bench_webhook.py: every request is a pre-signed POST read from a file, none sent twice.
--
--   wrk -t2 -c32 -d10s --timeout 60s -s benchmarks/webhook_posts.lua URL -- PREFIX
--
-- Thread i (0-based) reads PREFIX.i: one request per line, "webhook-id<TAB>webhook-timestamp<TAB>signature<TAB>body".
-- The bench splits the posts so that all events of one item are in one thread's file, in order. A thread that has
-- sent its whole file starts it again (its events are then duplicates: counted as `wrapped`).
-- Each answer's results ("applied", "duplicate", ...) are counted; `done` prints one line "WRK_RESULT {json}".

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local reqs = {}
local pos = 0
counts = {}
non200 = 0
wrapped = 0
answers = 0

function init(args)
  local file = args[1] .. "." .. id
  for line in io.lines(file) do
    local msg_id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {["webhook-id"] = msg_id, ["webhook-timestamp"] = ts, ["webhook-signature"] = sig,
                     ["Content-Type"] = "application/json"}
    reqs[#reqs + 1] = wrk.format("POST", wrk.path, headers, body)
  end
  if #reqs == 0 then
    error("no requests in " .. file)
  end
end

function request()
  pos = pos + 1
  if pos > #reqs then
    pos = 1
    wrapped = wrapped + 1
  end
  return reqs[pos]
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= 200 then
    non200 = non200 + 1
    return
  end
  for result in body:gmatch('"result":%s*"(%a+)"') do
    counts[result] = (counts[result] or 0) + 1
  end
end

function done(summary, latency, requests)
  local totals = {}
  local bad, wraps, got = 0, 0, 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("counts")) do
      totals[k] = (totals[k] or 0) + v
    end
    bad = bad + thread:get("non200")
    wraps = wraps + thread:get("wrapped")
    got = got + thread:get("answers")
  end
  local parts = {}
  for k, v in pairs(totals) do
    parts[#parts + 1] = string.format('"%s": %d', k, v)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "answers": %d, "duration_us": %d, "non200": %d, "wrapped": %d, ' ..
    '"socket_errors": %d, "results": {%s}, "latency_ms": {"p50": %.2f, "p90": %.2f, "p99": %.2f, "max": %.2f}}\n',
    summary.requests, got, summary.duration, bad, wraps, e.connect + e.read + e.write + e.timeout,
    table.concat(parts, ", "), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
