//! Automatic prefix caching: hit counts against an independent LRU replay, a hand-computed
//! TTFT, conservation and skip-ahead equivalence under memory pressure, affinity routing, and
//! the multi-turn TTFT gain.

use crate::common;

use common::*;
use parallax_sim::workload::{self, Prefix, Request, Workload};
use parallax_sim::*;
use std::collections::VecDeque;
use std::sync::Arc;

fn cfg(kind: SchedulerKind, caching: bool) -> SimConfig {
    SimConfig {
        scheduler: SchedulerConfig {
            watermark: 0.0,
            max_num_batched_tokens: 1 << 20,
            ..SchedulerConfig::new(kind)
        },
        prefix_caching: caching,
        ..SimConfig::default()
    }
}

/// A tiny deterministic generator for the test's random workloads.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Content key of block `b` of request `id` (the model the docs state, written out again).
fn key(id: u64, prefix: Option<Prefix>, b: u64, bs: u64) -> (bool, u64, u64) {
    match prefix {
        Some(p) if (b + 1) * bs <= p.tokens as u64 => (true, p.stream, b),
        _ => (false, id, b),
    }
}

/// Requests far apart (each finishes before the next arrives), some sharing one of three
/// system prompts, some turns of two conversations, some alone.
fn sequential(seed: u64, n: usize) -> Workload {
    let mut g = Lcg(seed);
    let mut conv_last: [Option<(u32, u32)>; 2] = [None, None];
    let mut reqs = Vec::new();
    for i in 0..n {
        let out = 1 + g.below(40) as u32;
        let (prompt, prefix) = match g.below(4) {
            0 => (1 + g.below(60) as u32, None),
            1 | 2 => {
                let k = 8 + 12 * g.below(3) as u32 + g.below(3) as u32;
                let p = k + 1 + g.below(30) as u32;
                (
                    p,
                    Some(Prefix {
                        stream: g.below(3),
                        tokens: k,
                    }),
                )
            }
            _ => {
                let c = g.below(2) as usize;
                let p = match conv_last[c] {
                    Some((p, o)) => p + o + 1 + g.below(20) as u32,
                    None => 1 + g.below(30) as u32,
                };
                conv_last[c] = Some((p, out));
                (
                    p,
                    Some(Prefix {
                        stream: 10 + c as u64,
                        tokens: p + out,
                    }),
                )
            }
        };
        reqs.push(Request {
            id: i as u64,
            arrival_s: 1000.0 * i as f64,
            prompt_tokens: prompt,
            output_tokens: out,
            prefix,
        });
    }
    Workload::new("sequential", reqs).unwrap()
}

/// Independent replay of the block sequence with an LRU of free cached blocks holding at
/// most the free memory, and a host LRU of `cpu` blocks that evicted blocks go to. Returns
/// (hit blocks, evictions, host-tier hit blocks).
fn replay(w: &Workload, capacity: u64, bs: u64, cpu: u64) -> (u64, u64, u64) {
    type Key = (bool, u64, u64);
    let mut lru: VecDeque<Key> = VecDeque::new();
    let mut host: VecDeque<Key> = VecDeque::new();
    let put = |host: &mut VecDeque<Key>, k: Key| {
        if cpu == 0 {
            return;
        }
        if let Some(pos) = host.iter().position(|&x| x == k) {
            host.remove(pos);
        }
        host.push_back(k);
        if host.len() as u64 > cpu {
            host.pop_front();
        }
    };
    let (mut hits, mut evictions, mut cpu_hits) = (0u64, 0u64, 0u64);
    for r in &w.requests {
        let (p, o) = (r.prompt_tokens as u64, r.output_tokens as u64);
        let k = |b: u64| key(r.id, r.prefix, b, bs);
        // Lookup: leading cached blocks, leaving at least one token to compute.
        let mut h = 0;
        while h < (p - 1) / bs {
            match lru.iter().position(|&x| x == k(h)) {
                Some(pos) => {
                    lru.remove(pos);
                    h += 1;
                }
                None => break,
            }
        }
        let mut c = 0;
        while h + c < (p - 1) / bs && host.contains(&k(h + c)) {
            c += 1;
        }
        for b in h..h + c {
            put(&mut host, k(b));
        }
        hits += h + c;
        cpu_hits += c;
        let mut in_use = p.div_ceil(bs);
        let evict =
            |lru: &mut VecDeque<Key>, host: &mut VecDeque<Key>, in_use: u64, ev: &mut u64| {
                while lru.len() as u64 > capacity - in_use {
                    let k = lru.pop_front().unwrap();
                    put(host, k);
                    *ev += 1;
                }
            };
        evict(&mut lru, &mut host, in_use, &mut evictions);
        // Computed prompt blocks already cached (free) are shared; the request's copy is freed.
        for b in h..p / bs {
            if let Some(pos) = lru.iter().position(|&x| x == k(b)) {
                lru.remove(pos);
                in_use -= 1;
            }
        }
        in_use += (p + o - 1).div_ceil(bs) - p.div_ceil(bs);
        evict(&mut lru, &mut host, in_use, &mut evictions);
        // Decode blocks: the same check when they are registered at the end.
        for b in (p / bs).max(h)..(p + o - 1) / bs {
            if let Some(pos) = lru.iter().position(|&x| x == k(b)) {
                lru.remove(pos);
            }
        }
        for b in (0..(p + o - 1) / bs).rev() {
            lru.push_back(k(b));
        }
    }
    (hits, evictions, cpu_hits)
}

#[test]
fn hit_counts_equal_an_independent_lru_replay() {
    let bs = 4;
    let mut all_evictions = 0;
    for seed in 0..12 {
        for capacity in [30u64, 60, 200] {
            let w = sequential(seed, 80);
            let rep = run(
                vec![const_replica(0.01, capacity, bs as u32)],
                cfg(SchedulerKind::VllmV0, true),
                &w,
            );
            assert_eq!(
                rep.metrics.requests.completed + rep.metrics.requests.rejected,
                80
            );
            let done: Vec<Request> = w
                .requests
                .iter()
                .zip(&rep.requests)
                .filter(|(_, r)| r.completed)
                .map(|(q, _)| *q)
                .collect();
            let done = Workload::new("done", done).unwrap();
            let (hits, evictions, _) = replay(&done, capacity, bs, 0);
            let m = rep.metrics.prefix_cache.expect("caching on");
            assert_eq!(m.hit_blocks, hits, "seed {seed}, capacity {capacity}");
            assert_eq!(m.hit_tokens, hits * bs);
            assert_eq!(
                m.evicted_blocks, evictions,
                "seed {seed}, capacity {capacity}"
            );
            assert!(hits > 0, "the workload must exercise hits");
            all_evictions += evictions;
        }
    }
    assert!(all_evictions > 100, "the workload must exercise eviction");
}

#[derive(Debug)]
struct PrefillCost;
impl StageCost for PrefillCost {
    fn step(&self, b: &parallax_ir::Batch) -> StepCost {
        StepCost::constant(
            0.001 + 1e-4 * b.prefill_tokens() as f64,
            parallax_ir::OpKind::Gemm,
        )
    }
}

#[test]
fn hand_computed_ttft_of_a_shared_prefix() {
    // Block 16. A: 40 prompt tokens (32 of them the shared system prompt), 2 outputs.
    // B arrives later with the same system prompt: blocks 0 and 1 (32 tokens) are cached,
    // so B prefills 8 tokens: TTFT = 1 ms + 8 × 0.1 ms = 1.8 ms (A: 1 ms + 4 ms = 5 ms).
    let sys = Some(Prefix {
        stream: 7,
        tokens: 32,
    });
    let w = Workload::new(
        "two",
        vec![
            Request {
                id: 0,
                arrival_s: 0.0,
                prompt_tokens: 40,
                output_tokens: 2,
                prefix: sys,
            },
            Request {
                id: 1,
                arrival_s: 1.0,
                prompt_tokens: 40,
                output_tokens: 2,
                prefix: sys,
            },
        ],
    )
    .unwrap();
    let rep = run(
        vec![replica(vec![Arc::new(PrefillCost)], 100, 16)],
        cfg(SchedulerKind::VllmV0, true),
        &w,
    );
    assert!((rep.requests[0].ttft_s() - 0.005).abs() < 1e-12);
    assert!((rep.requests[1].ttft_s() - 0.0018).abs() < 1e-12);
    let m = rep.metrics.prefix_cache.unwrap();
    assert_eq!((m.queries, m.query_tokens, m.hit_tokens), (2, 80, 32));
    assert!((m.hit_rate - 0.4).abs() < 1e-12);
    // One inter-token gap per request: the decode step after the prefill (1 ms each).
    assert_eq!(rep.metrics.itl_ms.count, 2);
    assert!((rep.metrics.itl_ms.mean - 1.0).abs() < 1e-9);
    // Without caching B pays the full prefill.
    let off = run(
        vec![replica(vec![Arc::new(PrefillCost)], 100, 16)],
        cfg(SchedulerKind::VllmV0, false),
        &w,
    );
    assert!((off.requests[1].ttft_s() - 0.005).abs() < 1e-12);
    assert!(off.metrics.prefix_cache.is_none());
}

/// A loaded multi-turn + shared-prompt workload.
fn loaded() -> Workload {
    let a = workload::spec::generate(
        "synthetic:requests=240,rate=40,prompt=uniform(10,200),output=uniform(1,80),turns=4,think=0.05,seed=3",
    )
    .unwrap();
    let b = workload::spec::generate(
        "synthetic:requests=200,rate=40,prompt=uniform(1,100),output=uniform(1,60),prefix=shared(70),share=0.7,prompts=3,seed=4",
    )
    .unwrap();
    // Keep the two families apart: shift the shared-prompt streams.
    let mut reqs: Vec<Request> = a.requests;
    for mut r in b.requests {
        r.id += 1000;
        if let Some(p) = &mut r.prefix {
            p.stream += 1000;
        }
        reqs.push(r);
    }
    Workload::new("loaded", reqs).unwrap()
}

#[test]
fn conservation_and_skip_ahead_hold_with_caching_under_a_tiny_kv_cache() {
    let w = loaded();
    for kind in SchedulerKind::ALL {
        for blocks in [120u64, 400] {
            let mut c = cfg(kind, true);
            c.scheduler.max_num_batched_tokens = 2048;
            let fast = run(vec![const_replica(0.002, blocks, 8)], c, &w);
            c.skip_ahead = false;
            let slow = run(vec![const_replica(0.002, blocks, 8)], c, &w);
            assert_eq!(fast, slow, "{kind:?} {blocks}: skip-ahead changed results");
            let m = &fast.metrics;
            assert_eq!(m.requests.unfinished, 0, "{kind:?} {blocks}");
            let out: u64 = w
                .requests
                .iter()
                .zip(&fast.requests)
                .filter(|(_, r)| r.completed)
                .map(|(q, _)| q.output_tokens as u64)
                .sum();
            assert_eq!(m.tokens.output, out);
            // One gap per token after the first, plus at most one stall per preemption.
            let base = out - m.requests.completed;
            assert!(m.itl_ms.count >= base && m.itl_ms.count <= base + m.requests.preemptions);
            if blocks == 120 && kind != SchedulerKind::Static {
                assert!(m.requests.preemptions > 0, "{kind:?}: expected pressure");
            }
            assert!(m.prefix_cache.unwrap().hit_tokens > 0);
        }
    }
}

#[test]
fn affinity_router_keeps_a_conversation_on_its_replica() {
    let w = workload::spec::generate(
        "synthetic:requests=60,rate=2,prompt=uniform(10,100),output=uniform(1,20),turns=5,think=2,seed=9",
    )
    .unwrap();
    let reps = || (0..3).map(|_| const_replica(0.002, 2000, 16)).collect();
    let mut c = cfg(SchedulerKind::Chunked, true);
    c.scheduler.max_num_batched_tokens = 8192;
    c.router = RouterPolicy::PrefixAffinity;
    let aff = run(reps(), c, &w);
    c.router = RouterPolicy::RoundRobin;
    let rr = run(reps(), c, &w);
    let mut conv_rep = std::collections::BTreeMap::new();
    for (q, r) in w.requests.iter().zip(&aff.requests) {
        let s = q.prefix.unwrap().stream;
        let first = *conv_rep.entry(s).or_insert(r.replica);
        assert_eq!(first, r.replica, "conversation {s} moved");
    }
    let (a, b) = (
        aff.metrics.prefix_cache.unwrap().hit_rate,
        rr.metrics.prefix_cache.unwrap().hit_rate,
    );
    assert!(a > b, "affinity {a} vs round-robin {b}");
    // The affinity router needs the cache.
    c.router = RouterPolicy::PrefixAffinity;
    c.prefix_caching = false;
    assert!(Simulator::new(reps(), c).is_err());
}

#[test]
fn multi_turn_conversations_gain_ttft() {
    let w = workload::spec::generate(
        "synthetic:requests=400,rate=4,prompt=lognormal(300,200),output=lognormal(150,100),turns=5,think=10,seed=1",
    )
    .unwrap();
    let rep = |caching| {
        let mut c = cfg(SchedulerKind::Chunked, caching);
        c.scheduler.max_num_batched_tokens = 2048;
        run(vec![replica(vec![affine()], 20_000, 16)], c, &w)
    };
    let (on, off) = (rep(true), rep(false));
    assert_eq!(on.metrics.requests.completed, 400);
    let hit = on.metrics.prefix_cache.unwrap().hit_rate;
    assert!(hit > 0.5, "hit rate {hit}");
    assert!(
        on.metrics.ttft_ms.mean < off.metrics.ttft_ms.mean,
        "{} vs {}",
        on.metrics.ttft_ms.mean,
        off.metrics.ttft_ms.mean
    );
}

#[test]
fn trace_columns_give_prefix_identity() {
    let jsonl = concat!(
        r#"{"ContextTokens":100,"GeneratedTokens":20,"StartTimeOffset":0,"conversation_id":"a"}"#,
        "\n",
        r#"{"ContextTokens":50,"GeneratedTokens":5,"StartTimeOffset":1000,"prefix_id":7,"prefix_tokens":30}"#,
        "\n",
        r#"{"ContextTokens":130,"GeneratedTokens":9,"StartTimeOffset":2000,"conversation_id":"a"}"#,
        "\n",
        r#"{"ContextTokens":10,"GeneratedTokens":9,"StartTimeOffset":3000}"#,
        "\n",
    );
    let w = workload::parse("t.jsonl", jsonl).unwrap();
    let p: Vec<Option<Prefix>> = w.requests.iter().map(|r| r.prefix).collect();
    let conv = p[0].unwrap().stream;
    assert_eq!(p[0].unwrap().tokens, 120);
    assert_eq!(
        p[2],
        Some(Prefix {
            stream: conv,
            tokens: 139
        })
    );
    assert_eq!(p[1].unwrap().tokens, 30);
    assert_ne!(p[1].unwrap().stream, conv);
    assert_eq!(p[3], None);
    let csv = "arrived_at,num_prefill_tokens,num_decode_tokens,conversation_id\n0,100,20,x\n1,50,5,\n2,119,3,x\n";
    let e = workload::parse("t.csv", csv).unwrap_err().to_string();
    assert!(
        e.contains("t.csv") && e.contains(":4:") && e.contains("conversation_id"),
        "{e}"
    );
    let csv =
        "arrived_at,num_prefill_tokens,num_decode_tokens,prefix_id,prefix_tokens\n0,10,2,s,11\n";
    let e = workload::parse("t.csv", csv).unwrap_err().to_string();
    assert!(e.contains("prefix_tokens") && e.contains("11"), "{e}");
    let csv = "arrived_at,num_prefill_tokens,num_decode_tokens,prefix_id\n0,10,2,s\n";
    assert!(workload::parse("t.csv", csv).is_err());
    // Synthetic keys.
    let s = workload::spec::generate(
        "synthetic:requests=6,rate=1,prompt=fixed(10),output=fixed(4),turns=3,think=2",
    )
    .unwrap();
    let lens: Vec<u32> = s.requests.iter().map(|r| r.prompt_tokens).collect();
    assert_eq!(s.requests.len(), 6);
    assert!(lens.contains(&24) && lens.contains(&38));
    for bad in [
        "synthetic:requests=6,rate=1,prompt=fixed(10),output=fixed(4),share=0.5",
        "synthetic:requests=6,rate=1,prompt=fixed(10),output=fixed(4),prefix=shared(x)",
        "synthetic:requests=6,rate=1,prompt=fixed(10),output=fixed(4),prefix=shared(5),turns=2",
        "synthetic:requests=6,rate=1,prompt=fixed(10),output=fixed(4),prefix=shared(5),share=2",
    ] {
        assert!(workload::spec::generate(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_timeline_shows_cached_tokens() {
    let w = workload::spec::generate(
        "synthetic:requests=20,rate=1,prompt=fixed(40),output=fixed(3),prefix=shared(64),seed=1",
    )
    .unwrap();
    let mut c = cfg(SchedulerKind::VllmV0, true);
    c.record_timeline = true;
    let rep = run(vec![const_replica(0.01, 500, 16)], c, &w);
    let tl = rep.timeline.as_ref().unwrap();
    let cached: u64 = tl.iter().map(|s| s.cached_tokens).sum();
    assert_eq!(cached, rep.metrics.prefix_cache.unwrap().hit_tokens);
    assert!(cached > 0);
    assert!(chrome_trace(&rep).contains("\"cached_tokens\":64"));
    c.prefix_caching = false;
    let off = run(vec![const_replica(0.01, 500, 16)], c, &w);
    assert!(!chrome_trace(&off).contains("cached_tokens"));
}

/// Constant step time with a host link of 1 byte per token (so host-tier bytes = tokens).
#[derive(Debug)]
struct Linked;
impl StageCost for Linked {
    fn step(&self, b: &parallax_ir::Batch) -> StepCost {
        StepCost::constant(
            0.01 + 1e-5 * b.prefill_tokens() as f64,
            parallax_ir::OpKind::Gemm,
        )
    }
    fn host_link(&self) -> Option<HostLink> {
        Some(HostLink {
            kv_bytes_per_token: 1.0,
            bandwidth: 1e5,
        })
    }
}

#[test]
fn host_tier_hits_equal_an_independent_two_level_lru_replay() {
    let bs = 4u64;
    let mut all_cpu = 0;
    for seed in 0..8 {
        for (capacity, cpu) in [(30u64, 10u64), (30, 40), (60, 25)] {
            let w = sequential(seed, 80);
            let c = SimConfig {
                cpu_prefix_cache_bytes_per_gpu: (cpu * bs) as f64,
                ..cfg(SchedulerKind::VllmV0, true)
            };
            let rep = run(
                vec![replica(vec![Arc::new(Linked)], capacity, bs as u32)],
                c,
                &w,
            );
            let done: Vec<Request> = w
                .requests
                .iter()
                .zip(&rep.requests)
                .filter(|(_, r)| r.completed)
                .map(|(q, _)| *q)
                .collect();
            let done = Workload::new("done", done).unwrap();
            let (hits, evictions, cpu_hits) = replay(&done, capacity, bs, cpu);
            let m = rep.metrics.prefix_cache.unwrap();
            let what = format!("seed {seed}, capacity {capacity}, cpu {cpu}");
            assert_eq!(m.hit_blocks, hits, "{what}");
            assert_eq!(m.evicted_blocks, evictions, "{what}");
            assert_eq!(m.offloaded_blocks, evictions, "{what}");
            assert_eq!(m.cpu_hit_tokens, cpu_hits * bs, "{what}");
            // Loads are priced by bytes over the link: 1 byte per token at 1e5 B/s.
            assert!(
                (m.cpu_load_s - (cpu_hits * bs) as f64 / 1e5).abs() < 1e-9,
                "{what}"
            );
            all_cpu += cpu_hits;
        }
    }
    assert!(all_cpu > 50, "the workload must exercise the host tier");
}

#[test]
fn the_host_tier_needs_prefix_caching_and_a_host_link() {
    let mut c = cfg(SchedulerKind::VllmV0, false);
    c.cpu_prefix_cache_bytes_per_gpu = 1e9;
    assert!(Simulator::new(vec![replica(vec![Arc::new(Linked)], 100, 16)], c).is_err());
    c.prefix_caching = true;
    assert!(Simulator::new(vec![replica(vec![Arc::new(Linked)], 100, 16)], c).is_ok());
    let e = Simulator::new(vec![const_replica(0.01, 100, 16)], c).unwrap_err();
    assert!(e.to_string().contains("host_link"), "{e}");
}

#[test]
fn the_host_tier_keeps_conservation_and_skip_ahead_under_pressure() {
    let w = loaded();
    for kind in [SchedulerKind::VllmV0, SchedulerKind::Chunked] {
        let mut c = cfg(kind, true);
        c.scheduler.max_num_batched_tokens = 2048;
        c.cpu_prefix_cache_bytes_per_gpu = 4000.0;
        c.preemption = PreemptionMode::Swap;
        let fast = run(vec![replica(vec![Arc::new(Linked)], 120, 8)], c, &w);
        c.skip_ahead = false;
        let slow = run(vec![replica(vec![Arc::new(Linked)], 120, 8)], c, &w);
        assert_eq!(fast, slow, "{kind:?}");
        let m = &fast.metrics;
        assert_eq!(m.requests.unfinished, 0);
        assert_eq!(m.requests.completed + m.requests.rejected, w.len() as u64);
        assert!(m.prefix_cache.unwrap().cpu_hit_tokens > 0, "{kind:?}");
        assert!(m.requests.preemptions > 0, "{kind:?}");
    }
}
