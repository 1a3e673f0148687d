-- wrk script of bench/HttpBenchmark: every request carries another user's access token.
--
-- The token file holds one JWT per line, all of the same length, so a thread can seek straight to its
-- slice and read it as it goes. Each wrk thread walks its own slice of the range [first, first + count)
-- in order and wraps around at its end: threads never send the same user, and until a slice wraps every
-- request is that user's first join. done() prints one line, WRK-RESULT {json}, with wrk's figures and how many requests
-- each thread sent, from which the benchmark knows exactly which users were sent.
--
-- Arguments after "--": token-file record-length first count threads method path token|none
--   record-length  bytes per line, newline included
--   threads        the -t given to wrk (a thread's slice depends on it)
--   none           send no Authorization header (the HTTP ceiling); the token file is then not read

local started = {}
local nextThreadIndex = 0

function setup(thread)
   thread:set("threadIndex", nextThreadIndex)
   nextThreadIndex = nextThreadIndex + 1
   table.insert(started, thread)
end

-- Globals of a thread's own Lua state: setup() set threadIndex, done() reads sent and sliceSize.
sent = 0
sliceSize = 0
local file, recordLength, sliceStart
local position = 0
local prefix, suffix, fixedRequest
local verifying = false

-- The token file is read as the thread goes (buffered), not loaded: memory stays flat for any number of users.
local function readToken()
   return file:read(recordLength):sub(1, recordLength - 1)
end

function init(args)
   local tokenFile = args[1]
   recordLength = tonumber(args[2])
   local first, count, threads = tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
   local method, path, withToken = args[6], args[7], args[8] == "token"
   local host = wrk.host .. ":" .. wrk.port
   verifying = threadIndex == 0

   if not withToken then
      fixedRequest = method .. " " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nContent-Length: 0\r\n\r\n"
      return
   end

   local from = first + math.floor(count * threadIndex / threads)
   local to = first + math.floor(count * (threadIndex + 1) / threads)
   sliceSize = to - from
   if sliceSize < 1 then
      error("thread " .. threadIndex .. " has no tokens: give more tokens than threads")
   end

   file = assert(io.open(tokenFile, "rb"))
   if file:seek("end") < to * recordLength then
      error("token file " .. tokenFile .. " ends before token " .. (to - 1))
   end
   sliceStart = from * recordLength
   file:seek("set", sliceStart)
   prefix = method .. " " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer "
   suffix = "\r\nContent-Length: 0\r\n\r\n"
end

function request()
   if verifying then
      -- wrk calls request() once on its first thread before the run, only to check what it returns: that
      -- request is never sent, so it is not counted and does not move on to the next user.
      verifying = false
      if fixedRequest then
         return fixedRequest
      end
      local first = readToken()
      file:seek("set", sliceStart)
      return prefix .. first .. suffix
   end

   sent = sent + 1
   if fixedRequest then
      return fixedRequest
   end

   position = position + 1
   if position > sliceSize then
      position = 1
      file:seek("set", sliceStart)
   end
   return prefix .. readToken() .. suffix
end

function done(summary, latency, requests)
   local sentByThread, sliceByThread = {}, {}
   for i, thread in ipairs(started) do
      sentByThread[i] = string.format("%d", thread:get("sent"))
      sliceByThread[i] = string.format("%d", thread:get("sliceSize"))
   end

   local e = summary.errors
   io.write(string.format(
      'WRK-RESULT {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,' ..
      '"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"meanUs":%.1f,"p50Us":%d,"p90Us":%d,"p99Us":%d,' ..
      '"maxUs":%d,"sent":[%s],"slices":[%s]}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      table.concat(sentByThread, ","), table.concat(sliceByThread, ",")))
end
