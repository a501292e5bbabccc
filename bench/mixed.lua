-- Issue 10's mixed workload for wrk; bench/mixed.py prepends the data (TOKENS, USERS,
-- SLUGS, TAGS, TAG_JSON, RUN) and runs it. Each request is drawn by weight, from a random
-- signed-in user of the pool; each carries an X-Request-ID that the app echoes, so the
-- response is matched to its request and timed here, per kind, with a monotonic clock:
-- wrk itself keeps one latency histogram for all requests.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } mixed_timespec;
int clock_gettime(int clock_id, mixed_timespec *tp);
void *calloc(size_t count, size_t size);
]]
local CLOCK_MONOTONIC = 1
local now = ffi.new("mixed_timespec")
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  return tonumber(now.tv_sec) * 1000000 + tonumber(now.tv_nsec) / 1000
end

local KINDS = { "list", "article", "profile", "tags", "favorite", "new-article", "comment" }
local WEIGHTS = WEIGHTS or { 40, 30, 10, 10, 7, 2, 1 }  -- per cent; bench/mixed.py may set them
local BUCKET_US = 10     -- latency histogram resolution
local BUCKETS = 300000   -- up to 3 s; slower responses count in the last bucket
local SLOTS = BUCKETS + 3  -- per kind: sent, answered, non-2xx, then the histogram

-- Each thread counts into plain C memory and publishes only its address: wrk's thread:get
-- copies tables between Lua states, and crashes on some (seen with wrk 4.1 here).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  math.randomseed(thread_id * 7919 + os.time())
  sent = 0
  pending = {}  -- request id -> { kind index, start in µs }
  counts = ffi.cast("uint32_t *", ffi.C.calloc(#KINDS * SLOTS, 4))  -- never freed: wrk exits
  counts_address = tostring(ffi.cast("uintptr_t", counts)):gsub("ULL$", "")
  failures = ""  -- the start of the first body of each (kind, status), one per line
  seen = {}
  unmatched = 0
end

local function pick(list)
  return list[math.random(#list)]
end

local function draw_kind()
  local roll, sum = math.random() * 100, 0
  for i, weight in ipairs(WEIGHTS) do
    sum = sum + weight
    if roll < sum then
      return i
    end
  end
  return #KINDS
end

-- The same lists as bench/list_cache.py: half the home page, the rest its next pages,
-- a tag's, an author's, a user's favorites, or the reader's feed.
local function list_path()
  local roll = math.random() * 100
  if roll < 50 then return "/api/articles" end
  if roll < 60 then return "/api/articles?offset=" .. 20 * math.random(1, 4) end
  if roll < 80 then return "/api/articles?tag=" .. pick(TAGS) end
  if roll < 87 then return "/api/articles?author=" .. pick(USERS) end
  if roll < 92 then return "/api/articles?favorited=" .. pick(USERS) end
  return "/api/articles/feed"
end

function request()
  sent = sent + 1
  local index = draw_kind()
  local kind = KINDS[index]
  local id = "mx" .. thread_id .. "-" .. sent
  local method, path, body = "GET", nil, nil
  if kind == "list" then
    path = list_path()
  elseif kind == "article" then
    path = "/api/articles/" .. pick(SLUGS)
  elseif kind == "profile" then
    path = "/api/profiles/" .. pick(USERS)
  elseif kind == "tags" then
    path = "/api/tags"
  elseif kind == "favorite" then
    method = math.random() < 0.5 and "POST" or "DELETE"
    path = "/api/articles/" .. pick(SLUGS) .. "/favorite"
  elseif kind == "new-article" then
    local a = math.random(#TAG_JSON)
    local b = a % #TAG_JSON + 1
    method, path = "POST", "/api/articles"
    body = '{"article":{"title":"mixed ' .. RUN .. " " .. id .. '","description":"bench",'
      .. '"body":"written by bench/mixed.py","tagList":[' .. TAG_JSON[a] .. "," .. TAG_JSON[b] .. "]}}"
  else
    method, path = "POST", "/api/articles/" .. pick(SLUGS) .. "/comments"
    body = '{"comment":{"body":"comment ' .. id .. '"}}'
  end
  local headers = { ["Authorization"] = "Token " .. pick(TOKENS), ["X-Request-ID"] = id }
  if body then
    headers["Content-Type"] = "application/json"
  end
  local base = (index - 1) * SLOTS
  counts[base] = counts[base] + 1
  pending[id] = { index, now_us() }
  return wrk.format(method, path, headers, body)
end

local function request_id(headers)
  local id = headers["X-Request-ID"] or headers["x-request-id"]
  if id then return id end
  for name, value in pairs(headers) do  -- a proxy may change the name's case
    if string.lower(name) == "x-request-id" then return value end
  end
end

function response(status, headers, body)
  local id = request_id(headers)
  local entry = id and pending[id]
  if not entry then
    unmatched = unmatched + 1
    return
  end
  pending[id] = nil
  local index = entry[1]
  local base = (index - 1) * SLOTS
  local bucket = math.min(math.floor((now_us() - entry[2]) / BUCKET_US), BUCKETS - 1)
  counts[base + 1] = counts[base + 1] + 1
  counts[base + 3 + bucket] = counts[base + 3 + bucket] + 1
  if status < 200 or status > 299 then
    counts[base + 2] = counts[base + 2] + 1
    local key = KINDS[index] .. " " .. status
    if not seen[key] then
      seen[key] = true
      local text = string.gsub(string.sub(body or "", 1, 200), "%s", " ")
      failures = failures .. key .. ": " .. text .. "\n"
    end
  end
end

-- One line per fact, "MIXED ...", read by bench/mixed.py.
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local address = ffi.new("uintptr_t", tonumber(thread:get("counts_address")))
    local c = ffi.cast("uint32_t *", address)
    for index, kind in ipairs(KINDS) do
      local base = (index - 1) * SLOTS
      io.write(string.format("MIXED kind %s %d %d %d\n", kind, c[base], c[base + 1], c[base + 2]))
      for bucket = 0, BUCKETS - 1 do
        local n = c[base + 3 + bucket]
        if n > 0 then
          io.write(string.format("MIXED hist %s %d %d\n", kind, bucket, n))
        end
      end
    end
    for line in string.gmatch(thread:get("failures"), "[^\n]+") do
      io.write("MIXED failure " .. line .. "\n")
    end
    io.write(string.format("MIXED unmatched %d\n", thread:get("unmatched")))
  end
  io.write(string.format("MIXED bucket_us %d\n", BUCKET_US))
end
