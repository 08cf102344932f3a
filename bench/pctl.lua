-- pctl.lua - loaded by the wrk scripts here (dofile): pct_grid(latency) gives a request
-- latency distribution as "p:us,..." at a fixed percentile grid (0.5 % steps, 0.05 % above 99),
-- printed as a "PCTL ..." line; bench/run merges the grids of several wrk processes by request count.
function pct_grid(latency)
  local out = {}
  local p = 0.5
  while p <= 99.0 + 1e-9 do out[#out + 1] = string.format("%g:%d", p, latency:percentile(p)); p = p + 0.5 end
  p = 99.05
  while p <= 100.0 + 1e-9 do out[#out + 1] = string.format("%g:%d", p, latency:percentile(p)); p = p + 0.05 end
  return table.concat(out, ",")
end
