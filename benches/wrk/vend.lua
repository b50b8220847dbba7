-- wrk script for the warm path: POST /v1/credentials, cycling through the bearer tokens in
-- the file named by the first script argument (one per line), each thread from its own offset.
-- Optional second and third arguments replace the method and path: `GET /healthz` gives the
-- floor for the very same requests (same headers, same bytes, same work for wrk). An optional
-- fourth is a JSON body (e.g. `{"access":"team-read-write"}`).
-- Prints one machine-readable line at the end (latencies in microseconds).
local reqs = {}
local i = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local method, path, body = args[2] or "POST", args[3] or "/v1/credentials", args[4]
  for line in io.lines(args[1]) do
    if #line > 0 then
      local headers = { ["Authorization"] = "Bearer " .. line, ["Content-Length"] = "0" }
      if body then
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = tostring(#body)
      end
      reqs[#reqs + 1] = wrk.format(method, path, headers, body)
    end
  end
  i = ((id or 0) * 7919) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
