-- shiplog_put.lua - wrk script: PUT /api/collect/{ns}/Deployment/{workload}/c (a manual collect).
-- Every request records a NEW release: a distinct image_tag <tag>.<thread>.<counter>, spread over
-- 1000 workloads per wrk thread. The JSON body is ~200 bytes, like the value of etcd_put.lua.
-- usage: wrk -t1 -c22 -d8s -s shiplog_put.lua http://127.0.0.1:PORT -- TAG NAMESPACE ADMIN_KEY
-- Prints one "RESULT ..." line and one "PCTL ..." line (latency at a fixed percentile grid, used by
-- bench/run to merge the latency distributions of several wrk processes), and "ERR ..." lines with
-- the first non-2xx responses.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "pctl.lua")
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local tag, ns, n = "x", "bench", 0
local headers = { ["Content-Type"] = "application/json" }
local SHA = "sha256:" .. string.rep("0123456789abcdef", 4)
errs, first_err, first_req = 0, "", ""

function init(args)
  tag = args[1] or tag
  ns = args[2] or ns
  headers["Authorization"] = "Bearer " .. (args[3] or "bench-admin-key")
  tag = tag .. "." .. tostring(tid)
end

local last_path, last_body = "", ""
function request()
  n = n + 1
  last_path = string.format("/api/collect/%s/Deployment/%s-%d/c", ns, tag, n % 1000)
  last_body = string.format('{"image_tag":"1.0.%s.%09d","image_sha":"%s",' ..
    '"image_repo":"registry.local:5000/bench/app","client_name":"bench","env_name":"bench"}', tag, n, SHA)
  return wrk.format("PUT", last_path, headers, last_body)
end

function response(status, hdrs, body)
  if status >= 300 then
    errs = errs + 1
    if first_err == "" then
      -- with several connections per thread this is the thread's latest request, not necessarily
      -- the one answered; every request has the same shape
      first_req = "PUT " .. last_path .. " " .. last_body
      first_err = tostring(status) .. " " .. string.sub(body or "", 1, 400)
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT kind=put rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sockerr=%d duration_s=%.3f\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, summary.duration / 1e6))
  io.write("PCTL " .. pct_grid(latency) .. "\n")
  for _, t in ipairs(threads) do
    local fe = t:get("first_err")
    if fe and fe ~= "" then
      io.write("ERR count=" .. tostring(t:get("errs")) .. " request=" .. t:get("first_req") .. " response=" .. fe .. "\n")
    end
  end
end
