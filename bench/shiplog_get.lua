-- shiplog_get.lua - wrk script: GET requests against shiplog with the admin key.
-- usage: wrk ... -s shiplog_get.lua http://127.0.0.1:PORT -- KEY MODE [ARGS...]
--   MODE fixed PATH                 the same GET every request (e.g. /api/releases/current?...)
--   MODE history CLIENT ENVS COMPS  GET /api/releases/history/CLIENT/e<E>/ns<C%10>/app<C>/app, random E < ENVS, C < COMPS
--   MODE current CLIENT ENVS [QS]   GET /api/releases/current?client_name=CLIENT&env_name=e<E>[&QS], random E < ENVS
-- Prints "RESULT ...", "PCTL ..." (latency at a fixed percentile grid, for merging several wrk
-- processes) and "ERR ..." with the first non-2xx response of each thread.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "pctl.lua")
local threads = {}
function setup(thread) table.insert(threads, thread) end

local mode, fixed, client, envs, comps, qs = "fixed", nil, "scale", 1, 1, ""
local headers = {}
errs, first_err, first_req = 0, "", ""

function init(args)
  headers["Authorization"] = "Bearer " .. (args[1] or "bench-admin-key")
  mode = args[2] or "fixed"
  if mode == "fixed" then
    fixed = wrk.format("GET", args[3] or wrk.path, headers)
  else
    client = args[3] or client
    envs = tonumber(args[4] or "1")
    if mode == "history" then comps = tonumber(args[5] or "1") else qs = args[5] and ("&" .. args[5]) or "" end
  end
  math.randomseed(os.time() + #threads * 7919 + math.floor(os.clock() * 1e6))
end

local last_path = ""
function request()
  if fixed then last_path = "(fixed)"; return fixed end
  local e = math.random(0, envs - 1)
  if mode == "history" then
    local c = math.random(0, comps - 1)
    last_path = string.format("/api/releases/history/%s/e%d/ns%d/app%d/app", client, e, c % 10, c)
  else
    last_path = string.format("/api/releases/current?client_name=%s&env_name=e%d%s", client, e, qs)
  end
  return wrk.format("GET", last_path, headers)
end

function response(status, hdrs, body)
  if status >= 300 then
    errs = errs + 1
    if first_err == "" then
      first_req = "GET " .. last_path
      first_err = tostring(status) .. " " .. string.sub(body or "", 1, 400)
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT kind=get rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sockerr=%d duration_s=%.3f bytes=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, summary.duration / 1e6, summary.bytes))
  io.write("PCTL " .. pct_grid(latency) .. "\n")
  for _, t in ipairs(threads) do
    local fe = t:get("first_err")
    if fe and fe ~= "" then
      io.write("ERR count=" .. tostring(t:get("errs")) .. " request=" .. t:get("first_req") .. " response=" .. fe .. "\n")
    end
  end
end
