-- wrk script for bench/service.js: every request carries the attestation and its own fresh proof,
-- read from the file named by POSTURE_BENCH_PROOFS (one "attestation<TAB>proof<TAB>original-url" per line).
local lines = {}
local i = 0
local path = os.getenv("POSTURE_BENCH_PATH") or "/v1/forward-auth"

init = function(args)
  for line in io.lines(os.getenv("POSTURE_BENCH_PROOFS")) do
    lines[#lines + 1] = line
  end
end

request = function()
  i = i + 1
  local line = lines[i]
  if line == nil then
    wrk.thread:stop()
    return wrk.format("GET", path)
  end
  local attestation, proof, url = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
  return wrk.format("GET", path, {
    ["Posture-Attestation"] = attestation,
    ["Posture-Proof"] = proof,
    ["X-Original-Method"] = "GET",
    ["X-Original-URL"] = url,
  })
end
