//! Automatic prefix caching: a per-engine table of KV blocks by content, with LRU eviction, as
//! vLLM's block pool does it.
//!
//! # Model
//! A full KV block is identified by its content: block `b` of a request is block `b` of its
//! prefix stream when the stream covers it (`(b + 1) · block ≤ Prefix::tokens`), otherwise
//! block `b` of the request alone (which a recompute after preemption can still reuse).
//! Equal keys mean equal chained content, as vLLM's hash of (parent hash, block tokens).
//!
//! - **Lookup** (admission of a waiting request): the longest run of leading blocks whose keys
//!   are cached, capped so at least one prompt token is computed (vLLM recomputes the last
//!   token to get logits). Hit blocks are not recomputed: the prefill starts after them.
//! - **Sharing:** a hit on a block another running request holds takes a reference and no
//!   memory; a hit on a free cached block takes it out of the free list.
//! - **Registration:** a block's key enters the table once the block is full of computed
//!   tokens — prompt blocks when their prefill chunk completes, decode blocks when the request
//!   leaves the engine (finish or preemption). If the key is already cached (two requests
//!   computed the same block at once), the newcomer's copy is freed and it shares the cached
//!   one (vLLM keeps both copies until they are freed; the difference is a few blocks for a
//!   few iterations).
//! - **Free and evict:** a leaving request drops its references, last block first (as vLLM
//!   frees in reverse, so tails are evicted before heads); a block with no reference left stays
//!   cached at the tail of an LRU list and counts as free. Allocation uses never-cached free
//!   blocks first, then evicts from the LRU head: the cache is exactly the free memory's
//!   content. (vLLM keeps one free queue for both kinds; this model never evicts a cached
//!   block while an uncached free block exists.)

use std::collections::{BTreeMap, HashMap};

/// Content identity of a full KV block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct BlockKey {
    /// Prefix stream, or [`UNIQUE`]` | request index` for blocks owned by one request.
    pub stream: u64,
    /// Block index within the stream.
    pub block: u32,
}

/// Stream tag bit of blocks that belong to a single request.
pub(crate) const UNIQUE: u64 = 1 << 63;

#[derive(Debug, Clone, Copy)]
struct Entry {
    refs: u32,
    /// LRU stamp while `refs == 0`.
    stamp: u64,
}

/// Counters of one engine's prefix cache.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CacheCounters {
    pub query_tokens: u64,
    pub hit_tokens: u64,
    pub queries: u64,
    pub hit_blocks: u64,
    pub evictions: u64,
    pub cpu_hit_tokens: u64,
    pub offloaded: u64,
}

/// A host-memory tier: blocks evicted from the GPU are kept here (LRU, bounded), and a later
/// lookup that finds them loads them back over the host link instead of recomputing them (as
/// vLLM's CPU offloading connector / LMCache do).
#[derive(Debug, Default)]
pub(crate) struct CpuTier {
    pub capacity: u64,
    map: HashMap<BlockKey, u64>,
    lru: BTreeMap<u64, BlockKey>,
    stamp: u64,
}

impl CpuTier {
    /// An empty tier of `capacity` blocks.
    pub fn new(capacity: u64) -> Self {
        CpuTier {
            capacity,
            ..CpuTier::default()
        }
    }

    /// Store (or refresh) `key` as most recently used, evicting the oldest beyond capacity.
    pub fn put(&mut self, key: BlockKey) {
        if self.capacity == 0 {
            return;
        }
        self.stamp += 1;
        if let Some(old) = self.map.insert(key, self.stamp) {
            self.lru.remove(&old);
        }
        self.lru.insert(self.stamp, key);
        while self.lru.len() as u64 > self.capacity {
            if let Some((_, k)) = self.lru.pop_first() {
                self.map.remove(&k);
            }
        }
    }

    /// Whether `key` is held.
    pub fn has(&self, key: &BlockKey) -> bool {
        self.map.contains_key(key)
    }
}

/// The table of cached blocks of one engine.
#[derive(Debug, Default)]
pub(crate) struct PrefixCache {
    map: HashMap<BlockKey, Entry>,
    /// Free cached blocks, least recently freed first.
    lru: BTreeMap<u64, BlockKey>,
    stamp: u64,
    pub counters: CacheCounters,
    /// Host tier for evicted blocks (`None`: evicted blocks are gone).
    pub cpu: Option<CpuTier>,
}

/// What registering a computed block found.
pub(crate) enum Registered {
    /// A new key: the block is now cached (memory unchanged).
    New,
    /// The key was cached already; the caller's copy is released. `true` when the cached
    /// copy was free (it is now in use, so the free count is unchanged); `false` when it was
    /// in use (one block more is free).
    Shared(bool),
}

impl PrefixCache {
    /// Evict least recently freed blocks until at most `free` free blocks hold cached content
    /// (allocations take uncached free blocks first and evict only what they must).
    pub fn trim(&mut self, free: u64) {
        while self.lru.len() as u64 > free {
            if let Some((_, key)) = self.lru.pop_first() {
                self.map.remove(&key);
                self.counters.evictions += 1;
                if let Some(cpu) = &mut self.cpu {
                    cpu.put(key);
                    self.counters.offloaded += 1;
                }
            }
        }
    }

    /// Whether `key` is cached; `Some(true)` when it is cached and free.
    pub fn probe(&self, key: &BlockKey) -> Option<bool> {
        self.map.get(key).map(|e| e.refs == 0)
    }

    /// Take a reference on a cached block; returns whether it was free.
    pub fn acquire(&mut self, key: &BlockKey) -> bool {
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        let was_free = e.refs == 0;
        if was_free {
            self.lru.remove(&e.stamp);
        }
        e.refs += 1;
        was_free
    }

    /// Register a block the caller computed and holds.
    pub fn register(&mut self, key: BlockKey) -> Registered {
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let e = o.get_mut();
                let was_free = e.refs == 0;
                if was_free {
                    self.lru.remove(&e.stamp);
                }
                e.refs += 1;
                Registered::Shared(was_free)
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry { refs: 1, stamp: 0 });
                Registered::New
            }
        }
    }

    /// Drop a reference; returns `true` when the block became free (it stays cached, at the
    /// LRU tail).
    pub fn release(&mut self, key: &BlockKey) -> bool {
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        e.refs -= 1;
        if e.refs == 0 {
            self.stamp += 1;
            e.stamp = self.stamp;
            self.lru.insert(self.stamp, *key);
            true
        } else {
            false
        }
    }
}
