//! Mutated configs never make the importer panic: it returns a model or a typed error.

use parallax_ir::hf::{from_json_str, MAX_PARAMS};
use parallax_ir::{
    check_shard, embedded, lower_cell, Batch, CellShard, DecodeGroup, IrError, PrefillChunk,
};
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Set(Value),
}

fn replacement() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        Just(Mutation::Set(json!(0))),
        Just(Mutation::Set(json!(-1))),
        Just(Mutation::Set(json!(-4096))),
        Just(Mutation::Set(json!(u64::MAX))),
        Just(Mutation::Set(json!(1u64 << 32))),
        Just(Mutation::Set(json!(1e300))),
        Just(Mutation::Set(json!(0.5))),
        Just(Mutation::Set(json!("12"))),
        Just(Mutation::Set(json!(""))),
        Just(Mutation::Set(Value::Null)),
        Just(Mutation::Set(json!(true))),
        Just(Mutation::Set(json!([1, 2, 3]))),
        Just(Mutation::Set(json!({"a": 1}))),
        (1u64..70_000).prop_map(|n| Mutation::Set(json!(n))),
        (1u64..9).prop_map(|n| Mutation::Set(json!(n))),
    ]
}

/// Apply `m` to the `pick`-th field (counting nested `text_config` / `quantization_config`
/// fields too).
fn mutate(v: &mut Value, pick: usize, m: &Mutation) {
    let mut paths: Vec<Vec<String>> = Vec::new();
    if let Value::Object(o) = v {
        for (k, sub) in o.iter() {
            paths.push(vec![k.clone()]);
            if let Value::Object(inner) = sub {
                for k2 in inner.keys() {
                    paths.push(vec![k.clone(), k2.clone()]);
                }
            }
        }
    }
    if paths.is_empty() {
        return;
    }
    let path = &paths[pick % paths.len()];
    let mut target = v;
    for key in &path[..path.len() - 1] {
        target = &mut target[key.as_str()];
    }
    if let Value::Object(o) = target {
        let last = &path[path.len() - 1];
        match m {
            Mutation::Remove => {
                o.remove(last);
            }
            Mutation::Set(x) => {
                o.insert(last.clone(), x.clone());
            }
        }
    }
}

fn exercise(text: &str) {
    match from_json_str(text, "mutated.json") {
        Ok(m) => {
            assert!(m.layers() > 0);
            assert!(m.params_total() <= MAX_PARAMS);
            assert!(m.params_active() <= m.params_total());
            assert!(m.kv_bytes_per_token() >= 0.0);
            let batch = Batch {
                prefill: vec![PrefillChunk {
                    new_tokens: 7,
                    prefix: 3,
                }],
                decode: DecodeGroup::uniform(3, 50),
            };
            let mut ops = Vec::new();
            for (cell, _) in m.cells() {
                for shard in [
                    CellShard::SINGLE,
                    CellShard { tp: 2, ep: 2 },
                    CellShard::tp(3),
                ] {
                    let _ = check_shard(cell, shard);
                    lower_cell(cell, shard, &batch, &m.precision, &mut ops);
                }
                assert!(cell.flops(&batch).is_finite());
            }
        }
        Err(e) => {
            // Typed, and the message names the file.
            let msg = e.to_string();
            assert!(!msg.is_empty());
            if !matches!(
                e,
                IrError::Io { .. } | IrError::InvalidShard { .. } | IrError::UnknownModel { .. }
            ) {
                assert!(msg.contains("mutated.json"), "{msg}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fields_never_panic(
        model in 0usize..25,
        edits in proptest::collection::vec((any::<usize>(), replacement()), 1..4),
    ) {
        let e = &embedded()[model % embedded().len()];
        let mut v: Value = serde_json::from_str(e.json).unwrap();
        for (pick, m) in &edits {
            mutate(&mut v, *pick, m);
        }
        exercise(&v.to_string());
    }

    #[test]
    fn truncated_json_never_panics(model in 0usize..25, cut in any::<usize>()) {
        let e = &embedded()[model % embedded().len()];
        let text = e.json;
        let mut at = cut % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let r = from_json_str(&text[..at], "mutated.json");
        if at < text.trim_end().len() {
            prop_assert!(matches!(r, Err(IrError::Json { .. })), "{:?}", r.map(|m| m.name));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        exercise(&s);
    }
}
