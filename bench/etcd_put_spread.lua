-- etcd_put_spread.lua - the etcd baseline's put script (../../shared/bench/peers/etcd_put.lua, the
-- same requests and its RESULT line) plus a "PCTL ..." line, so that bench/run can merge the
-- latency of one wrk per etcd member as it does for shiplog's nodes.
-- usage: wrk -t1 -cN -d8s -s etcd_put_spread.lua http://127.0.0.1:PORT/v3/kv/put -- PREFIX
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "pctl.lua")
dofile(here .. "../../shared/bench/peers/etcd_put.lua")

local baseline_done = done
function done(summary, latency, requests)
  baseline_done(summary, latency, requests)
  io.write("PCTL " .. pct_grid(latency) .. "\n")
end
