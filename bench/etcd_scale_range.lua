-- etcd_scale_range.lua - wrk script: POST /v3/kv/range over a key prefix (etcd 3.4 JSON gateway),
-- the etcd side of bench/run's scale phase. Keys were loaded by bench/run as
--   rel/<client>/e<E>/ns<C%10>/app<C>/app/<version>   one key per release (history)
--   cur/<client>/e<E>/ns<C%10>/app<C>/app             the current release of a component
-- usage: wrk ... -s etcd_scale_range.lua http://127.0.0.1:PORT/v3/kv/range -- MODE CLIENT ENVS COMPS [serializable|linearizable]
--   MODE history: range over rel/<client>/e<E>/ns../app<C>/app/  (one component's history)
--   MODE current: range over cur/<client>/e<E>/                 (every current release of an env)
local B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    out[#out + 1] = B:sub(math.floor(n / 262144) % 64 + 1, math.floor(n / 262144) % 64 + 1) ..
      B:sub(math.floor(n / 4096) % 64 + 1, math.floor(n / 4096) % 64 + 1) ..
      (b and B:sub(math.floor(n / 64) % 64 + 1, math.floor(n / 64) % 64 + 1) or "=") ..
      (c and B:sub(n % 64 + 1, n % 64 + 1) or "=")
  end
  return table.concat(out)
end

local bodies = {}
local headers = { ["Content-Type"] = "application/json" }
function init(args)
  local mode, client = args[1] or "history", args[2] or "scale"
  local envs, comps = tonumber(args[3] or "1"), tonumber(args[4] or "1")
  local ser = (args[5] or "serializable") == "serializable" and ',"serializable":true' or ""
  local function body(prefix)
    -- range_end = prefix with its last byte + 1 (all prefixes here end in "/", so "/" -> "0")
    local stop = prefix:sub(1, -2) .. string.char(prefix:byte(-1) + 1)
    return '{"key":"' .. b64(prefix) .. '","range_end":"' .. b64(stop) .. '"' .. ser .. '}'
  end
  for e = 0, envs - 1 do
    if mode == "history" then
      for c = 0, comps - 1 do
        bodies[#bodies + 1] = body(string.format("rel/%s/e%d/ns%d/app%d/app/", client, e, c % 10, c))
      end
    else
      bodies[#bodies + 1] = body(string.format("cur/%s/e%d/", client, e))
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  return wrk.format("POST", nil, headers, bodies[math.random(1, #bodies)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT kind=range rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sockerr=%d duration_s=%.3f bytes=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, summary.duration / 1e6, summary.bytes))
end
