//! The profile file format (version 1): types, JSON reader and writer.
//!
//! See `docs/profile-format.md` for the specification. In short, a profile is one JSON object:
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "name": "h100-pytorch",
//!   "gpu": {"name": "H100-SXM", "device": "NVIDIA H100 80GB HBM3",
//!           "matmul_flops": 7.6e14, "memory_bandwidth": 2.97e12},
//!   "software": {"torch": "2.11.0+cu130", "cuda": "13.0", "driver": "580.159.04"},
//!   "provenance": {"source": "...", "date": "2025-01-01", "method": "..."},
//!   "overheads": {"kernel_launch_seconds": 4e-6},
//!   "tables": {
//!     "gemm": {"columns": ["m", "n", "k", "dtype", "seconds"],
//!              "rows": [[1, 6144, 4096, "bf16", 2.98e-5], [16, 6144, 4096, "bf16", 2.9e-5]]}
//!   }
//! }
//! ```
//!
//! Every entry carries its GPU (the file's `gpu`), software versions (the table's `software`,
//! else the file's) and provenance (the table's `provenance`, else the file's).

use super::error::{ProfileError, Row};
use parallax_ir::{
    CollectiveKind, DType, ElementwiseKind, MAX_BATCH_SEQUENCES, MAX_SEQUENCE_TOKENS,
};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::Path;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// The GPU a profile was measured on, with the two ceilings measured alongside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileGpu {
    /// Catalog name (`H100-SXM`).
    pub name: String,
    /// The device string the driver reports (`NVIDIA H100 80GB HBM3`).
    pub device: String,
    /// Achieved dense matmul rate in FLOP/s (e.g. an 8192³ bf16 matmul), used to scale GEMM
    /// and attention times to shapes the tables lack.
    pub matmul_flops: f64,
    /// Achieved device-memory bandwidth in bytes/s (bytes read + written by a large copy).
    pub memory_bandwidth: f64,
}

/// The matmul rates a profile may record, FLOP/s: 1 MFLOP/s (the profiler's CPU dry run
/// records 1e8) to 1 EFLOP/s, a range far wider than any device's and narrow enough that the
/// extrapolations built on it stay finite.
pub const MATMUL_FLOPS_RANGE: (f64, f64) = (1e6, 1e18);
/// The memory bandwidths a profile may record, bytes/s: 1 MB/s to 1 PB/s.
pub const MEMORY_BANDWIDTH_RANGE: (f64, f64) = (1e6, 1e15);

impl ProfileGpu {
    /// Checks that both rates lie in [`MATMUL_FLOPS_RANGE`] and [`MEMORY_BANDWIDTH_RANGE`]:
    /// the cost model divides by them, and a rate such as `1e-300` would make every
    /// extrapolated time infinite and the interpolated ones NaN.
    ///
    /// # Errors
    /// [`ProfileError::BadValue`] naming `file`, the field and the value as written.
    pub fn check_rates(&self, file: &str) -> Result<(), ProfileError> {
        for (field, value, (lo, hi), unit) in [
            (
                "matmul_flops",
                self.matmul_flops,
                MATMUL_FLOPS_RANGE,
                "FLOP/s",
            ),
            (
                "memory_bandwidth",
                self.memory_bandwidth,
                MEMORY_BANDWIDTH_RANGE,
                "bytes/s",
            ),
        ] {
            if !(lo..=hi).contains(&value) {
                return Err(ProfileError::BadValue {
                    file: file.to_string(),
                    table: "gpu".to_string(),
                    row: Row::Header,
                    column: field.to_string(),
                    value: format!("{value:e}"),
                    expected: format!("a rate in {unit} between {lo:e} and {hi:e}"),
                });
            }
        }
        Ok(())
    }
}

/// Software versions the measurements were taken with (`unknown` where not recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Software {
    /// PyTorch version.
    pub torch: String,
    /// CUDA (or ROCm) version.
    pub cuda: String,
    /// Driver version.
    pub driver: String,
}

/// Where measurements came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Source: a tool, repository and commit, or a file.
    pub source: String,
    /// Date of measurement (ISO 8601) or of the source snapshot.
    pub date: String,
    /// How the numbers were obtained (timer, statistic, repetitions, how runs were combined).
    pub method: String,
}

/// Intra- or inter-node placement of a collective's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Every rank in one node.
    Intra,
    /// Ranks on more than one node.
    Inter,
}

impl Scope {
    /// `intra` or `inter`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Intra => "intra",
            Scope::Inter => "inter",
        }
    }
}

/// One GEMM measurement: `y[m,n] = x[m,k] · W[k,n]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmPoint {
    /// Rows (tokens).
    pub m: u64,
    /// Output columns.
    pub n: u64,
    /// Reduction width.
    pub k: u64,
    /// Type of inputs, weights and outputs.
    pub dtype: DType,
    /// Kernel time in seconds.
    pub seconds: f64,
}

/// One prefill-attention measurement: `batch` sequences of `new_tokens` causal tokens, each
/// after `prefix` cached tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrefillPoint {
    /// Sequences.
    pub batch: u32,
    /// New tokens per sequence.
    pub new_tokens: u32,
    /// Cached tokens before them (0 = plain causal prefill).
    pub prefix: u32,
    /// Query heads.
    pub heads: u32,
    /// Key/value heads.
    pub kv_heads: u32,
    /// Head dimension.
    pub head_dim: u32,
    /// Type of queries, keys and values.
    pub dtype: DType,
    /// Kernel time in seconds.
    pub seconds: f64,
}

/// One decode-attention measurement: `batch` requests, one query token each, over `context`
/// cached tokens each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodePoint {
    /// Requests.
    pub batch: u32,
    /// Context length of every request.
    pub context: u32,
    /// Query heads.
    pub heads: u32,
    /// Key/value heads.
    pub kv_heads: u32,
    /// Head dimension.
    pub head_dim: u32,
    /// Type of queries and KV cache.
    pub dtype: DType,
    /// Kernel time in seconds.
    pub seconds: f64,
}

/// One elementwise / norm measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElementwisePoint {
    /// Which op class.
    pub kind: ElementwiseKind,
    /// Bytes read plus written.
    pub bytes: f64,
    /// Kernel time in seconds.
    pub seconds: f64,
}

/// One collective measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CollectivePoint {
    /// Operation.
    pub op: CollectiveKind,
    /// Ranks in the group.
    pub group_size: u32,
    /// Intra- or inter-node.
    pub scope: Scope,
    /// Bytes as [`parallax_ir::Collective::bytes`] defines them (per rank buffer).
    pub bytes: f64,
    /// Time of one operation in seconds.
    pub seconds: f64,
}

/// One fused-MoE measurement: the routed experts of one layer (gate/up grouped GEMM,
/// activation, down grouped GEMM) for `tokens` tokens each routed to `top_k` of `experts`
/// experts (uniformly at random, i.e. balanced in expectation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedMoePoint {
    /// Tokens entering the layer.
    pub tokens: u64,
    /// Experts on the measured device.
    pub experts: u32,
    /// Experts of the whole layer: `experts`, or more when they were split over several GPUs
    /// by expert parallelism (the `experts` cell `local/layer`, e.g. `32/256`).
    pub layer_experts: u32,
    /// Experts each token is routed to.
    pub top_k: u32,
    /// Residual width.
    pub hidden: u32,
    /// Inner width of one expert (per device).
    pub intermediate: u32,
    /// Type of the expert weights (and of the GEMM inputs, unless `act_dtype` differs).
    pub dtype: DType,
    /// Type of the GEMM inputs: `dtype`, or wider for weight-only quantisation (the `dtype`
    /// cell `fp4/bf16`: fp4 weights dequantised to bf16 GEMMs).
    pub act_dtype: DType,
    /// fp8 weights with block scales (the `dtype` cell `fp8_block`;
    /// [`parallax_ir::FusedMoe::block_scales`]); `false`: per-tensor scales.
    pub block_scales: bool,
    /// Kernel time in seconds (all kernels of the fused op).
    pub seconds: f64,
}

/// A table of measurements of one kind, with its own provenance.
///
/// Equality compares provenance, software and rows (not where the rows were read from).
#[derive(Debug, Clone)]
pub struct Table<T> {
    /// Where these rows come from (`None`: the profile's).
    pub provenance: Option<Provenance>,
    /// Software they were measured with (`None`: the profile's).
    pub software: Option<Software>,
    /// The measurements.
    pub rows: Vec<T>,
    /// `fused_moe` only: how the measured tokens were routed to experts (`None`: uniformly
    /// at random, as `parallax_profiler` measures).
    pub routing: Option<TableRouting>,
    /// `elementwise` only (`min_bytes` in JSON): rows of fewer bytes are kept but not used,
    /// and ops of fewer bytes are priced by the fallback cost model, for a table whose small
    /// rows timed the host rather than the GPU. `None`: every row counts.
    pub min_bytes: Option<f64>,
    /// Where each row came from, for error messages (JSON entry index or CSV line).
    pub(crate) origin: Vec<Row>,
}

/// How a `fused_moe` table's tokens were routed when it was measured. The kernel reads the
/// weights of the experts that receive tokens, so at small token counts its time follows the
/// number of distinct experts hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableRouting {
    /// Each token to `top_k` experts drawn uniformly at random: `T` tokens hit
    /// `E·(1 − (1 − k/E)^T)` of `E` experts on average (the cost model's own routing).
    Random,
    /// Spread as far as possible: `T` tokens hit `min(E, T·k)` experts (aiconfigurator's
    /// `balanced` sweeps, `collector/helper.py::balanced_logits`). The cost model rescales
    /// such a table to random routing (see `ProfiledCostModel::profiled_fused_moe`).
    Spread,
}

impl TableRouting {
    /// The format's name: `random` or `spread`.
    pub fn name(self) -> &'static str {
        match self {
            TableRouting::Random => "random",
            TableRouting::Spread => "spread",
        }
    }
}

impl<T: PartialEq> PartialEq for Table<T> {
    fn eq(&self, other: &Self) -> bool {
        self.provenance == other.provenance
            && self.software == other.software
            && self.rows == other.rows
            && self.routing == other.routing
            && self.min_bytes == other.min_bytes
    }
}

impl<T> Table<T> {
    /// A table of `rows` inheriting the profile's provenance and software.
    pub fn new(rows: Vec<T>) -> Self {
        let origin = (0..rows.len()).map(Row::Entry).collect();
        Table {
            provenance: None,
            software: None,
            rows,
            routing: None,
            min_bytes: None,
            origin,
        }
    }

    /// The same table with its own provenance.
    pub fn with_provenance(mut self, p: Provenance) -> Self {
        self.provenance = Some(p);
        self
    }

    /// The same table with its own software versions.
    pub fn with_software(mut self, s: Software) -> Self {
        self.software = Some(s);
        self
    }

    pub(crate) fn with_origin(rows: Vec<T>, origin: Vec<Row>) -> Self {
        Table {
            provenance: None,
            software: None,
            rows,
            routing: None,
            min_bytes: None,
            origin,
        }
    }

    /// Whether a size `x` (an elementwise row's or op's bytes) is below the table's
    /// `min_bytes`, so that the table does not price it.
    pub fn below_min_bytes(&self, x: f64) -> bool {
        self.min_bytes.is_some_and(|m| x < m)
    }

    /// Where row `i` came from.
    pub fn origin(&self, i: usize) -> Row {
        self.origin.get(i).copied().unwrap_or(Row::Entry(i))
    }
}

/// Fixed overheads measured alongside the tables (each optional: absent ones come from the
/// fallback cost model).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Overheads {
    /// Host time of one eagerly launched tiny kernel as the profiler measures it (a tight
    /// loop of `x.add_(1)`), seconds. Serving-engine models that run a compiled forward
    /// (vLLM V1, SGLang, TensorRT-LLM) take it as their host issue time per op
    /// ([`crate::CostModel::measured_kernel_launch`]); it is a lower bound of the per-op host
    /// time below, which also pays for an uncompiled framework's Python dispatch and the
    /// several kernels one lowered op is in an eager framework.
    pub kernel_launch_seconds: Option<f64>,
    /// Device time per tiny kernel replayed from a CUDA graph (the profiler replays a graph of
    /// 1,000 `x.add_(1)`), seconds. Informational, like `kernel_launch_seconds`: the pair
    /// gives the eager/graph launch cost of the user's machine. Not used for prediction.
    pub graph_kernel_seconds: Option<f64>,
    /// Host time to issue one *lowered op* (one `parallax_ir::Op`, or one attention call)
    /// eagerly, seconds: what [`crate::CostModel::kernel_launch_overhead`] returns.
    pub host_op_seconds: Option<f64>,
    /// Fixed device-side time per iteration (graph launch, first-kernel latency), seconds.
    pub iteration_seconds: Option<f64>,
    /// Device time hidden per pair of consecutive kernels of a CUDA-graph replay, seconds
    /// (at least 0): what [`crate::CostModel::graph_kernel_overlap`] returns.
    pub graph_kernel_overlap_seconds: Option<f64>,
}

/// A measured operator profile of one GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Short name (`h100-pytorch`); the cost model is named `profiled:<name>`.
    pub name: String,
    /// Where the file came from (a path, or `<embedded ...>`), used in error messages.
    pub source_name: String,
    /// The GPU.
    pub gpu: ProfileGpu,
    /// Default software versions of the tables.
    pub software: Software,
    /// Default provenance of the tables.
    pub provenance: Provenance,
    /// Fixed overheads.
    pub overheads: Overheads,
    /// GEMM table.
    pub gemm: Option<Table<GemmPoint>>,
    /// Prefill-attention table.
    pub prefill_attention: Option<Table<PrefillPoint>>,
    /// Decode-attention table.
    pub decode_attention: Option<Table<DecodePoint>>,
    /// Elementwise / norm table.
    pub elementwise: Option<Table<ElementwisePoint>>,
    /// Collective table.
    pub collective: Option<Table<CollectivePoint>>,
    /// Fused-MoE table.
    pub fused_moe: Option<Table<FusedMoePoint>>,
}

/// Column lists of the five tables, in the order [`to_json`](Profile::to_json) writes them.
pub const GEMM_COLUMNS: [&str; 5] = ["m", "n", "k", "dtype", "seconds"];
/// Columns of `prefill_attention`.
pub const PREFILL_COLUMNS: [&str; 8] = [
    "batch",
    "new_tokens",
    "prefix",
    "heads",
    "kv_heads",
    "head_dim",
    "dtype",
    "seconds",
];
/// Columns of `decode_attention`.
pub const DECODE_COLUMNS: [&str; 7] = [
    "batch", "context", "heads", "kv_heads", "head_dim", "dtype", "seconds",
];
/// Columns of `elementwise`.
pub const ELEMENTWISE_COLUMNS: [&str; 3] = ["kind", "bytes", "seconds"];
/// Columns of `collective`.
pub const COLLECTIVE_COLUMNS: [&str; 5] = ["op", "group_size", "scope", "bytes", "seconds"];
/// Columns of `fused_moe`.
pub const FUSED_MOE_COLUMNS: [&str; 7] = [
    "tokens",
    "experts",
    "top_k",
    "hidden",
    "intermediate",
    "dtype",
    "seconds",
];

/// snake_case name of an elementwise kind, as the format writes it.
pub fn elementwise_kind_name(k: ElementwiseKind) -> &'static str {
    match k {
        ElementwiseKind::Norm => "norm",
        ElementwiseKind::Activation => "activation",
        ElementwiseKind::Residual => "residual",
        ElementwiseKind::Rotary => "rotary",
        ElementwiseKind::Routing => "routing",
        ElementwiseKind::Embedding => "embedding",
        ElementwiseKind::Sampling => "sampling",
    }
}

/// Every elementwise kind, in the order used for lookup tables.
pub const ELEMENTWISE_KINDS: [ElementwiseKind; 7] = [
    ElementwiseKind::Norm,
    ElementwiseKind::Activation,
    ElementwiseKind::Residual,
    ElementwiseKind::Rotary,
    ElementwiseKind::Routing,
    ElementwiseKind::Embedding,
    ElementwiseKind::Sampling,
];

fn parse_elementwise_kind(s: &str) -> Option<ElementwiseKind> {
    ELEMENTWISE_KINDS
        .into_iter()
        .find(|k| elementwise_kind_name(*k) == s)
}

fn parse_collective_kind(s: &str) -> Option<CollectiveKind> {
    CollectiveKind::ALL.into_iter().find(|k| k.name() == s)
}

fn parse_scope(s: &str) -> Option<Scope> {
    match s {
        "intra" => Some(Scope::Intra),
        "inter" => Some(Scope::Inter),
        _ => None,
    }
}

/// Reads one table's rows: checks the column list and row shapes, then reads each row's cells
/// by column position (in the table's canonical column order), naming the cell in errors.
struct TableReader<'a> {
    file: &'a str,
    table: &'a str,
    index: Vec<usize>,
    columns: &'a [&'a str],
}

impl<'a> TableReader<'a> {
    fn new(
        file: &'a str,
        table: &'a str,
        obj: &'a Map<String, Value>,
        columns: &'a [&'a str],
    ) -> Result<(Self, &'a Vec<Value>), ProfileError> {
        let given = match obj.get("columns") {
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(bad_field(
                    file,
                    table,
                    Row::Header,
                    "columns",
                    v,
                    "an array of column names",
                ))
            }
            None => {
                return Err(ProfileError::MissingField {
                    file: file.to_string(),
                    location: format!("tables.{table}"),
                    field: "columns".to_string(),
                })
            }
        };
        let mut names = Vec::with_capacity(given.len());
        for v in given {
            match v.as_str() {
                Some(s) => names.push(s),
                None => {
                    return Err(bad_field(
                        file,
                        table,
                        Row::Header,
                        "columns",
                        v,
                        "a column name (string)",
                    ))
                }
            }
        }
        for n in &names {
            if !columns.contains(n) {
                return Err(ProfileError::UnknownColumn {
                    file: file.to_string(),
                    table: table.to_string(),
                    column: n.to_string(),
                    expected: columns.join(", "),
                });
            }
        }
        let mut index = Vec::with_capacity(columns.len());
        for c in columns {
            match names.iter().position(|n| n == c) {
                Some(i) => index.push(i),
                None => {
                    return Err(ProfileError::MissingColumn {
                        file: file.to_string(),
                        table: table.to_string(),
                        column: c.to_string(),
                        present: names.join(", "),
                    })
                }
            }
        }
        let rows = match obj.get("rows") {
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(bad_field(
                    file,
                    table,
                    Row::Header,
                    "rows",
                    v,
                    "an array of rows",
                ))
            }
            None => {
                return Err(ProfileError::MissingField {
                    file: file.to_string(),
                    location: format!("tables.{table}"),
                    field: "rows".to_string(),
                })
            }
        };
        if rows.is_empty() {
            return Err(ProfileError::Empty {
                file: file.to_string(),
                table: table.to_string(),
            });
        }
        let width = names.len();
        let reader = TableReader {
            file,
            table,
            index,
            columns,
        };
        for (i, r) in rows.iter().enumerate() {
            match r.as_array() {
                Some(a) if a.len() == width => {}
                _ => {
                    return Err(bad_field(
                        file,
                        table,
                        Row::Entry(i),
                        "(row)",
                        r,
                        &format!("an array of {width} values in the order of `columns`"),
                    ))
                }
            }
        }
        Ok((reader, rows))
    }

    fn cell<'v>(&self, row: &'v Value, col: usize) -> &'v Value {
        // Shapes were checked in `new`.
        &row[self.index[col]]
    }

    fn bad(&self, i: usize, col: usize, v: &Value, expected: &str) -> ProfileError {
        bad_field(
            self.file,
            self.table,
            Row::Entry(i),
            self.columns[col],
            v,
            expected,
        )
    }

    fn pos_int(&self, i: usize, row: &Value, col: usize) -> Result<u64, ProfileError> {
        let v = self.cell(row, col);
        match as_int(v) {
            Some(x) if x > 0 => Ok(x),
            _ => Err(self.bad(i, col, v, "a positive integer")),
        }
    }

    fn nonneg_int(&self, i: usize, row: &Value, col: usize) -> Result<u64, ProfileError> {
        let v = self.cell(row, col);
        as_int(v).ok_or_else(|| self.bad(i, col, v, "an integer >= 0"))
    }

    fn u32(&self, i: usize, row: &Value, col: usize, positive: bool) -> Result<u32, ProfileError> {
        let x = if positive {
            self.pos_int(i, row, col)?
        } else {
            self.nonneg_int(i, row, col)?
        };
        u32::try_from(x).map_err(|_| self.bad(i, col, self.cell(row, col), "an integer < 2^32"))
    }

    /// [`Self::u32`], then at most `max` (sizes that are later expanded per sequence or
    /// multiplied together are bounded before use).
    fn u32_max(
        &self,
        i: usize,
        row: &Value,
        col: usize,
        positive: bool,
        max: u32,
    ) -> Result<u32, ProfileError> {
        let x = self.u32(i, row, col, positive)?;
        if x > max {
            return Err(self.bad(i, col, self.cell(row, col), &format!("at most {max}")));
        }
        Ok(x)
    }

    fn pos_f64(&self, i: usize, row: &Value, col: usize) -> Result<f64, ProfileError> {
        let v = self.cell(row, col);
        match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(self.bad(i, col, v, "a finite number > 0")),
        }
    }

    fn seconds(&self, i: usize, row: &Value, col: usize) -> Result<f64, ProfileError> {
        let v = self.cell(row, col);
        match v.as_f64() {
            Some(x) if (super::MIN_TIME_S..=super::MAX_TIME_S).contains(&x) => Ok(x),
            Some(x) if x.is_finite() && x > 0.0 => {
                Err(self.bad(i, col, v, "a time in seconds between 1 ns and one day"))
            }
            Some(_) => Err(ProfileError::NonPositiveTime {
                file: self.file.to_string(),
                table: self.table.to_string(),
                row: Row::Entry(i),
                column: self.columns[col].to_string(),
                value: v.to_string(),
            }),
            None => Err(self.bad(i, col, v, "a time in seconds (a number > 0)")),
        }
    }

    fn dtype(&self, i: usize, row: &Value, col: usize) -> Result<DType, ProfileError> {
        self.parsed(
            i,
            row,
            col,
            |s| s.parse::<DType>().ok(),
            "one of fp32, bf16, fp16, fp8, int8, int4",
        )
    }

    /// A string cell parsed by `parse`; `expected` names the accepted values.
    fn parsed<T>(
        &self,
        i: usize,
        row: &Value,
        col: usize,
        parse: fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T, ProfileError> {
        let v = self.cell(row, col);
        v.as_str()
            .and_then(parse)
            .ok_or_else(|| self.bad(i, col, v, expected))
    }
}

fn as_int(v: &Value) -> Option<u64> {
    if let Some(x) = v.as_u64() {
        return Some(x);
    }
    match v.as_f64() {
        Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 9.0e15 => Some(x as u64),
        _ => None,
    }
}

fn bad_field(
    file: &str,
    table: &str,
    row: Row,
    column: &str,
    v: &Value,
    expected: &str,
) -> ProfileError {
    ProfileError::BadValue {
        file: file.to_string(),
        table: table.to_string(),
        row,
        column: column.to_string(),
        // as JSON: a string keeps its quotes (`"128"` where a number was expected reads
        // differently from `128`)
        value: v.to_string(),
        expected: expected.to_string(),
    }
}

fn req_obj<'a>(
    file: &str,
    obj: &'a Map<String, Value>,
    location: &str,
    field: &str,
) -> Result<&'a Map<String, Value>, ProfileError> {
    match obj.get(field) {
        Some(Value::Object(o)) => Ok(o),
        Some(v) => Err(bad_field(
            file,
            location,
            Row::Header,
            field,
            v,
            "a JSON object",
        )),
        None => Err(ProfileError::MissingField {
            file: file.to_string(),
            location: location.to_string(),
            field: field.to_string(),
        }),
    }
}

fn req_str(
    file: &str,
    obj: &Map<String, Value>,
    location: &str,
    field: &str,
) -> Result<String, ProfileError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(v) => Err(bad_field(
            file,
            location,
            Row::Header,
            field,
            v,
            "a non-empty string",
        )),
        None => Err(ProfileError::MissingField {
            file: file.to_string(),
            location: location.to_string(),
            field: field.to_string(),
        }),
    }
}

fn req_pos(
    file: &str,
    obj: &Map<String, Value>,
    location: &str,
    field: &str,
) -> Result<f64, ProfileError> {
    match obj.get(field) {
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(bad_field(
                file,
                location,
                Row::Header,
                field,
                v,
                "a finite number > 0",
            )),
        },
        None => Err(ProfileError::MissingField {
            file: file.to_string(),
            location: location.to_string(),
            field: field.to_string(),
        }),
    }
}

fn opt_pos(
    file: &str,
    obj: &Map<String, Value>,
    location: &str,
    field: &str,
) -> Result<Option<f64>, ProfileError> {
    match obj.get(field) {
        None => Ok(None),
        Some(_) => req_pos(file, obj, location, field).map(Some),
    }
}

fn opt_nonneg(
    file: &str,
    obj: &Map<String, Value>,
    location: &str,
    field: &str,
) -> Result<Option<f64>, ProfileError> {
    match obj.get(field) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(bad_field(
                file,
                location,
                Row::Header,
                field,
                v,
                "a finite number >= 0",
            )),
        },
    }
}

fn parse_software(
    file: &str,
    obj: &Map<String, Value>,
    location: &str,
) -> Result<Software, ProfileError> {
    Ok(Software {
        torch: req_str(file, obj, location, "torch")?,
        cuda: req_str(file, obj, location, "cuda")?,
        driver: req_str(file, obj, location, "driver")?,
    })
}

fn parse_provenance(
    file: &str,
    obj: &Map<String, Value>,
    location: &str,
) -> Result<Provenance, ProfileError> {
    Ok(Provenance {
        source: req_str(file, obj, location, "source")?,
        date: req_str(file, obj, location, "date")?,
        method: req_str(file, obj, location, "method")?,
    })
}

fn check_keys(
    file: &str,
    obj: &Map<String, Value>,
    location: &str,
    allowed: &[&str],
) -> Result<(), ProfileError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(ProfileError::UnknownColumn {
                file: file.to_string(),
                table: location.to_string(),
                column: k.clone(),
                expected: allowed.join(", "),
            });
        }
    }
    Ok(())
}

/// Reads the `provenance` / `software` of a table and builds the table.
fn table_meta<T>(
    file: &str,
    name: &str,
    routed: bool,
    obj: &Map<String, Value>,
    rows: Vec<T>,
) -> Result<Table<T>, ProfileError> {
    let location = format!("tables.{name}");
    let keys: &[&str] = if routed {
        &["columns", "rows", "provenance", "software", "routing"]
    } else if name == "elementwise" {
        &["columns", "rows", "provenance", "software", "min_bytes"]
    } else {
        &["columns", "rows", "provenance", "software"]
    };
    check_keys(file, obj, &location, keys)?;
    let mut t = Table::new(rows);
    if let Some(v) = obj.get("min_bytes") {
        t.min_bytes = Some(
            v.as_f64()
                .filter(|b| b.is_finite() && *b > 0.0)
                .ok_or_else(|| {
                    bad_field(
                        file,
                        name,
                        Row::Header,
                        "min_bytes",
                        v,
                        "a positive number of bytes",
                    )
                })?,
        );
    }
    if let Some(v) = obj.get("routing") {
        t.routing = Some(match v.as_str() {
            Some("random") => TableRouting::Random,
            Some("spread") => TableRouting::Spread,
            _ => {
                return Err(bad_field(
                    file,
                    name,
                    Row::Header,
                    "routing",
                    v,
                    "`random` or `spread`",
                ))
            }
        });
    }
    if obj.contains_key("provenance") {
        let p = req_obj(file, obj, &location, "provenance")?;
        t.provenance = Some(parse_provenance(
            file,
            p,
            &format!("{location}.provenance"),
        )?);
    }
    if obj.contains_key("software") {
        let s = req_obj(file, obj, &location, "software")?;
        t.software = Some(parse_software(file, s, &format!("{location}.software"))?);
    }
    Ok(t)
}

/// A row type of one of the five tables: the table's name and columns, and how one row is
/// read from and written to JSON.
trait TableRow: Sized {
    /// Key under `tables`.
    const NAME: &'static str;
    /// Columns, in the order rows are written and `read` indexes them.
    const COLUMNS: &'static [&'static str];
    /// Whether the table may say how its tokens were routed (`routing`, see [`TableRouting`]).
    const ROUTED: bool = false;
    /// Reads entry `i`, a row whose shape `r` has checked.
    fn read(r: &TableReader<'_>, i: usize, row: &Value) -> Result<Self, ProfileError>;
    /// The row's cells as JSON values, comma-separated, in [`Self::COLUMNS`] order.
    fn write(&self) -> String;
}

impl TableRow for GemmPoint {
    const NAME: &'static str = "gemm";
    const COLUMNS: &'static [&'static str] = &GEMM_COLUMNS;
    fn read(r: &TableReader<'_>, i: usize, row: &Value) -> Result<Self, ProfileError> {
        Ok(GemmPoint {
            m: r.pos_int(i, row, 0)?,
            n: r.pos_int(i, row, 1)?,
            k: r.pos_int(i, row, 2)?,
            dtype: r.dtype(i, row, 3)?,
            seconds: r.seconds(i, row, 4)?,
        })
    }
    fn write(&self) -> String {
        format!(
            "{}, {}, {}, {}, {}",
            self.m,
            self.n,
            self.k,
            js(self.dtype.name()),
            num(self.seconds)
        )
    }
}

impl TableRow for PrefillPoint {
    const NAME: &'static str = "prefill_attention";
    const COLUMNS: &'static [&'static str] = &PREFILL_COLUMNS;
    fn read(r: &TableReader<'_>, i: usize, row: &Value) -> Result<Self, ProfileError> {
        Ok(PrefillPoint {
            batch: r.u32_max(i, row, 0, true, MAX_BATCH_SEQUENCES)?,
            new_tokens: r.u32_max(i, row, 1, true, MAX_SEQUENCE_TOKENS)?,
            prefix: r.u32_max(i, row, 2, false, MAX_SEQUENCE_TOKENS)?,
            heads: r.u32(i, row, 3, true)?,
            kv_heads: r.u32(i, row, 4, true)?,
            head_dim: r.u32(i, row, 5, true)?,
            dtype: r.dtype(i, row, 6)?,
            seconds: r.seconds(i, row, 7)?,
        })
    }
    fn write(&self) -> String {
        format!(
            "{}, {}, {}, {}, {}, {}, {}, {}",
            self.batch,
            self.new_tokens,
            self.prefix,
            self.heads,
            self.kv_heads,
            self.head_dim,
            js(self.dtype.name()),
            num(self.seconds)
        )
    }
}

impl TableRow for DecodePoint {
    const NAME: &'static str = "decode_attention";
    const COLUMNS: &'static [&'static str] = &DECODE_COLUMNS;
    fn read(r: &TableReader<'_>, i: usize, row: &Value) -> Result<Self, ProfileError> {
        Ok(DecodePoint {
            batch: r.u32_max(i, row, 0, true, MAX_BATCH_SEQUENCES)?,
            context: r.u32_max(i, row, 1, true, MAX_SEQUENCE_TOKENS)?,
            heads: r.u32(i, row, 2, true)?,
            kv_heads: r.u32(i, row, 3, true)?,
            head_dim: r.u32(i, row, 4, true)?,
            dtype: r.dtype(i, row, 5)?,
            seconds: r.seconds(i, row, 6)?,
        })
    }
    fn write(&self) -> String {
        format!(
            "{}, {}, {}, {}, {}, {}, {}",
            self.batch,
            self.context,
            self.heads,
            self.kv_heads,
            self.head_dim,
            js(self.dtype.name()),
            num(self.seconds)
        )
    }
}

impl TableRow for ElementwisePoint {
    const NAME: &'static str = "elementwise";
    const COLUMNS: &'static [&'static str] = &ELEMENTWISE_COLUMNS;
    fn read(r: &TableReader<'_>, i: usize, row: &Value) -> Result<Self, ProfileError> {
        Ok(ElementwisePoint {
            kind: r.parsed(i, row, 0, parse_elementwise_kind, ELEMENTWISE_EXPECTED)?,
            bytes: r.pos_f64(i, row, 1)?,
            seconds: r.seconds(i, row, 2)?,
        })
    }
    fn write(&self) -> String {
        format!(
            "{}, {}, {}",
            js(elementwise_kind_name(self.kind)),
            num(self.bytes),
            num(self.seconds)
        )
    }
}

impl TableRow for CollectivePoint {
    const NAME: &'static str = "collective";
    const COLUMNS: &'static [&'static str] = &COLLECTIVE_COLUMNS;
    fn read(r: &TableReader<'_>, i: usize, row: &Value) -> Result<Self, ProfileError> {
        Ok(CollectivePoint {
            op: r.parsed(i, row, 0, parse_collective_kind, COLLECTIVE_EXPECTED)?,
            group_size: match r.u32(i, row, 1, true)? {
                // one rank moves nothing: such a row would price every collective at 0
                1 => {
                    return Err(r.bad(
                        i,
                        1,
                        r.cell(row, 1),
                        "at least 2 ranks (a collective of one rank moves nothing)",
                    ))
                }
                n => n,
            },
            scope: r.parsed(i, row, 2, parse_scope, "`intra` or `inter`")?,
            bytes: r.pos_f64(i, row, 3)?,
            seconds: r.seconds(i, row, 4)?,
        })
    }
    fn write(&self) -> String {
        format!(
            "{}, {}, {}, {}, {}",
            js(self.op.name()),
            self.group_size,
            js(self.scope.name()),
            num(self.bytes),
            num(self.seconds)
        )
    }
}

/// A `fused_moe` row's `dtype` cell: one type for weights and GEMM inputs (`bf16`, `fp8`),
/// `fp8_block` for block-scaled fp8, or `weights/inputs` for weight-only quantised experts
/// (`fp4/bf16`).
fn parse_moe_dtype(s: &str) -> Option<(DType, DType, bool)> {
    if s.eq_ignore_ascii_case("fp8_block") {
        return Some((DType::Fp8, DType::Fp8, true));
    }
    match s.split_once('/') {
        Some((w, a)) => {
            let (w, a) = (w.parse::<DType>().ok()?, a.parse::<DType>().ok()?);
            (w != a).then_some((w, a, false))
        }
        None => s.parse::<DType>().ok().map(|d| (d, d, false)),
    }
}

/// A `fused_moe` row's `experts` cell as a string: `local/layer` (expert parallelism: the
/// measured GPU's experts of the layer's; the layer's a positive multiple of the local), or
/// one positive integer written as a string (`"128"`: every expert of the layer local).
fn parse_local_experts(s: &str) -> Option<(u32, u32)> {
    let Some((l, e)) = s.split_once('/') else {
        let n = s.trim().parse::<u32>().ok()?;
        return (n > 0).then_some((n, n));
    };
    let (l, e) = (l.trim().parse::<u32>().ok()?, e.trim().parse::<u32>().ok()?);
    (l > 0 && e >= l && e % l == 0).then_some((l, e))
}

/// The `dtype` cell of a `fused_moe` row ([`parse_moe_dtype`]'s inverse).
fn moe_dtype_name(weights: DType, inputs: DType, block_scales: bool) -> String {
    if block_scales && weights == DType::Fp8 {
        "fp8_block".to_string()
    } else if weights == inputs {
        weights.name().to_string()
    } else {
        format!("{}/{}", weights.name(), inputs.name())
    }
}

impl TableRow for FusedMoePoint {
    const NAME: &'static str = "fused_moe";
    const COLUMNS: &'static [&'static str] = &FUSED_MOE_COLUMNS;
    const ROUTED: bool = true;
    fn read(r: &TableReader<'_>, i: usize, row: &Value) -> Result<Self, ProfileError> {
        let (dtype, act_dtype, block_scales) = r.parsed(
            i,
            row,
            5,
            parse_moe_dtype,
            "one of fp32, bf16, fp16, fp8, fp8_block, int8, int4, fp4, or weights/inputs for \
             weight-only experts (e.g. fp4/bf16)",
        )?;
        let (experts, layer_experts) = match r.cell(row, 1).as_str() {
            Some(_) => r.parsed(
                i,
                row,
                1,
                parse_local_experts,
                "a positive integer (a number or a string), or local/layer experts under expert parallelism (e.g. \
                 32/256, the layer's a multiple of the local)",
            )?,
            None => {
                let e = r.u32(i, row, 1, true)?;
                (e, e)
            }
        };
        let top_k = r.u32(i, row, 2, true)?;
        if top_k > layer_experts {
            // each token goes to `top_k` distinct experts of the layer
            return Err(r.bad(
                i,
                2,
                r.cell(row, 2),
                &format!("at most the layer's {layer_experts} experts"),
            ));
        }
        Ok(FusedMoePoint {
            tokens: r.pos_int(i, row, 0)?,
            experts,
            layer_experts,
            top_k,
            hidden: r.u32(i, row, 3, true)?,
            intermediate: r.u32(i, row, 4, true)?,
            dtype,
            act_dtype,
            block_scales,
            seconds: r.seconds(i, row, 6)?,
        })
    }
    fn write(&self) -> String {
        format!(
            "{}, {}, {}, {}, {}, {}, {}",
            self.tokens,
            if self.layer_experts == self.experts {
                self.experts.to_string()
            } else {
                js(&format!("{}/{}", self.experts, self.layer_experts))
            },
            self.top_k,
            self.hidden,
            self.intermediate,
            js(&moe_dtype_name(
                self.dtype,
                self.act_dtype,
                self.block_scales
            )),
            num(self.seconds)
        )
    }
}

const ELEMENTWISE_EXPECTED: &str =
    "one of norm, activation, residual, rotary, routing, embedding, sampling";
const COLLECTIVE_EXPECTED: &str =
    "one of all_reduce, all_gather, reduce_scatter, all_to_all, send_recv";

/// Reads table `T::NAME` of `tables` when present: its columns, rows and metadata.
fn read_table<T: TableRow>(
    file: &str,
    tables: &Map<String, Value>,
) -> Result<Option<Table<T>>, ProfileError> {
    if !tables.contains_key(T::NAME) {
        return Ok(None);
    }
    let obj = req_obj(file, tables, "tables", T::NAME)?;
    let (r, rows) = TableReader::new(file, T::NAME, obj, T::COLUMNS)?;
    let out = rows
        .iter()
        .enumerate()
        .map(|(i, row)| T::read(&r, i, row))
        .collect::<Result<Vec<T>, ProfileError>>()?;
    table_meta(file, T::NAME, T::ROUTED, obj, out).map(Some)
}

/// A JSON string literal.
fn js(v: &str) -> String {
    Value::String(v.to_string()).to_string()
}

/// A JSON number (`null` for a non-finite one).
fn num(x: f64) -> String {
    serde_json::Number::from_f64(x)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "null".to_string())
}

fn software_json(w: &Software) -> String {
    format!(
        "{{\"torch\": {}, \"cuda\": {}, \"driver\": {}}}",
        js(&w.torch),
        js(&w.cuda),
        js(&w.driver)
    )
}

fn provenance_json(p: &Provenance) -> String {
    format!(
        "{{\"source\": {}, \"date\": {}, \"method\": {}}}",
        js(&p.source),
        js(&p.date),
        js(&p.method)
    )
}

/// Writes table `t` as the JSON member `"<T::NAME>": {...}`, one row per line.
fn write_table<T: TableRow>(t: &Table<T>) -> String {
    let mut s = format!("    \"{}\": {{\n", T::NAME);
    if let Some(p) = &t.provenance {
        let _ = writeln!(s, "      \"provenance\": {},", provenance_json(p));
    }
    if let Some(w) = &t.software {
        let _ = writeln!(s, "      \"software\": {},", software_json(w));
    }
    if let Some(r) = t.routing {
        let _ = writeln!(s, "      \"routing\": {},", js(r.name()));
    }
    if let Some(b) = t.min_bytes {
        let _ = writeln!(s, "      \"min_bytes\": {},", num(b));
    }
    let cols: Vec<String> = T::COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
    let _ = writeln!(s, "      \"columns\": [{}],", cols.join(", "));
    let _ = writeln!(s, "      \"rows\": [");
    let n = t.rows.len();
    for (i, r) in t.rows.iter().enumerate() {
        let sep = if i + 1 < n { "," } else { "" };
        let _ = writeln!(s, "        [{}]{sep}", r.write());
    }
    s.push_str("      ]\n    }");
    s
}

impl Profile {
    /// Reads a profile from a JSON file.
    ///
    /// # Errors
    /// [`ProfileError::Io`] when the file cannot be read; otherwise as [`Profile::from_json`].
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = parallax_ir::read_text(path).map_err(|e| ProfileError::io(path, &e))?;
        Profile::from_json(&path.display().to_string(), &text)
    }

    /// Parses a profile from JSON text; `file` names the source in error messages.
    ///
    /// The profile is validated: required fields and columns are present, sizes are positive
    /// integers, times are positive, and every curve the cost model interpolates has at least
    /// two distinct sizes (see [`Profile::validate`]).
    ///
    /// # Errors
    /// A [`ProfileError`] naming the file, and for row-level faults the table, the row (entry
    /// index) and the column.
    pub fn from_json(file: &str, text: &str) -> Result<Profile, ProfileError> {
        let root: Value =
            parallax_ir::json::parse_unique(text).map_err(|e| ProfileError::Json {
                file: file.to_string(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        let top = match &root {
            Value::Object(o) => o,
            other => {
                return Err(bad_field(
                    file,
                    "top level",
                    Row::Header,
                    "(document)",
                    other,
                    "a JSON object",
                ))
            }
        };
        check_keys(
            file,
            top,
            "top level",
            &[
                "format_version",
                "name",
                "gpu",
                "software",
                "provenance",
                "overheads",
                "tables",
            ],
        )?;
        match top.get("format_version") {
            None => {
                return Err(ProfileError::MissingField {
                    file: file.to_string(),
                    location: "top level".to_string(),
                    field: "format_version".to_string(),
                })
            }
            Some(v) if v.as_u64() == Some(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(ProfileError::UnsupportedVersion {
                    file: file.to_string(),
                    found: v.to_string(),
                    supported: FORMAT_VERSION.to_string(),
                })
            }
        }
        let name = req_str(file, top, "top level", "name")?;
        let g = req_obj(file, top, "top level", "gpu")?;
        check_keys(
            file,
            g,
            "gpu",
            &["name", "device", "matmul_flops", "memory_bandwidth"],
        )?;
        let gpu = ProfileGpu {
            name: req_str(file, g, "gpu", "name")?,
            device: req_str(file, g, "gpu", "device")?,
            matmul_flops: req_pos(file, g, "gpu", "matmul_flops")?,
            memory_bandwidth: req_pos(file, g, "gpu", "memory_bandwidth")?,
        };
        gpu.check_rates(file)?;
        let software = parse_software(
            file,
            req_obj(file, top, "top level", "software")?,
            "software",
        )?;
        let provenance = parse_provenance(
            file,
            req_obj(file, top, "top level", "provenance")?,
            "provenance",
        )?;
        let mut overheads = Overheads::default();
        if top.contains_key("overheads") {
            let o = req_obj(file, top, "top level", "overheads")?;
            check_keys(
                file,
                o,
                "overheads",
                &[
                    "kernel_launch_seconds",
                    "graph_kernel_seconds",
                    "host_op_seconds",
                    "iteration_seconds",
                    "graph_kernel_overlap_seconds",
                ],
            )?;
            overheads.kernel_launch_seconds =
                opt_pos(file, o, "overheads", "kernel_launch_seconds")?;
            overheads.graph_kernel_seconds = opt_pos(file, o, "overheads", "graph_kernel_seconds")?;
            overheads.host_op_seconds = opt_pos(file, o, "overheads", "host_op_seconds")?;
            overheads.iteration_seconds = opt_nonneg(file, o, "overheads", "iteration_seconds")?;
            overheads.graph_kernel_overlap_seconds =
                opt_nonneg(file, o, "overheads", "graph_kernel_overlap_seconds")?;
        }
        let tables = req_obj(file, top, "top level", "tables")?;
        check_keys(
            file,
            tables,
            "tables",
            &[
                "gemm",
                "prefill_attention",
                "decode_attention",
                "elementwise",
                "collective",
                "fused_moe",
            ],
        )?;
        let p = Profile {
            name,
            source_name: file.to_string(),
            gpu,
            software,
            provenance,
            overheads,
            gemm: read_table(file, tables)?,
            prefill_attention: read_table(file, tables)?,
            decode_attention: read_table(file, tables)?,
            elementwise: read_table(file, tables)?,
            collective: read_table(file, tables)?,
            fused_moe: read_table(file, tables)?,
        };
        p.validate()?;
        Ok(p)
    }

    /// Checks what the cost model needs beyond per-value checks: every curve it will
    /// interpolate (one per shape family, see `docs/profile-format.md`) has at least two
    /// distinct sizes, and every time is positive.
    ///
    /// # Errors
    /// [`ProfileError::TooFewPoints`] naming the table, the family's first row and the size
    /// column; [`ProfileError::NonPositiveTime`] for a bad time in a profile built in code.
    pub fn validate(&self) -> Result<(), ProfileError> {
        super::model::Families::build(self).map(|_| ())
    }

    /// Writes the profile as JSON (format version [`FORMAT_VERSION`]), one table row per line.
    /// [`Profile::from_json`] reads it back to an equal profile (times round-trip exactly).
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{{");
        let _ = writeln!(s, "  \"format_version\": {FORMAT_VERSION},");
        let _ = writeln!(s, "  \"name\": {},", js(&self.name));
        let _ = writeln!(
            s,
            "  \"gpu\": {{\"name\": {}, \"device\": {}, \"matmul_flops\": {}, \"memory_bandwidth\": {}}},",
            js(&self.gpu.name),
            js(&self.gpu.device),
            num(self.gpu.matmul_flops),
            num(self.gpu.memory_bandwidth)
        );
        let _ = writeln!(s, "  \"software\": {},", software_json(&self.software));
        let _ = writeln!(
            s,
            "  \"provenance\": {},",
            provenance_json(&self.provenance)
        );
        let o: Vec<String> = [
            (
                "kernel_launch_seconds",
                self.overheads.kernel_launch_seconds,
            ),
            ("graph_kernel_seconds", self.overheads.graph_kernel_seconds),
            ("host_op_seconds", self.overheads.host_op_seconds),
            ("iteration_seconds", self.overheads.iteration_seconds),
            (
                "graph_kernel_overlap_seconds",
                self.overheads.graph_kernel_overlap_seconds,
            ),
        ]
        .into_iter()
        .filter_map(|(k, x)| x.map(|x| format!("\"{k}\": {}", num(x))))
        .collect();
        if !o.is_empty() {
            let _ = writeln!(s, "  \"overheads\": {{{}}},", o.join(", "));
        }
        let tables: Vec<String> = [
            self.gemm.as_ref().map(write_table),
            self.prefill_attention.as_ref().map(write_table),
            self.decode_attention.as_ref().map(write_table),
            self.elementwise.as_ref().map(write_table),
            self.collective.as_ref().map(write_table),
            self.fused_moe.as_ref().map(write_table),
        ]
        .into_iter()
        .flatten()
        .collect();
        let _ = writeln!(s, "  \"tables\": {{");
        let _ = writeln!(s, "{}", tables.join(",\n"));
        let _ = writeln!(s, "  }}");
        s.push_str("}\n");
        s
    }
}
