-- wrk script: one MCP tools/call per request. The token and session come from the
-- environment (never written to a file); KG_DIRECT=1 sends the upstream's own request.
local token = os.getenv("KG_TOKEN")
local session = os.getenv("KG_SESSION")
local direct = os.getenv("KG_DIRECT") == "1"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if direct then
  wrk.headers["x-api-key"] = os.getenv("KG_UPSTREAM_KEY")
  wrk.body = '{"query":"load"}'
else
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
  wrk.headers["Authorization"] = "Bearer " .. token
  if session and session ~= "" then
    wrk.headers["Mcp-Session-Id"] = session
  end
  if os.getenv("KG_RMCP") == "1" then
    -- Any `_meta` leaves the call to rmcp instead of Keygate's fast path: rmcp's own cost.
    wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"load"},"_meta":{"keygate.load/path":"rmcp"}}}'
  else
    wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_search","arguments":{"query":"load"}}}'
  end
end

-- Every answer must be a successful tool result, not merely HTTP 200. Each wrk thread counts
-- its own in a global; `done` adds them up.
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
init = function(args)
  failures = 0
end
response = function(status, headers, body)
  if status ~= 200 or (not direct and not string.find(body, '"isError":false', 1, true)) then
    if failures == 0 then
      -- The first failed answer of each thread, so a run with errors says what they were.
      io.stderr:write("load: a failed answer: " .. status .. " " .. string.sub(body, 1, 400) .. "\n")
    end
    failures = failures + 1
  end
end

done = function(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
  end
  io.write(string.format("LOAD median_us=%d p99_us=%d requests=%d seconds=%.3f errors=%d failed=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout, failed))
end
