//! [`RedisState`]: the decision state shared by many routecore nodes through one Redis.
//!
//! Every step that reads and then writes (a caller's window, a slot lease, weighted credits,
//! least-busy history) is one Lua script, which Redis runs atomically: two nodes can never both
//! admit a caller's last call in a window or both count a lease as new. Reads a decision needs
//! together (the active calls of a group's targets, with their least-busy history for least
//! busy) are one script, so a decision costs 0 to 3 round trips (see `docs/decisions.md`);
//! `remember_call` (lease lengths for the call events to come) is written behind by a
//! background thread in pipelined batches.
//!
//! Redis unreachable: the node keeps routing on its own in-process [`LocalState`] (caps and
//! per-caller limits then only count what this node saw since the outage began: they fail
//! open), counts each such step in [`RedisStatus::fallbacks`], and journals the call events it
//! takes meanwhile. It tries Redis again at most every [`RETRY_AFTER`]; the first success
//! replays the journal (so leases taken during the outage are shared again) before the node
//! reads shared state again.
//!
//! Keys (with the configured prefix `P`): `P:rr:{group}` rotation counter, `P:wc:{group}`
//! weighted credits (hash), `P:lb:{group}` least-busy history (hash, `time:seq`), `P:lbseq`,
//! `P:pc:{tenant|caller}` admitted times (sorted set), `P:slot:{target}` leases (hash call →
//! `answered:expires`), `P:end:{call}` ended targets (set), `P:call:{call}` lease length,
//! `P:early:{call}` leases taken before that length arrived (set of lease-hash names).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{Connection, RedisResult, Script};

use super::decide::Decision;
use super::state::{Admission, LocalState, StateStore, DEFAULT_LEASE_MS};

/// How long a node routes on its local state after a Redis failure before it tries again.
pub const RETRY_AFTER: Duration = Duration::from_millis(500);
/// Most call events journaled during an outage (the oldest are dropped beyond; they expire anyway).
const JOURNAL_MAX: usize = 200_000;
/// Keys of windows, ended markers and remembered calls live this long (wall clock) past their
/// last write: only garbage collection, the semantics use the request and event times.
const KEEP_MS: i64 = 2 * DEFAULT_LEASE_MS;

const ADMIT: &str = r"
local now = tonumber(ARGV[1])
local low = now - tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', low)
if redis.call('ZCOUNT', KEYS[1], '(' .. low, now) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

const WEIGHTED: &str = r"
local n = #ARGV / 2
local total = 0
for i = 1, n do total = total + tonumber(ARGV[2 * i]) end
local best, best_credit = 1, nil
for i = 1, n do
  local c = redis.call('HINCRBY', KEYS[1], ARGV[2 * i - 1], ARGV[2 * i])
  if best_credit == nil or c > best_credit then best, best_credit = i, c end
end
redis.call('HINCRBY', KEYS[1], ARGV[2 * best - 1], -total)
return best - 1
";

/// The Lua function `active(key, now)`: the leases in the hash `key` with answered <= now <
/// expires. A macro, not a `const`, so that `concat!` can put it in front of each script using it
/// (a script sent to Redis is self-contained).
macro_rules! lua_active {
    () => {
        r"
local function active(key, now)
  local n = 0
  for _, v in ipairs(redis.call('HVALS', key)) do
    local a, e = string.match(v, '^(%-?%d+):(%-?%d+)$')
    if tonumber(a) <= now and now < tonumber(e) then n = n + 1 end
  end
  return n
end
"
    };
}

/// `KEYS` = the targets' lease hashes; `ARGV[1]` = now. Each target's active calls.
const ACTIVE_MANY: &str = concat!(
    lua_active!(),
    r"
local now = tonumber(ARGV[1])
local out = {}
for k = 1, #KEYS do out[k] = active(KEYS[k], now) end
return out
"
);

const PLACED_MANY: &str = r"
local out = {}
for i = 1, #ARGV do out[i] = redis.call('HGET', KEYS[1], ARGV[i]) or '' end
return out
";

/// `KEYS[1]` = least-busy history, then the targets' lease hashes; `ARGV` = now, target names.
/// Returns, per target, its active calls and its `time:seq` mark ('' = never), flattened.
const LEAST_BUSY_VIEW: &str = concat!(
    lua_active!(),
    r"
local now = tonumber(ARGV[1])
local out = {}
for k = 2, #KEYS do
  out[#out + 1] = tostring(active(KEYS[k], now))
  out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[k]) or ''
end
return out
"
);

const MARK_PLACED: &str = r"
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. seq)
return seq
";

/// `KEYS` = lease hash of the target, ended set of the call, the call's lease length, the
/// call's leases taken before its length was known; `ARGV` = call id, target, now, default
/// lease, keep (ms).
const ANSWERED: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then return 0 end
if redis.call('SISMEMBER', KEYS[2], '*') == 1 then return 0 end
local now = tonumber(ARGV[3])
local known = redis.call('GET', KEYS[3])
local lease = tonumber(known or ARGV[4])
if not known then
  -- The routing node's lease length is still on its way (written behind): CALL_LEASE
  -- shortens this lease when it lands.
  redis.call('SADD', KEYS[4], KEYS[1])
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local e = tonumber(string.match(all[i + 1], ':(%-?%d+)$'))
  if e <= now then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], now .. ':' .. (now + lease))
redis.call('PEXPIRE', KEYS[1], math.max(lease, 0) + tonumber(ARGV[5]))
redis.call('SADD', KEYS[5], ARGV[2])
redis.call('PEXPIRE', KEYS[5], math.max(lease, 0) + tonumber(ARGV[5]))
return 1
";

/// A call's lease length, and the leases of the call already taken with the default length
/// (an ANSWERED on another node overtook the write-behind) set to it. `KEYS` = the call's
/// lease length, its early leases (a set of lease-hash names); `ARGV` = lease, keep, call id.
const CALL_LEASE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local early = redis.call('SMEMBERS', KEYS[2])
for _, slot in ipairs(early) do
  local v = redis.call('HGET', slot, ARGV[3])
  if v then
    local answered = tonumber(string.match(v, '^(%-?%d+):'))
    redis.call('HSET', slot, ARGV[3], answered .. ':' .. (answered + tonumber(ARGV[1])))
  end
end
redis.call('DEL', KEYS[2])
return #early
";

/// `KEYS` = lease hash of the target, ended set of the call, held set of the call; `ARGV` =
/// call id, target, keep.
const ENDED: &str = r"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[3], ARGV[2])
return 1
";

/// `ENDED` without a target: every lease the call holds, whichever node took it. `KEYS` = held
/// set of the call (its targets), ended set of the call; `ARGV` = call id, the lease hashes'
/// name before the target (`PREFIX:slot:`), keep.
const ENDED_CALL: &str = r"
local held = redis.call('SMEMBERS', KEYS[1])
for _, target in ipairs(held) do
  redis.call('HDEL', ARGV[2] .. target, ARGV[1])
  redis.call('SADD', KEYS[2], target)
end
-- The whole call ended: a late ANSWERED (`*` is no target) takes nothing.
redis.call('SADD', KEYS[2], '*')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[1])
return #held
";

/// What a node knows about its Redis: for the metrics and the log.
#[derive(Debug, Clone, Default)]
pub struct RedisStatus {
    /// Redis answered the last attempt.
    pub healthy: bool,
    /// State steps served from the local state because Redis was unreachable.
    pub fallbacks: u64,
    /// Times Redis became unreachable.
    pub outages: u64,
    /// Journaled call events replayed into Redis after an outage.
    pub replayed: u64,
    /// Call events dropped from a full journal.
    pub dropped: u64,
    /// Call events waiting in the journal.
    pub journaled: usize,
    /// The last error Redis gave.
    pub last_error: String,
}

/// A call event (or lease length) taken while Redis was unreachable, replayed when it returns.
#[derive(Debug, Clone)]
enum Journaled {
    Call {
        call_id: String,
        lease_ms: i64,
    },
    Answered {
        call_id: String,
        target: String,
        now_ms: i64,
    },
    Ended {
        call_id: String,
        target: String,
        now_ms: i64,
    },
    EndedCall {
        call_id: String,
        now_ms: i64,
    },
    /// A call the per-caller limit counted in Redis, taken back (`member` of `P:pc:{key}`).
    Withdraw {
        key: String,
        member: String,
    },
}

struct Scripts {
    admit: Script,
    weighted: Script,
    active_many: Script,
    placed_many: Script,
    least_busy_view: Script,
    mark_placed: Script,
    answered: Script,
    ended: Script,
    ended_call: Script,
}

struct Health {
    healthy: bool,
    /// When the last failure happened: no attempt before `RETRY_AFTER` has passed.
    failed_at: Option<Instant>,
    last_error: String,
}

struct Inner {
    client: redis::Client,
    prefix: String,
    /// Unique per node and process: members of the shared caller windows.
    node: String,
    timeout: Duration,
    pool: Mutex<Vec<Connection>>,
    health: Mutex<Health>,
    journal: Mutex<VecDeque<Journaled>>,
    scripts: Scripts,
    local: LocalState,
    admitted: AtomicU64,
    fallbacks: AtomicU64,
    outages: AtomicU64,
    replayed: AtomicU64,
    dropped: AtomicU64,
    /// Set while a replay runs, so that a second thread does not replay the same journal.
    replaying: AtomicBool,
}

/// The decision state on Redis (see the module docs).
pub struct RedisState {
    inner: Arc<Inner>,
    /// Lease lengths to write behind (pipelined by the writer thread).
    calls: Mutex<Sender<Write>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RedisState {
    /// Connects to `url` (`redis://host:port/db`, `rediss://…`, `unix://…`); keys start with
    /// `prefix`. Fails if Redis cannot be reached now: a node starts only with its state
    /// reachable (later outages are survived, see the module docs).
    pub fn connect(url: &str, prefix: &str, timeout: Duration) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_connection_with_timeout(timeout)?;
        conn.set_read_timeout(Some(timeout))?;
        conn.set_write_timeout(Some(timeout))?;
        redis::cmd("PING").query::<String>(&mut conn)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let inner = Arc::new(Inner {
            client,
            prefix: prefix.to_string(),
            node: format!("{:x}.{}", nanos, std::process::id()),
            timeout,
            pool: Mutex::new(vec![conn]),
            health: Mutex::new(Health {
                healthy: true,
                failed_at: None,
                last_error: String::new(),
            }),
            journal: Mutex::new(VecDeque::new()),
            scripts: Scripts {
                admit: Script::new(ADMIT),
                weighted: Script::new(WEIGHTED),
                active_many: Script::new(ACTIVE_MANY),
                placed_many: Script::new(PLACED_MANY),
                least_busy_view: Script::new(LEAST_BUSY_VIEW),
                mark_placed: Script::new(MARK_PLACED),
                answered: Script::new(ANSWERED),
                ended: Script::new(ENDED),
                ended_call: Script::new(ENDED_CALL),
            },
            local: LocalState::new(),
            admitted: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            outages: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            replaying: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel();
        let writer = Arc::clone(&inner);
        std::thread::Builder::new()
            .name("routecore-redis-writer".into())
            .spawn(move || write_behind(&writer, &rx))
            .map_err(|e| {
                redis::RedisError::from((
                    redis::ErrorKind::IoError,
                    "cannot start the writer thread",
                    e.to_string(),
                ))
            })?;
        Ok(RedisState {
            inner,
            calls: Mutex::new(tx),
        })
    }

    pub fn status(&self) -> RedisStatus {
        let i = &self.inner;
        let health = lock(&i.health);
        RedisStatus {
            healthy: health.healthy,
            fallbacks: i.fallbacks.load(Ordering::Relaxed),
            outages: i.outages.load(Ordering::Relaxed),
            replayed: i.replayed.load(Ordering::Relaxed),
            dropped: i.dropped.load(Ordering::Relaxed),
            journaled: lock(&i.journal).len(),
            last_error: health.last_error.clone(),
        }
    }

    /// Waits (at most one timeout) until every lease length handed to the writer so far is
    /// in Redis or journaled: a call event of this node then finds its call's lease length.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if lock(&self.calls).send(Write::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(self.inner.timeout * 2);
        }
    }
}

/// What the writer thread is handed.
enum Write {
    /// A call's lease length.
    Call(String, i64),
    /// Answered once everything before it is written.
    Flush(Sender<()>),
}

impl Inner {
    /// The `CALL_LEASE` script as one command (`EVAL`: it goes in pipelines).
    fn call_lease(&self, call_id: &str, lease_ms: i64) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(CALL_LEASE)
            .arg(2)
            .arg(self.key("call", call_id))
            .arg(self.key("early", call_id))
            .arg(lease_ms)
            .arg(KEEP_MS)
            .arg(call_id);
        cmd
    }

    fn key(&self, kind: &str, name: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + kind.len() + name.len() + 2);
        k.push_str(&self.prefix);
        k.push(':');
        k.push_str(kind);
        k.push(':');
        k.push_str(name);
        k
    }

    fn mark_down(&self, err: &redis::RedisError) {
        let mut h = lock(&self.health);
        if h.healthy {
            self.outages.fetch_add(1, Ordering::Relaxed);
        }
        h.healthy = false;
        h.failed_at = Some(Instant::now());
        h.last_error = err.to_string();
        lock(&self.pool).clear();
    }

    fn connection(&self) -> RedisResult<Connection> {
        if let Some(c) = lock(&self.pool).pop() {
            return Ok(c);
        }
        let c = self.client.get_connection_with_timeout(self.timeout)?;
        c.set_read_timeout(Some(self.timeout))?;
        c.set_write_timeout(Some(self.timeout))?;
        Ok(c)
    }

    /// Runs `op` on a connection; `None` when Redis is (or just became) unreachable: the caller
    /// then falls back to the local state. A broken pooled connection (Redis restarted) is
    /// retried once on a fresh one before Redis is declared down.
    fn run<T>(&self, op: impl Fn(&mut Connection) -> RedisResult<T>) -> Option<T> {
        {
            let h = lock(&self.health);
            if !h.healthy && h.failed_at.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                return None;
            }
        }
        if !lock(&self.health).healthy && !self.recover() {
            return None;
        }
        for attempt in 0..2 {
            let mut conn = match self.connection() {
                Ok(c) => c,
                Err(e) => {
                    self.mark_down(&e);
                    return None;
                }
            };
            match op(&mut conn) {
                Ok(v) => {
                    lock(&self.pool).push(conn);
                    return Some(v);
                }
                Err(e) if attempt == 0 && is_connection_error(&e) => {
                    // Pooled connections may all be stale after a restart: start afresh.
                    lock(&self.pool).clear();
                }
                Err(e) => {
                    self.mark_down(&e);
                    return None;
                }
            }
        }
        None
    }

    /// After an outage: replays the journal into Redis, then marks it healthy. `false` if
    /// Redis is still unreachable (or another thread is replaying: this one falls back).
    fn recover(&self) -> bool {
        if self.replaying.swap(true, Ordering::AcqRel) {
            return false;
        }
        let ok = (|| -> RedisResult<()> {
            let mut conn = self.connection()?;
            redis::cmd("PING").query::<String>(&mut conn)?;
            loop {
                let batch: Vec<Journaled> = {
                    let j = lock(&self.journal);
                    j.iter().take(512).cloned().collect()
                };
                if batch.is_empty() {
                    break;
                }
                for item in &batch {
                    self.apply(&mut conn, item)?;
                }
                let mut j = lock(&self.journal);
                for _ in 0..batch.len() {
                    j.pop_front();
                }
                self.replayed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            lock(&self.pool).push(conn);
            Ok(())
        })();
        let healthy = match ok {
            Ok(()) => {
                let mut h = lock(&self.health);
                h.healthy = true;
                h.failed_at = None;
                true
            }
            Err(e) => {
                self.mark_down(&e);
                false
            }
        };
        self.replaying.store(false, Ordering::Release);
        healthy
    }

    fn journal(&self, item: Journaled) {
        let mut j = lock(&self.journal);
        if j.len() >= JOURNAL_MAX {
            j.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        j.push_back(item);
    }

    fn apply(&self, conn: &mut Connection, item: &Journaled) -> RedisResult<()> {
        match item {
            Journaled::Call { call_id, lease_ms } => {
                self.call_lease(call_id, *lease_ms).query(conn)
            }
            Journaled::Answered {
                call_id,
                target,
                now_ms,
            } => self
                .scripts
                .answered
                .key(self.key("slot", target))
                .key(self.key("end", call_id))
                .key(self.key("call", call_id))
                .key(self.key("early", call_id))
                .key(self.key("held", call_id))
                .arg(call_id)
                .arg(target)
                .arg(now_ms)
                .arg(DEFAULT_LEASE_MS)
                .arg(KEEP_MS)
                .invoke::<i64>(conn)
                .map(drop),
            Journaled::Ended {
                call_id, target, ..
            } => self
                .scripts
                .ended
                .key(self.key("slot", target))
                .key(self.key("end", call_id))
                .key(self.key("held", call_id))
                .arg(call_id)
                .arg(target)
                .arg(KEEP_MS)
                .invoke::<i64>(conn)
                .map(drop),
            Journaled::Withdraw { key, member } => redis::cmd("ZREM")
                .arg(self.key("pc", key))
                .arg(member)
                .query::<i64>(conn)
                .map(drop),
            Journaled::EndedCall { call_id, .. } => self
                .scripts
                .ended_call
                .key(self.key("held", call_id))
                .key(self.key("end", call_id))
                .arg(call_id)
                .arg(self.key("slot", ""))
                .arg(KEEP_MS)
                .invoke::<i64>(conn)
                .map(drop),
        }
    }

    fn fell_back(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// A call event: applied in Redis, or (unreachable) locally and journaled for the replay.
    fn event(&self, item: Journaled) {
        if self.run(|c| self.apply(c, &item)).is_some() {
            return;
        }
        self.fell_back();
        match &item {
            Journaled::Call { call_id, lease_ms } => {
                self.local.remember_call(call_id, *lease_ms, 0);
            }
            Journaled::Answered {
                call_id,
                target,
                now_ms,
            } => self.local.answered(call_id, target, *now_ms),
            Journaled::Ended {
                call_id,
                target,
                now_ms,
            } => self.local.ended(call_id, target, *now_ms),
            Journaled::EndedCall { call_id, now_ms } => self.local.ended_call(call_id, *now_ms),
            // Counted in Redis: nothing here to take back until the replay does.
            Journaled::Withdraw { .. } => {}
        }
        self.journal(item);
    }
}

fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// The writer thread: lease lengths, pipelined in batches of whatever is waiting.
fn write_behind(inner: &Inner, rx: &Receiver<Write>) {
    while let Ok(first) = rx.recv() {
        let mut items = vec![first];
        while items.len() < 1024 {
            match rx.try_recv() {
                Ok(item) => items.push(item),
                Err(_) => break,
            }
        }
        let mut batch = Vec::with_capacity(items.len());
        let mut flushes = Vec::new();
        for item in items {
            match item {
                Write::Call(call_id, lease_ms) => batch.push((call_id, lease_ms)),
                Write::Flush(done) => flushes.push(done),
            }
        }
        if !batch.is_empty() {
            let written = inner.run(|conn| {
                let mut pipe = redis::pipe();
                for (call_id, lease_ms) in &batch {
                    pipe.add_command(inner.call_lease(call_id, *lease_ms))
                        .ignore();
                }
                pipe.query::<()>(conn)
            });
            if written.is_none() {
                for (call_id, lease_ms) in batch {
                    inner.fell_back();
                    inner.local.remember_call(&call_id, lease_ms, 0);
                    inner.journal(Journaled::Call { call_id, lease_ms });
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn parse_placed(s: &str) -> Option<(i64, u64)> {
    let (t, seq) = s.split_once(':')?;
    Some((t.parse().ok()?, seq.parse().ok()?))
}

impl StateStore for RedisState {
    fn next_rotation(&self, group: &str) -> u64 {
        let i = &self.inner;
        let key = i.key("rr", group);
        if let Some(v) = i.run(|c| redis::cmd("INCR").arg(&key).query::<i64>(c)) {
            (v - 1) as u64
        } else {
            i.fell_back();
            i.local.next_rotation(group)
        }
    }

    fn weighted_first(&self, group: &str, members: &[(&str, u32)]) -> usize {
        let i = &self.inner;
        let key = i.key("wc", group);
        let got = i.run(|c| {
            let mut inv = i.scripts.weighted.key(&key);
            for (name, weight) in members {
                inv.arg(*name).arg(*weight);
            }
            inv.invoke::<i64>(c)
        });
        match got {
            Some(v) if (v as usize) < members.len() => v as usize,
            _ => {
                i.fell_back();
                i.local.weighted_first(group, members)
            }
        }
    }

    fn active_calls(&self, target: &str, now_ms: i64) -> u32 {
        self.active_calls_many(&[target], now_ms)[0]
    }

    fn active_calls_many(&self, targets: &[&str], now_ms: i64) -> Vec<u32> {
        let i = &self.inner;
        let got = i.run(|c| {
            let mut inv = i.scripts.active_many.prepare_invoke();
            for t in targets {
                inv.key(i.key("slot", t));
            }
            inv.arg(now_ms);
            inv.invoke::<Vec<u32>>(c)
        });
        match got {
            Some(v) if v.len() == targets.len() => v,
            _ => {
                i.fell_back();
                i.local.active_calls_many(targets, now_ms)
            }
        }
    }

    fn last_placed_first(&self, group: &str, target: &str) -> Option<(i64, u64)> {
        self.last_placed_first_many(group, &[target])[0]
    }

    fn last_placed_first_many(&self, group: &str, targets: &[&str]) -> Vec<Option<(i64, u64)>> {
        let i = &self.inner;
        let key = i.key("lb", group);
        let got = i.run(|c| {
            let mut inv = i.scripts.placed_many.key(&key);
            for t in targets {
                inv.arg(*t);
            }
            inv.invoke::<Vec<String>>(c)
        });
        match got {
            Some(v) if v.len() == targets.len() => v.iter().map(|s| parse_placed(s)).collect(),
            _ => {
                i.fell_back();
                i.local.last_placed_first_many(group, targets)
            }
        }
    }

    fn least_busy_view(
        &self,
        group: &str,
        targets: &[&str],
        now_ms: i64,
    ) -> Vec<(u32, Option<(i64, u64)>)> {
        let i = &self.inner;
        let got = i.run(|c| {
            let mut inv = i.scripts.least_busy_view.key(i.key("lb", group));
            for t in targets {
                inv.key(i.key("slot", t));
            }
            inv.arg(now_ms);
            for t in targets {
                inv.arg(*t);
            }
            inv.invoke::<Vec<String>>(c)
        });
        match got {
            Some(v) if v.len() == targets.len() * 2 => v
                .chunks(2)
                .map(|pair| (pair[0].parse().unwrap_or(0), parse_placed(&pair[1])))
                .collect(),
            _ => {
                i.fell_back();
                i.local.least_busy_view(group, targets, now_ms)
            }
        }
    }

    fn mark_placed_first(&self, group: &str, target: &str, now_ms: i64) {
        let i = &self.inner;
        let keys = (i.key("lb", group), format!("{}:lbseq", i.prefix));
        let done = i.run(|c| {
            i.scripts
                .mark_placed
                .key(&keys.0)
                .key(&keys.1)
                .arg(target)
                .arg(now_ms)
                .invoke::<i64>(c)
        });
        if done.is_none() {
            i.fell_back();
            i.local.mark_placed_first(group, target, now_ms);
        }
    }

    fn admit_caller(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
        limit: u32,
    ) -> Option<Admission> {
        let i = &self.inner;
        let zkey = i.key("pc", key);
        let member = format!(
            "{now_ms}:{}:{}",
            i.node,
            i.admitted.fetch_add(1, Ordering::Relaxed)
        );
        let got = i.run(|c| {
            i.scripts
                .admit
                .key(&zkey)
                .arg(now_ms)
                .arg(window_ms)
                .arg(limit)
                .arg(&member)
                .arg(window_ms.max(0) + KEEP_MS)
                .invoke::<i64>(c)
        });
        match got {
            Some(1) => Some(Admission::Shared(member)),
            Some(_) => None,
            None => {
                i.fell_back();
                i.local.admit_caller(key, now_ms, window_ms, limit)
            }
        }
    }

    fn withdraw_caller(&self, key: &str, admission: &Admission) {
        let Admission::Shared(member) = admission else {
            // Counted in process while Redis was unreachable: taken back there.
            self.inner.local.withdraw_caller(key, admission);
            return;
        };
        self.inner.event(Journaled::Withdraw {
            key: key.to_string(),
            member: member.clone(),
        });
    }

    fn remember_call(&self, call_id: &str, lease_ms: i64, _now_ms: i64) {
        if call_id.is_empty() {
            return;
        }
        // Written behind: the decision does not wait for it. An ANSWERED that reaches another
        // node within that gap takes the default lease (4 h), which this write then shortens
        // (`CALL_LEASE`).
        if lock(&self.calls)
            .send(Write::Call(call_id.to_string(), lease_ms))
            .is_err()
        {
            self.inner.event(Journaled::Call {
                call_id: call_id.to_string(),
                lease_ms,
            });
        }
    }

    fn answered(&self, call_id: &str, target: &str, now_ms: i64) {
        self.flush();
        self.inner.event(Journaled::Answered {
            call_id: call_id.to_string(),
            target: target.to_string(),
            now_ms,
        });
    }

    fn ended(&self, call_id: &str, target: &str, now_ms: i64) {
        self.inner.event(Journaled::Ended {
            call_id: call_id.to_string(),
            target: target.to_string(),
            now_ms,
        });
    }

    fn ended_call(&self, call_id: &str, now_ms: i64) {
        self.inner.event(Journaled::EndedCall {
            call_id: call_id.to_string(),
            now_ms,
        });
    }

    fn remember_decision(&self, decision: &Decision) {
        // Records are built on the node that routed the call (its decision is kept here).
        self.inner.local.remember_decision(decision);
    }

    fn recall_decision(&self, call_id: &str) -> Option<Arc<Decision>> {
        self.inner.local.recall_decision(call_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_busy_marks_parse() {
        assert_eq!(
            parse_placed("1700000000000:42"),
            Some((1_700_000_000_000, 42))
        );
        assert_eq!(parse_placed("-5:0"), Some((-5, 0)));
        assert_eq!(parse_placed(""), None, "never placed first");
        assert_eq!(parse_placed("12"), None);
        assert_eq!(parse_placed("x:1"), None);
    }

    /// A `redis-server` of its own on a Unix socket in a fresh directory (no port another test
    /// could take), killed when dropped. It saves only when asked (`SAVE`), into that directory,
    /// and loads that on a restart: an outage that keeps the data.
    struct TestRedis {
        process: Option<std::process::Child>,
        dir: std::path::PathBuf,
    }

    impl TestRedis {
        fn start() -> TestRedis {
            static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = STARTED.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("routecore-redis-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir); // a killed run's, with its saved data
            std::fs::create_dir_all(&dir).unwrap();
            let mut redis = TestRedis { process: None, dir };
            redis.restart();
            redis
        }

        /// Starts the server (again), and waits until it answers.
        fn restart(&mut self) {
            let log = std::fs::File::create(self.dir.join("redis.log")).unwrap();
            let process = std::process::Command::new("redis-server")
                .args(["--port", "0", "--unixsocket"])
                .arg(self.dir.join("redis.sock"))
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(&self.dir)
                .stdout(log)
                .spawn()
                .expect(
                    "redis-server (Debian package redis-server, installed by `make system-deps`)",
                );
            self.process = Some(process);
            let started = std::time::Instant::now();
            while self.query::<String>(&mut redis::cmd("PING")).is_err() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                let process = self.process.as_mut().unwrap();
                assert!(
                    process.try_wait().unwrap().is_none(),
                    "redis-server exited:\n{log}"
                );
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "redis-server did not answer:\n{log}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        /// Saves the data, then stops the server: connections fail until `restart`.
        fn save_and_stop(&mut self) {
            self.query::<()>(&mut redis::cmd("SAVE")).unwrap();
            if let Some(mut process) = self.process.take() {
                let _ = process.kill();
                let _ = process.wait();
            }
        }

        fn url(&self) -> String {
            format!(
                "redis+unix://{}?db=0",
                self.dir.join("redis.sock").display()
            )
        }

        fn query<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> RedisResult<T> {
            let mut conn = redis::Client::open(self.url())?.get_connection()?;
            cmd.query(&mut conn)
        }
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            if let Some(mut process) = self.process.take() {
                let _ = process.kill();
                let _ = process.wait();
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn a_take_back_while_redis_is_unreachable_is_journaled_and_replayed() {
        let mut redis = TestRedis::start();
        let state = RedisState::connect(&redis.url(), "t", Duration::from_millis(200)).unwrap();
        let now = 1_794_362_400_000;
        let admission = state
            .admit_caller("13312345678", now, 60_000, 3)
            .expect("admitted");
        assert!(matches!(admission, Admission::Shared(_)));
        let window = state.inner.key("pc", "13312345678");
        let counted = |redis: &TestRedis| {
            redis
                .query::<u64>(redis::cmd("ZCARD").arg(&window))
                .unwrap()
        };
        assert_eq!(counted(&redis), 1);
        // Redis goes away between the count and the take-back, and comes back with its data.
        redis.save_and_stop();
        state.withdraw_caller("13312345678", &admission);
        let status = state.status();
        assert!(!status.healthy && status.journaled == 1, "{status:?}");
        redis.restart();
        assert_eq!(counted(&redis), 1, "the take-back waits in the journal");
        std::thread::sleep(RETRY_AFTER);
        // The next step replays the journal first: the call is taken back, and the caller's
        // window holds only the new one.
        let next = state.admit_caller("13312345678", now + 1, 60_000, 3);
        assert!(matches!(next, Some(Admission::Shared(_))), "{next:?}");
        let status = state.status();
        assert!(
            status.healthy && status.journaled == 0 && status.replayed == 1,
            "{status:?}"
        );
        assert_eq!(counted(&redis), 1);
    }

    #[test]
    fn unreachable_redis_refuses_to_start() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let err = RedisState::connect("redis://127.0.0.1:1/0", "t", Duration::from_millis(200))
            .err()
            .expect("no Redis on port 1");
        assert!(is_connection_error(&err), "{err}");
        assert!(RedisState::connect("not a url", "t", Duration::from_millis(200)).is_err());
    }
}
