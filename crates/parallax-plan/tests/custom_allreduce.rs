//! The engines' measured custom all-reduce (`data/custom-allreduce/`, NVIDIA's aiconfigurator
//! sweeps): parsing, interpolation, preset selection and pricing.

use crate::common;
use parallax_hw::profile::CostModelChoice;
use parallax_hw::{catalog, Cluster};
use parallax_ir::CollectiveKind;
use parallax_plan::{EngineKind, MeasuredAllReduce};

const ALL: [MeasuredAllReduce; 12] = MeasuredAllReduce::ALL;

#[test]
fn all_lists_every_table_in_declaration_order() {
    for (i, m) in ALL.into_iter().enumerate() {
        assert_eq!(m as usize, i, "{m:?}");
    }
}

#[test]
fn tables_cover_two_four_and_eight_gpus_and_interpolate() {
    for m in ALL {
        // A GB200 / GB300 tray holds 4 GPUs: 8 was not measured there.
        let tray = matches!(
            m,
            MeasuredAllReduce::VllmGb200
                | MeasuredAllReduce::TrtllmGb200
                | MeasuredAllReduce::VllmGb300
                | MeasuredAllReduce::TrtllmGb300
        );
        assert_eq!(m.seconds(8, 1e6).is_none(), tray, "{m:?}");
        let sizes: &[u32] = if tray { &[2, 4] } else { &[2, 4, 8] };
        for &n in sizes {
            let small = m.seconds(n, 256.0).unwrap();
            let big = m.seconds(n, 8.0 * 1024.0 * 1024.0).unwrap();
            assert!(small > 2e-6 && small < 1e-5, "{m:?} {n}: {small}");
            assert!(big > 3.0 * small, "{m:?} {n}: {big} vs {small}");
        }
        assert_eq!(m.seconds(3, 1e6), None, "{m:?}: no 3-GPU measurement");
    }
    // Exact at a measured point: vLLM on 8 H100s, 524,288 bf16 elements (1 MiB) per rank.
    let t = MeasuredAllReduce::VllmH100.seconds(8, 1048576.0).unwrap();
    assert!((t / 17.2566e-6 - 1.0).abs() < 1e-5, "{t}");
    // Between points: within the neighbours, monotone here.
    let mid = MeasuredAllReduce::VllmH100
        .seconds(8, 1.5 * 1048576.0)
        .unwrap();
    let next = MeasuredAllReduce::VllmH100
        .seconds(8, 2.0 * 1048576.0)
        .unwrap();
    assert!(t < mid && mid < next, "{t} {mid} {next}");
}

#[test]
fn presets_pick_their_engines_kernel_where_measured() {
    let pick = |kind, gpu: &str| {
        common::preset(kind, &catalog::gpu(gpu).unwrap(), 8)
            .kernels
            .custom_allreduce_measured
    };
    use MeasuredAllReduce as M;
    assert_eq!(pick(EngineKind::Vllm, "H100-SXM"), Some(M::VllmH100));
    assert_eq!(pick(EngineKind::VllmV0, "H100-SXM"), Some(M::VllmH100));
    assert_eq!(pick(EngineKind::Sglang, "H200"), Some(M::VllmH200));
    assert_eq!(pick(EngineKind::Trtllm, "H100-SXM"), Some(M::TrtllmH100));
    assert_eq!(pick(EngineKind::Trtllm, "H200"), Some(M::TrtllmH200));
    assert_eq!(pick(EngineKind::Vllm, "B200"), Some(M::VllmB200));
    assert_eq!(pick(EngineKind::Sglang, "GB200"), Some(M::VllmGb200));
    assert_eq!(pick(EngineKind::Trtllm, "B300"), Some(M::TrtllmB300));
    assert_eq!(pick(EngineKind::Trtllm, "GB300"), Some(M::TrtllmGb300));
    assert_eq!(pick(EngineKind::Vllm, "H100-PCIe"), None);
    assert_eq!(pick(EngineKind::Vllm, "A100-80GB-SXM"), None);
}

#[test]
fn engine_cost_prices_all_reduce_from_the_table_below_nccl() {
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let gpu = catalog::gpu("H100-SXM").unwrap();
    let engine = common::preset(EngineKind::Vllm, &gpu, 8);
    let nccl = parallax_hw::profile::cost_model_for(&cluster, CostModelChoice::Profiled).unwrap();
    let cost = engine.cost_model(nccl.clone(), gpu.memory_bandwidth);
    let group = cluster.group(8);
    let mib = 1048576.0;
    let t = cost.collective(CollectiveKind::AllReduce, mib, &group);
    assert!((t / 17.2566e-6 - 1.0).abs() < 1e-5, "{t}");
    assert!(t < nccl.collective(CollectiveKind::AllReduce, mib, &group));
    // Above the custom kernel's 8 MiB: NCCL.
    let big = 64.0 * mib;
    assert_eq!(
        cost.collective(CollectiveKind::AllReduce, big, &group),
        nccl.collective(CollectiveKind::AllReduce, big, &group)
    );
    // A group size without a measurement: the one-shot model.
    let three = cluster.group(3);
    let model = cost.collective(CollectiveKind::AllReduce, mib, &three);
    assert!(model > 0.0 && model <= nccl.collective(CollectiveKind::AllReduce, mib, &three));
}

#[test]
fn parse_errors_name_the_file_line_and_value() {
    let h = "kernel_source,allreduce_dtype,num_gpus,message_size,latency";
    let ok = "k,bfloat16,2,128,0.004\nk,bfloat16,2,256,0.005\n";
    assert_eq!(
        MeasuredAllReduce::parse("a.csv", &format!("{h}\n{ok}")).unwrap()[0]
            .1
            .len(),
        2
    );
    for (text, want) in [
        ("nope\n".to_string(), "line 1"),
        (format!("{h}\n{ok}k,float32,2,512,0.004\n"), "float32"),
        (format!("{h}\n{ok}k,bfloat16,1,512,0.004\n"), "num_gpus"),
        (format!("{h}\n{ok}k,bfloat16,2,64,0.004\n"), "ascending"),
        (format!("{h}\n{ok}k,bfloat16,2,512,-1\n"), "latency"),
        (format!("{h}\nk,bfloat16,4,128,0.004\n"), "fewer than two"),
    ] {
        let e = MeasuredAllReduce::parse("a.csv", &text).unwrap_err();
        assert!(e.contains("a.csv") && e.contains(want), "{text}: {e}");
    }
}

#[test]
fn tensorrt_llm_hopper_tables_rise_with_the_message() {
    // TensorRT-LLM 1.2.0rc5's sweeps cost 9.9 µs for 8,192 elements on 2 H100s and 3.4 µs for
    // 16,384; the shipped 1.3.0rc20 sweeps never fall by more than 5 % to a larger message.
    for m in [MeasuredAllReduce::TrtllmH100, MeasuredAllReduce::TrtllmH200] {
        for n in [2, 4, 8] {
            let mut last = 0.0;
            for e in 7..=24 {
                let bytes = 2.0 * f64::from(1u32 << e);
                let t = m.seconds(n, bytes).unwrap();
                assert!(
                    t >= 0.95 * last,
                    "{m:?} {n} GPUs, {bytes} B: {t} after {last}"
                );
                last = t;
            }
        }
    }
    // 32,768 elements on 4 GPUs: the mid-size decode message (1.2.0rc5: 11.5 µs).
    let t = MeasuredAllReduce::TrtllmH100.seconds(4, 65536.0).unwrap();
    assert!(t < 5e-6, "{t}");
}

#[test]
fn vllm_prices_an_h200_node_from_the_h100_sweep() {
    // Same NVLink 4 fabric; vLLM 0.14.0's own H200 sweep cost 43.9 µs for 524,288 elements
    // (1 MiB) per rank on 8 GPUs, 2.5× the H100's.
    use MeasuredAllReduce as M;
    for n in [2, 4, 8] {
        for bytes in [4096.0, 262144.0, 1048576.0, 8388608.0] {
            assert_eq!(
                M::VllmH200.seconds(n, bytes),
                M::VllmH100.seconds(n, bytes),
                "{n} GPUs, {bytes} B"
            );
        }
    }
    let t = M::VllmH200.seconds(8, 1048576.0).unwrap();
    assert!(t < 20e-6, "{t}");
}
