-- wrk script: POST JSON bodies (one per line of the file in args[1]) to /v1/screen in turn, stop after
-- args[2] responses per thread (0: no limit; wrk's -d bounds the duration), print one JSON summary line.
local bodies = {}
local next_body = 0
local limit = 0
local responses = 0

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  limit = tonumber(args[2]) or 0
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/v1/screen", {["Content-Type"] = "application/json"}, bodies[next_body])
end

function response(status, headers, body)
  responses = responses + 1
  if limit > 0 and responses >= limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
