//! The engines' kernels as NVIDIA measured them (aiconfigurator sweeps embedded from
//! `data/custom-allreduce/` and `data/fused-moe/`): TensorRT-LLM's and SGLang's fused MoE and
//! each engine's custom all-reduce.

use super::EngineKind;
use serde::{Deserialize, Serialize};

/// An engine's own fused-MoE kernel measured on one GPU kind (NVIDIA's aiconfigurator sweeps,
/// `data/fused-moe/`, Apache-2.0; balanced routing, MoE TP 1–32 or EP 2–64):
/// - TensorRT-LLM 1.2.0rc5's (CUTLASS, gated experts; bf16, per-tensor and block-scaled fp8,
///   gpt-oss's MXFP4), up to ~1.8× faster than vLLM's Triton kernel at prefill sizes;
/// - SGLang 0.5.9's (its Triton `fused_moe`, and Marlin for int4 weight-only experts; bf16,
///   block-scaled fp8, int4). Without expert parallelism it matches vLLM's kernel within 5%
///   except block-scaled fp8 at more than 1,024 tokens (SGLang's 0.66–0.68× the time); under
///   expert parallelism SGLang's kernel works on the rank's own pairs, 0.4–0.9× vLLM's time
///   in bf16 and block fp8 (vLLM's Triton kernel still walks every token of the layer), while
///   its int4 Marlin runs 1.1–2× vLLM's. SGLang's sweeps measured no per-tensor fp8: its
///   block-scaled fp8 times price it ([`MeasuredFusedMoe::seconds`]).
///
/// The embedded profiles' own `fused_moe` tables (vLLM's kernels) serve vLLM and every layer
/// these tables do not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasuredFusedMoe {
    /// TensorRT-LLM's kernel on an H100 SXM.
    TrtllmH100,
    /// TensorRT-LLM's kernel on an H200 SXM.
    TrtllmH200,
    /// SGLang's kernels on an H100 SXM.
    SglangH100,
    /// SGLang's kernels on an H200 SXM.
    SglangH200,
}

impl MeasuredFusedMoe {
    /// Every table, in declaration order.
    pub const ALL: [MeasuredFusedMoe; 4] = [
        MeasuredFusedMoe::TrtllmH100,
        MeasuredFusedMoe::TrtllmH200,
        MeasuredFusedMoe::SglangH100,
        MeasuredFusedMoe::SglangH200,
    ];

    /// The table of `engine`'s own kernel on `gpu` (catalogue name), if measured:
    /// TensorRT-LLM's and SGLang's, on H100 SXM and H200.
    pub fn for_engine(engine: EngineKind, gpu: &str) -> Option<MeasuredFusedMoe> {
        use MeasuredFusedMoe as M;
        Some(match (engine, MeasuredGpu::of(gpu)?) {
            (EngineKind::Trtllm, MeasuredGpu::H100Sxm) => M::TrtllmH100,
            (EngineKind::Trtllm, MeasuredGpu::H200) => M::TrtllmH200,
            (EngineKind::Sglang, MeasuredGpu::H100Sxm) => M::SglangH100,
            (EngineKind::Sglang, MeasuredGpu::H200) => M::SglangH200,
            _ => return None,
        })
    }

    /// The measured table as a profiled cost model (the embedded profile of the GPU with
    /// this `fused_moe` table), so that lookups follow the profile format's rules.
    fn model(self) -> &'static parallax_hw::profile::ProfiledCostModel {
        use parallax_hw::profile::{embedded_h100, embedded_h200, import, ProfiledCostModel};
        use std::sync::OnceLock;
        static CELLS: [OnceLock<ProfiledCostModel>; MeasuredFusedMoe::ALL.len()] =
            [const { OnceLock::new() }; MeasuredFusedMoe::ALL.len()];
        CELLS[self as usize].get_or_init(|| {
            // (file name, contents, the GPU's embedded profile, catalogue GPU)
            macro_rules! table {
                ($file:literal, $profile:ident, $gpu:literal) => {
                    (
                        concat!("<embedded fused-moe/", $file, ">"),
                        include_str!(concat!("../../data/fused-moe/", $file)),
                        (*$profile()).clone(),
                        $gpu,
                    )
                };
            }
            use MeasuredFusedMoe as M;
            let (file, text, mut profile, gpu) = match self {
                M::TrtllmH100 => table!("h100_sxm-trtllm-1.2.0rc5.csv", embedded_h100, "H100-SXM"),
                M::TrtllmH200 => table!("h200_sxm-trtllm-1.2.0rc5.csv", embedded_h200, "H200"),
                M::SglangH100 => table!("h100_sxm-sglang-0.5.9.csv", embedded_h100, "H100-SXM"),
                M::SglangH200 => table!("h200_sxm-sglang-0.5.9.csv", embedded_h200, "H200"),
            };
            // Embedded, fixed data covered by tests: a failure is a build defect.
            profile.fused_moe = Some(
                import::aiconfigurator_fused_moe(file, text)
                    .expect("embedded fused-MoE tables are valid"),
            );
            let gpu = parallax_hw::catalog::gpu(gpu).expect("catalogue GPU");
            ProfiledCostModel::new(
                &profile,
                std::sync::Arc::new(parallax_hw::RooflineModel::calibrated(&gpu)),
            )
            .expect("embedded fused-MoE tables are valid")
        })
    }

    /// Seconds of `op` from the measured kernel, or `None` when the table measured no layout
    /// of its layer (dtype, layer experts, top-k, hidden, width per GPU; another local expert
    /// count is rescaled from the nearest measured one) or the experts are not gated.
    pub fn seconds(self, op: &parallax_ir::FusedMoe) -> Option<f64> {
        if !op.gated {
            return None;
        }
        let model = self.model();
        model.profiled_fused_moe(op).or_else(|| {
            // SGLang's sweeps measured block-scaled fp8 but no per-tensor fp8: its Triton
            // kernel runs both, the per-tensor one with less scaling work, so the block
            // kernel's time bounds it. (vLLM's per-tensor table, the other candidate, is its
            // own Triton configs: 2.6x SGLang's block kernel at 4,096 tokens of
            // Qwen3-30B-A3B's experts on an H100, within 10% of it at decode sizes.)
            let sglang = matches!(
                self,
                MeasuredFusedMoe::SglangH100 | MeasuredFusedMoe::SglangH200
            );
            let per_tensor_fp8 = op.weight_dtype == parallax_ir::DType::Fp8
                && op.act_dtype == parallax_ir::DType::Fp8
                && !op.block_scales;
            (sglang && per_tensor_fp8)
                .then(|| {
                    model.profiled_fused_moe(&parallax_ir::FusedMoe {
                        block_scales: true,
                        ..*op
                    })
                })
                .flatten()
        })
    }
}

/// An engine's custom all-reduce measured on one GPU kind: NVIDIA's aiconfigurator sweeps
/// (`data/custom-allreduce/`, Apache-2.0) of vLLM's `CustomAllreduce` replayed in a CUDA graph
/// and of TensorRT-LLM's custom all-reduce, bf16: on Hopper vLLM 0.14.0 and TensorRT-LLM
/// 1.3.0rc20 on 2/4/8 GPUs of one node, on Blackwell vLLM 0.19.0 and TensorRT-LLM 1.3.0rc20 on
/// 2/4/8 GPUs of a B200 or B300 node and 2/4 GPUs of a GB200 or GB300 tray.
///
/// vLLM's H200 table is its H100 one ([`MeasuredAllReduce::VllmH200`]): both nodes all-reduce
/// over the same NVLink 4 fabric, and vLLM 0.14.0's own H200 sweep is anomalous on 8 GPUs (19.3
/// µs at 131,072 elements, 43.9 µs at 524,288 and 38.8 µs at 1,048,576: 1.3–2.5× the H100's,
/// where vLLM 0.19.0's H200 and H100 sweeps agree within 5%; its 2- and 4-GPU rows agree with
/// the H100's within 8%). On the development rows this moves only SGLang's on 8 H200s: median
/// TTFT error 34.6 → 27.5 % (the H200 group 21.6 / 7.5 → 19.2 / 7.5 %; vLLM 0.19.0's H200
/// sweep instead gives 19.2 / 8.6 %).
///
/// TensorRT-LLM's Hopper tables are its 1.3.0rc20 sweeps, not the older 1.2.0rc5 ones: those
/// fall back to NCCL-like times (8–12 µs) at some mid sizes (2 GPUs at 8,192 and 32,768
/// elements, 4 GPUs from 32,768 up) where 1.3.0rc10 and 1.3.0rc20 agree on 3–6 µs. The
/// development load points (TensorRT-LLM 1.0 on H100) side with the later sweeps: median
/// |error| of TPOT at TP 4, Qwen3-32B fp8 10.4 → 7.8 % and Llama-3.1-8B 5.4 → 5.9 %; of TTFT
/// at TP 4, Llama-3.1-8B 42.8 → 36.8 %; all 357 rows 23.2 / 5.8 → 22.2 / 5.6 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasuredAllReduce {
    /// vLLM's kernel on an H100 SXM node.
    VllmH100,
    /// vLLM's kernel on an H200 SXM node (priced from the H100 node's sweep: the same NVLink
    /// fabric; see the type's docs).
    VllmH200,
    /// TensorRT-LLM's kernel on an H100 SXM node.
    TrtllmH100,
    /// TensorRT-LLM's kernel on an H200 SXM node.
    TrtllmH200,
    /// vLLM's kernel on a B200 node.
    VllmB200,
    /// TensorRT-LLM's kernel on a B200 node.
    TrtllmB200,
    /// vLLM's kernel on a GB200 tray (2 and 4 GPUs).
    VllmGb200,
    /// TensorRT-LLM's kernel on a GB200 tray (2 and 4 GPUs).
    TrtllmGb200,
    /// vLLM's kernel on a B300 node.
    VllmB300,
    /// TensorRT-LLM's kernel on a B300 node.
    TrtllmB300,
    /// vLLM's kernel on a GB300 tray (2 and 4 GPUs).
    VllmGb300,
    /// TensorRT-LLM's kernel on a GB300 tray (2 and 4 GPUs).
    TrtllmGb300,
}

/// A GPU kind the engines' kernels were measured on (NVIDIA's aiconfigurator sweeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MeasuredGpu {
    H100Sxm,
    H200,
    B200,
    Gb200,
    B300,
    Gb300,
}

impl MeasuredGpu {
    /// The measured kind of a catalogue GPU name, `None` for any other (the H100 PCIe
    /// included): the H100 SXM and H200 by prefix (`H100-SXM`, `H200`), Blackwell by name.
    pub(super) fn of(gpu: &str) -> Option<MeasuredGpu> {
        let g = gpu.to_ascii_uppercase();
        Some(match g.as_str() {
            _ if g.starts_with("H100") && !g.contains("PCIE") => MeasuredGpu::H100Sxm,
            _ if g.starts_with("H200") => MeasuredGpu::H200,
            "B200" => MeasuredGpu::B200,
            "GB200" => MeasuredGpu::Gb200,
            "B300" => MeasuredGpu::B300,
            "GB300" => MeasuredGpu::Gb300,
            _ => return None,
        })
    }
}

/// `(group size, [(bytes per rank, seconds)])` curves of one measured table, bytes ascending.
type AllReduceCurves = Vec<(u32, Vec<(f64, f64)>)>;

impl MeasuredAllReduce {
    /// Every measured table, in declaration order (`ALL[i] as usize == i`, checked by a test).
    pub const ALL: [MeasuredAllReduce; 12] = [
        MeasuredAllReduce::VllmH100,
        MeasuredAllReduce::VllmH200,
        MeasuredAllReduce::TrtllmH100,
        MeasuredAllReduce::TrtllmH200,
        MeasuredAllReduce::VllmB200,
        MeasuredAllReduce::TrtllmB200,
        MeasuredAllReduce::VllmGb200,
        MeasuredAllReduce::TrtllmGb200,
        MeasuredAllReduce::VllmB300,
        MeasuredAllReduce::TrtllmB300,
        MeasuredAllReduce::VllmGb300,
        MeasuredAllReduce::TrtllmGb300,
    ];

    /// How many tables there are.
    const COUNT: usize = MeasuredAllReduce::ALL.len();

    /// The table of `engine`'s kernel on `gpu` (by catalogue name: H100 SXM, H200, B200,
    /// GB200, B300 or GB300), if measured. vLLM V0 and SGLang run vLLM's kernel (SGLang's
    /// derives from it).
    pub fn for_engine(engine: EngineKind, gpu: &str) -> Option<MeasuredAllReduce> {
        use MeasuredAllReduce as M;
        use MeasuredGpu as G;
        let (vllm, trtllm) = match MeasuredGpu::of(gpu)? {
            G::H100Sxm => (M::VllmH100, M::TrtllmH100),
            G::H200 => (M::VllmH200, M::TrtllmH200),
            G::B200 => (M::VllmB200, M::TrtllmB200),
            G::Gb200 => (M::VllmGb200, M::TrtllmGb200),
            G::B300 => (M::VllmB300, M::TrtllmB300),
            G::Gb300 => (M::VllmGb300, M::TrtllmGb300),
        };
        Some(if engine == EngineKind::Trtllm {
            trtllm
        } else {
            vllm
        })
    }

    fn text(self) -> (&'static str, &'static str) {
        // (file name, contents) of an embedded extract
        macro_rules! table {
            ($file:literal) => {
                (
                    $file,
                    include_str!(concat!("../../data/custom-allreduce/", $file)),
                )
            };
        }
        use MeasuredAllReduce as M;
        match self {
            M::VllmH100 | M::VllmH200 => table!("h100_sxm-vllm-0.14.0.csv"),
            M::TrtllmH100 => table!("h100_sxm-trtllm-1.3.0rc20.csv"),
            M::TrtllmH200 => table!("h200_sxm-trtllm-1.3.0rc20.csv"),
            M::VllmB200 => table!("b200_sxm-vllm-0.19.0.csv"),
            M::TrtllmB200 => table!("b200_sxm-trtllm-1.3.0rc20.csv"),
            M::VllmGb200 => table!("gb200-vllm-0.19.0.csv"),
            M::TrtllmGb200 => table!("gb200-trtllm-1.3.0rc20.csv"),
            M::VllmB300 => table!("b300_sxm-vllm-0.19.0.csv"),
            M::TrtllmB300 => table!("b300_sxm-trtllm-1.3.0rc20.csv"),
            M::VllmGb300 => table!("gb300-vllm-0.19.0.csv"),
            M::TrtllmGb300 => table!("gb300-trtllm-1.3.0rc20.csv"),
        }
    }

    /// Parses an extract (`kernel_source, allreduce_dtype, num_gpus, message_size, latency`;
    /// message size in bf16 elements per rank, latency in ms) into curves.
    ///
    /// # Errors
    /// A message naming `file`, the line and the field.
    pub fn parse(file: &str, text: &str) -> Result<AllReduceCurves, String> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, h)) if h.trim() == "kernel_source,allreduce_dtype,num_gpus,message_size,latency" => {}
            other => {
                return Err(format!(
                    "{file}: line 1: expected the header `kernel_source,allreduce_dtype,num_gpus,message_size,latency`, found `{}`",
                    other.map_or("", |(_, h)| h)
                ))
            }
        }
        let mut curves: AllReduceCurves = Vec::new();
        for (i, line) in lines {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let at = |what: &str, v: &str| format!("{file}: line {}: {what} `{v}`", i + 1);
            if f.len() != 5 {
                return Err(at("expected 5 fields, found", line));
            }
            if f[1] != "bfloat16" {
                return Err(at("expected allreduce_dtype bfloat16, found", f[1]));
            }
            let n: u32 = f[2]
                .parse()
                .ok()
                .filter(|&n| n >= 2)
                .ok_or_else(|| at("expected num_gpus ≥ 2, found", f[2]))?;
            let elems: f64 = f[3]
                .parse()
                .ok()
                .filter(|&x: &f64| x.is_finite() && x > 0.0)
                .ok_or_else(|| at("expected a message_size > 0, found", f[3]))?;
            let ms: f64 = f[4]
                .parse()
                .ok()
                .filter(|&x: &f64| x.is_finite() && x > 0.0)
                .ok_or_else(|| at("expected a latency > 0 (ms), found", f[4]))?;
            let point = (2.0 * elems, ms * 1e-3);
            match curves.iter_mut().find(|c| c.0 == n) {
                Some(c) => {
                    if c.1.last().is_some_and(|p| p.0 >= point.0) {
                        return Err(at(
                            "expected message sizes ascending per num_gpus, found",
                            f[3],
                        ));
                    }
                    c.1.push(point);
                }
                None => curves.push((n, vec![point])),
            }
        }
        if let Some(c) = curves.iter().find(|c| c.1.len() < 2) {
            return Err(format!("{file}: num_gpus {} has fewer than two sizes", c.0));
        }
        Ok(curves)
    }

    fn curves(self) -> &'static AllReduceCurves {
        use std::sync::OnceLock;
        static CELLS: [OnceLock<AllReduceCurves>; MeasuredAllReduce::COUNT] =
            [const { OnceLock::new() }; MeasuredAllReduce::COUNT];
        // the H200 node shares the H100 node's parsed sweep (see the type's docs)
        let table = match self {
            MeasuredAllReduce::VllmH200 => MeasuredAllReduce::VllmH100,
            m => m,
        };
        CELLS[table as usize].get_or_init(|| {
            let (file, text) = table.text();
            // Embedded, fixed data covered by tests: a failure is a build defect.
            MeasuredAllReduce::parse(file, text).expect("embedded all-reduce tables are valid")
        })
    }

    /// Seconds of one all-reduce of `bytes` per rank over `group_size` GPUs, interpolated
    /// log–log between measured sizes (the smallest size's time below it, the last segment's
    /// slope above), or `None` when the group size was not measured.
    pub fn seconds(self, group_size: u32, bytes: f64) -> Option<f64> {
        let (_, pts) = self.curves().iter().find(|c| c.0 == group_size)?;
        if bytes <= pts[0].0 {
            return Some(pts[0].1);
        }
        let i = pts.partition_point(|p| p.0 < bytes).clamp(1, pts.len() - 1);
        let (a, b) = (pts[i - 1], pts[i]);
        let f = (bytes.ln() - a.0.ln()) / (b.0.ln() - a.0.ln());
        Some((a.1.ln() + f * (b.1.ln() - a.1.ln())).exp())
    }
}
