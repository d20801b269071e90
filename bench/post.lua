-- wrk script: POST /api/v1/prompts with a Bearer token from the PAIRS file and a unique Idempotency-Key.
-- PAIRS: "<token> <anything>" lines; PATH (default /api/v1/prompts); KEYS: a
-- prefix unique to this wrk run (keys are KEYS-<thread>-<counter>).  done()
-- prints RESULT like get.lua plus requests= and not201= (answers other than 201).
local pairs_file = os.getenv("PAIRS") or "/tmp/pairs.txt"
local path = os.getenv("PATH_POST") or "/api/v1/prompts"
local keys = os.getenv("KEYS") or tostring(os.time())
local list = {}
for line in io.lines(pairs_file) do
  local t = line:match("^(%S+) %S+$")
  if t then list[#list + 1] = t end
end
local threads = {}
local nthreads = 0
setup = function(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  threads[#threads + 1] = thread
end
local i = 0
not201 = 0
request = function()
  i = i + 1
  local key = keys .. "-" .. tid .. "-" .. i
  local body = '{"title":"bench ' .. key .. '","content":"Summarise the text below in three bullet points.",' ..
    '"tags":["bench"]}'
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. list[(i * 7919 + tid * 104729) % #list + 1],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key,
  }, body)
end
response = function(status, headers, body)
  if status ~= 201 then not201 = not201 + 1 end
end
done = function(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("not201") or 0) end
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d requests=%d not201=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests, bad))
end
