package state

import "github.com/redis/go-redis/v9"

// Redis keys, all under one hash tag so every script touches one Cluster
// slot and runs on that slot's master.
const (
	keyEpoch   = "{awning-state}:epoch"   // names this generation of the state; gone after a flush
	keyHead    = "{awning-state}:head"    // the stamp of the newest scope change
	keyScopes  = "{awning-state}:scopes"  // the names of every scope ever written
	keyPrefix  = "{awning-state}:scope:"  // one hash per scope: data, stamp, writer, chain, audit
	keyAudit   = "{awning-state}:audit"   // the audit stream; entry IDs are change stamps
	keyConfirm = "{awning-state}:confirm" // written to have a replica confirm an earlier change
	// channel carries changes between nodes. Under the hash tag, a
	// Cluster client subscribes on the state's own shard, so a failed
	// shard that holds copies only does not cut nodes off from changes.
	channel    = "{awning-state}:changes"
	globalName = "*" // the Global scope's name in Redis and in the snapshot
)

// Scope hash fields.
const (
	fieldData   = "data"
	fieldStamp  = "stamp"
	fieldWriter = "writer"
	fieldChain  = "chain"   // IDs of the last changes the data includes, newest first
	fieldAudit  = "audit"   // the audit entry of the change that wrote it, as JSON
	fieldLegacy = "version" // the shared counter of Awning before stamps
)

// Bounds kept in Redis.
const (
	chainLength     = 8      // change IDs kept per scope: enough to recognise one's own change while confirming it
	auditKeepRemote = 10_000 // entries in the audit stream (approximately)
)

// luaLib is shared by the scripts: stamps as {ms, seq} pairs, and the one
// place a new stamp is issued.
const luaLib = `
local function parse(s)
  if not s or s == '' then return {0, 0} end
  local a, b = string.match(s, '^(%d+)-(%d+)$')
  if not a then return {0, 0} end
  return {tonumber(a), tonumber(b)}
end
local function less(x, y) return x[1] < y[1] or (x[1] == y[1] and x[2] < y[2]) end
local function later(x, y) if less(x, y) then return y end return x end
local function succ(x) return {x[1], x[2] + 1} end
local function fmt(x) return string.format('%.0f-%.0f', x[1], x[2]) end
local function stampOf(stamp, legacy)
  if stamp then return stamp end
  if legacy then return '0-' .. legacy end
  return ''
end
local function streamLast(key)
  local info = redis.pcall('XINFO', 'STREAM', key)
  if type(info) ~= 'table' or info.err then return {0, 0} end
  for i = 1, #info - 1, 2 do
    if info[i] == 'last-generated-id' then return parse(info[i + 1]) end
  end
  return {0, 0}
end
-- issue returns a stamp later than the writer's clock (candidate), Redis'
-- clock, floor, the newest change and the newest audit entry, and the
-- newest change's stamp as it was.
local function issue(candidate, floor, headKey, auditKey)
  local t = redis.call('TIME')
  local s = later(parse(candidate), {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), 0})
  s = later(s, succ(floor))
  local head = redis.call('GET', headKey)
  s = later(s, succ(parse(head)))
  s = later(s, succ(streamLast(auditKey)))
  return s, head or ''
end
local function replicas()
  return tonumber(string.match(redis.call('INFO', 'replication'), 'connected_slaves:(%d+)') or '0')
end
local function runid()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
end
`

// casScript writes a scope if it still holds the version the change was
// based on and the state is of the generation the writer knows, under a new
// stamp, together with the change's audit entry, and announces it. It
// returns {1, stamp, connected replicas, run id}, {-1} when the scope
// changed meanwhile, or {-2, epoch} when the writer must first merge its
// state into a Redis that lost it (or that it has not synced with yet).
//
// KEYS: scope, head, scopes, audit, epoch.
// ARGV: base version, data, name, channel, candidate stamp, writer, audit
// JSON ("" for none), epoch, change ID.
var casScript = redis.NewScript(luaLib + `
local epoch = redis.call('GET', KEYS[5])
if epoch ~= ARGV[8] then return {-2, epoch or ''} end
local h = redis.call('HMGET', KEYS[1], 'stamp', 'writer', 'version', 'chain')
local cur = stampOf(h[1], h[3])
if cur .. ' ' .. (h[2] or '') ~= ARGV[1] then return {-1} end
local s, prev = issue(ARGV[5], parse(cur), KEYS[2], KEYS[4])
local stamp = fmt(s)
local chain, n = ARGV[9], 1
if h[4] then
  for id in string.gmatch(h[4], '%S+') do
    if n >= 8 then break end
    chain, n = chain .. ' ' .. id, n + 1
  end
end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'stamp', stamp, 'writer', ARGV[6], 'chain', chain, 'audit', ARGV[7])
redis.call('HDEL', KEYS[1], 'version')
redis.call('SET', KEYS[2], stamp)
redis.call('SADD', KEYS[3], ARGV[3])
if ARGV[7] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, stamp, 'entry', ARGV[7])
end
redis.call('PUBLISH', ARGV[4], ARGV[3] .. ' ' .. stamp .. ' ' .. ARGV[6] .. ' ' .. prev)
return {1, stamp, replicas(), runid()}
`)

// checkScript reads what a node compares every CheckEvery: the state's
// epoch and newest stamp, and which server answers (its run id) and for how
// long it has run, which tells a restart from a failover.
//
// KEYS: epoch, head.
var checkScript = redis.NewScript(luaLib + `
local uptime = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)') or '0')
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '', runid(), uptime}
`)

// confirmScript confirms a change whose confirmation was interrupted, on
// the server that holds it: it checks that this server's scope includes the
// change (its ID is in the chain) in the state's generation the writer
// knows, and then makes a write on the connection, so that WAIT on it
// confirms every earlier write of this master (replication is in order).
// The check must be on the same connection as WAIT: the change may have
// been read on a master the sentinels replaced since, and the new master,
// which never had it, would confirm its own writes and not the change. It
// returns {1, connected replicas, run id, the scope's fields}, {0} when
// this server does not hold the change, or {-2} when it holds another
// generation of the state.
//
// KEYS: confirm, scope, epoch. ARGV: change ID, epoch.
var confirmScript = redis.NewScript(luaLib + `
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return {-2} end
local h = redis.call('HMGET', KEYS[2], 'data', 'stamp', 'writer', 'chain', 'audit', 'version')
local found = false
if h[4] then
  for id in string.gmatch(h[4], '%S+') do
    if id == ARGV[1] then found = true end
  end
end
if not found then return {0} end
redis.call('INCR', KEYS[1])
return {1, replicas(), runid(), h}
`)

// auditScript appends an audit entry that records no change, under a stamp
// from the same clock as changes. It returns the entry's ID.
//
// KEYS: head, audit. ARGV: candidate stamp, entry JSON.
var auditScript = redis.NewScript(luaLib + `
local s = issue(ARGV[1], {0, 0}, KEYS[1], KEYS[2])
local id = fmt(s)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, id, 'entry', ARGV[2])
return id
`)

// mergeScript writes a node's scopes into a Redis that lost them (flushed,
// restarted empty, failed over to an empty replica) or that another node
// restored first: each scope only where Redis has none or an older one, so
// the newest version of every scope wins whichever node merges first, and
// the audit entries Redis lacks, in ID order. It names the state's
// generation (the epoch) when Redis has none. It returns {epoch, scopes
// written, audit entries added}.
//
// KEYS: epoch, head, scopes, audit, then one scope key per scope.
// ARGV: proposed epoch, channel, number of scopes n, then n times (name,
// data, stamp, writer, chain, audit), then pairs of (audit ID, entry JSON)
// in ID order.
var mergeScript = redis.NewScript(luaLib + `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local n = tonumber(ARGV[3])
local headRaw = redis.call('GET', KEYS[2])
local head = parse(headRaw)
local written = 0
for i = 0, n - 1 do
  local a, key = 4 + i * 6, KEYS[5 + i]
  local h = redis.call('HMGET', key, 'stamp', 'writer', 'version')
  local cur, mine = parse(stampOf(h[1], h[3])), parse(ARGV[a + 2])
  local newer = (not h[1] and not h[3]) or less(cur, mine) or
    (not less(mine, cur) and (h[2] or '') < ARGV[a + 3])
  if newer then
    redis.call('HSET', key, 'data', ARGV[a + 1], 'stamp', ARGV[a + 2], 'writer', ARGV[a + 3],
      'chain', ARGV[a + 4], 'audit', ARGV[a + 5])
    redis.call('HDEL', key, 'version')
    redis.call('SADD', KEYS[3], ARGV[a])
    written = written + 1
    head = later(head, mine)
  end
end
if written > 0 then
  redis.call('SET', KEYS[2], fmt(head))
end
local last, missing, added = streamLast(KEYS[4]), {}, 0
for j = 4 + n * 6, #ARGV - 1, 2 do
  local id = ARGV[j]
  if #redis.call('XRANGE', KEYS[4], id, id) == 0 then
    if less(last, parse(id)) then
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, id, 'entry', ARGV[j + 1])
      last = parse(id)
    else
      table.insert(missing, {id, ARGV[j + 1]})
    end
    added = added + 1
  end
end
if #missing > 0 then
  -- Older than the stream's newest entry: a stream only appends, so it is
  -- rebuilt in ID order.
  for _, e in ipairs(redis.call('XRANGE', KEYS[4], '-', '+')) do
    local v = ''
    for k = 1, #e[2] - 1, 2 do
      if e[2][k] == 'entry' then v = e[2][k + 1] end
    end
    table.insert(missing, {e[1], v})
  end
  table.sort(missing, function(x, y) return less(parse(x[1]), parse(y[1])) end)
  redis.call('DEL', KEYS[4])
  for _, e in ipairs(missing) do
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, e[1], 'entry', e[2])
  end
end
if written > 0 or added > 0 then
  redis.call('PUBLISH', ARGV[2], '! ' .. fmt(head))
end
return {epoch, written, added}
`)
