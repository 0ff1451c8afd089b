//! Parameter counts of the embedded models against published figures and hand counts.

use parallax_ir::{embedded, resolve, Model};

fn model(name: &str) -> Model {
    resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_close(what: &str, actual: u64, expected: f64, tol: f64) {
    let rel = (actual as f64 - expected) / expected;
    assert!(
        rel.abs() <= tol,
        "{what}: {actual} vs {expected} ({:+.3}%, tolerance {:.1}%)",
        rel * 100.0,
        tol * 100.0
    );
}

#[test]
fn dense_totals_match_published() {
    assert_close(
        "llama-3.1-8b",
        model("llama-3.1-8b").params_total(),
        8.03e9,
        0.005,
    );
    assert_close(
        "llama-3.1-70b",
        model("llama-3.1-70b").params_total(),
        70.6e9,
        0.005,
    );
    assert_close(
        "llama-3.1-405b",
        model("llama-3.1-405b").params_total(),
        405.9e9,
        0.005,
    );
    assert_close(
        "llama-2-7b",
        model("llama-2-7b").params_total(),
        6.74e9,
        0.005,
    );
    assert_close(
        "qwen2.5-7b",
        model("qwen2.5-7b").params_total(),
        7.61e9,
        0.005,
    );
    assert_close("qwen3-8b", model("qwen3-8b").params_total(), 8.19e9, 0.005);
    // Qwen3's small models tie their embeddings (counted once): model cards 0.6B and 1.7B.
    assert_close(
        "qwen3-0.6b",
        model("qwen3-0.6b").params_total(),
        0.6e9,
        0.01,
    );
    assert_close(
        "qwen3-1.7b",
        model("qwen3-1.7b").params_total(),
        1.7e9,
        0.02,
    );
}

#[test]
fn moe_totals_and_active_match_published() {
    let m = model("mixtral-8x7b");
    assert_close("mixtral-8x7b total", m.params_total(), 46.7e9, 0.005);
    assert_close("mixtral-8x7b active", m.params_active(), 12.9e9, 0.005);
    let m = model("mixtral-8x22b");
    assert_close("mixtral-8x22b total", m.params_total(), 141e9, 0.005);
    assert_close("mixtral-8x22b active", m.params_active(), 39e9, 0.005);
    let m = model("qwen3-30b-a3b");
    assert_close("qwen3-30b-a3b total", m.params_total(), 30.5e9, 0.005);
    let m = model("qwen3-235b-a22b");
    assert_close("qwen3-235b total", m.params_total(), 235e9, 0.005);
    assert_close("qwen3-235b active", m.params_active(), 22e9, 0.01);
    let m = model("deepseek-v3");
    assert_close("deepseek-v3 total", m.params_total(), 671e9, 0.005);
    let m = model("gpt-oss-120b");
    // OpenAI's model card: 116.83B total, 5.13B active, the latter without the input embedding.
    assert_close("gpt-oss-120b total", m.params_total(), 116.83e9, 0.005);
    assert_close(
        "gpt-oss-120b total (rounded)",
        m.params_total(),
        117e9,
        0.005,
    );
    assert_close(
        "gpt-oss-120b active",
        m.params_active() - m.embedding_params(),
        5.13e9,
        0.005,
    );
    let m = model("gpt-oss-20b");
    assert_close("gpt-oss-20b total", m.params_total(), 20.91e9, 0.005);
    assert_close(
        "gpt-oss-20b active",
        m.params_active() - m.embedding_params(),
        3.61e9,
        0.005,
    );
    let m = model("llama-4-maverick");
    assert_close("llama-4-maverick active", m.params_active(), 17e9, 0.02);
}

/// Published active counts rounded to two significant digits ("3.3B", "37B") sit 1.5% below
/// the exact counts under the convention used by the same vendors' total figures (embeddings
/// included); the exact counts are pinned by hand below.
#[test]
fn rounded_active_counts() {
    assert_close(
        "qwen3-30b-a3b active",
        model("qwen3-30b-a3b").params_active(),
        3.3e9,
        0.02,
    );
    assert_close(
        "deepseek-v3 active",
        model("deepseek-v3").params_active(),
        37e9,
        0.02,
    );
}

#[test]
fn llama_3_1_8b_by_hand() {
    let (h, v, l, i, kv, hd) = (4096u64, 128256u64, 32u64, 14336u64, 8u64, 128u64);
    let attn = h * h + 2 * h * kv * hd + h * h;
    let mlp = 3 * h * i;
    let expected = 2 * v * h + h + l * (attn + mlp + 2 * h);
    let m = model("llama-3.1-8b");
    assert_eq!(m.params_total(), expected);
    assert_eq!(m.params_active(), expected);
    assert_eq!(m.embedding_params(), v * h);
    assert_eq!(m.lm_head_params(), v * h + h);
    assert_eq!(m.layers(), 32);
}

#[test]
fn deepseek_v3_by_hand() {
    let (h, v, heads) = (7168u64, 129280u64, 128u64);
    let (ql, kvl, nope, rope, vd) = (1536u64, 512u64, 128u64, 64u64, 128u64);
    let attn = h * ql
        + ql
        + ql * heads * (nope + rope)
        + h * (kvl + rope)
        + kvl
        + kvl * heads * (nope + vd)
        + heads * vd * h;
    let norms = 2 * h;
    let dense = 3 * h * 18432;
    let expert = 3 * h * 2048;
    let router = h * 256;
    let total = 2 * v * h + h + 61 * (attn + norms) + 3 * dense + 58 * (router + 257 * expert);
    let active = 2 * v * h + h + 61 * (attn + norms) + 3 * dense + 58 * (router + 9 * expert);
    let m = model("deepseek-v3");
    assert_eq!(m.params_total(), total);
    assert_eq!(m.params_active(), active);
    assert_eq!(m.layers(), 61);
}

#[test]
fn gpt_oss_120b_by_hand() {
    let (h, v, heads, kv, hd, e, i) = (2880u64, 201088u64, 64u64, 8u64, 64u64, 128u64, 2880u64);
    let attn = h * heads * hd + heads * hd // q + bias
        + 2 * (h * kv * hd + kv * hd) // k, v + biases
        + heads * hd * h + h // o + bias
        + heads; // sinks
    let expert = h * 2 * i + 2 * i + i * h + h;
    let router = h * e + e;
    let layer = attn + 2 * h + router + e * expert;
    let m = model("gpt-oss-120b");
    assert_eq!(m.params_total(), 2 * v * h + h + 36 * layer);
    assert_eq!(
        m.params_active(),
        2 * v * h + h + 36 * (attn + 2 * h + router + 4 * expert)
    );
}

#[test]
fn qwen3_moe_by_hand() {
    let (h, v, heads, kv, hd, e, ei) = (2048u64, 151936u64, 32u64, 4u64, 128u64, 128u64, 768u64);
    let attn = 2 * h * heads * hd + 2 * h * kv * hd;
    let expert = 3 * h * ei;
    let m = model("qwen3-30b-a3b");
    assert_eq!(
        m.params_total(),
        2 * v * h + h + 48 * (attn + 2 * h + h * e + e * expert)
    );
    assert_eq!(
        m.params_active(),
        2 * v * h + h + 48 * (attn + 2 * h + h * e + 8 * expert)
    );
}

#[test]
fn tied_embeddings_are_counted_once() {
    let json = r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
        "vocab_size": 1000, "max_position_embeddings": 512, "tie_word_embeddings": true}"#;
    let m = parallax_ir::hf::from_json_str(json, "tied.json").unwrap();
    assert_eq!(m.lm_head_params(), 64);
    let layer = 4 * 64 * 64 + 3 * 64 * 128 + 2 * 64;
    assert_eq!(m.params_total(), 1000 * 64 + 64 + 2 * layer);
}

#[test]
fn weight_bytes_follow_precision() {
    let m = model("llama-3.1-70b");
    assert_eq!(m.weight_bytes(), m.params_total() as f64 * 2.0);
    // fp8 checkpoint: one byte per weight, but the embedding, the LM head, every norm (two
    // per layer) and the routers of the 58 MoE layers (7168 × 256 each) in bf16, as the
    // checkpoint stores them
    let m = model("deepseek-v3");
    let head = m.unquantised_head_params() as f64;
    assert_eq!(head, 2.0 * 129280.0 * 7168.0 + 7168.0);
    let norms = 61.0 * 2.0 * 7168.0;
    let routers = 58.0 * 7168.0 * 256.0;
    assert_eq!(
        m.weight_bytes(),
        m.params_total() as f64 + head + norms + routers
    );
    // gpt-oss: routed experts in mxfp4 (0.5 bytes), the rest (attention, router,
    // embeddings, LM head: ≈ 2.2B parameters) in bf16: 61.7e9 bytes, the checkpoint's
    // 65.3e9 (60.8 GiB) less the experts' e8m0 block scales (one byte per 32 weights, 3.6e9)
    let m = model("gpt-oss-120b");
    assert!(
        (m.weight_bytes() / 61.7e9 - 1.0).abs() < 0.01,
        "{}",
        m.weight_bytes()
    );
}

#[test]
fn cell_params_sum_to_model() {
    for e in embedded() {
        let m = e.model().unwrap();
        let cells: u64 = m.cells().map(|(c, n)| c.params() * n as u64).sum();
        assert_eq!(
            cells + m.embedding_params() + m.lm_head_params(),
            m.params_total(),
            "{}",
            e.short_name
        );
        let active: u64 = m.cells().map(|(c, n)| c.active_params() * n as u64).sum();
        assert_eq!(
            active + m.embedding_params() + m.lm_head_params(),
            m.params_active(),
            "{}",
            e.short_name
        );
        assert!(m.params_active() <= m.params_total());
    }
}
