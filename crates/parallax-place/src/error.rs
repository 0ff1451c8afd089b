//! The error type of `parallax-place`.

use std::path::PathBuf;

use crate::model::NodeId;

/// Everything that can go wrong when loading or solving a placement instance.
///
/// Budget exhaustion is *not* an error: a solver stopped by its [`crate::Limits`]
/// returns its best placement with [`crate::ProofStatus::Stopped`].
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{file}: invalid placement JSON: {source}{note}")]
    Json {
        /// The file (or `<string>` for in-memory input).
        file: PathBuf,
        /// The underlying serde error (carries line and column).
        source: serde_json::Error,
        /// A note after serde's message (empty, or `; ...`: for instance that JSON numbers
        /// cannot be NaN or Infinity).
        note: String,
    },
    /// A field of a node, an edge or the devices has the wrong type, is missing, or is not
    /// a field of the format.
    #[error("{file}: {item}: {problem}")]
    InvalidField {
        /// The file.
        file: PathBuf,
        /// What holds the field: `node 3 (nodes[2])`, `edge 1 -> 2 (edges[0])`, `devices`,
        /// `top level`.
        item: String,
        /// The field, the value as written and what was expected.
        problem: String,
    },
    /// Two nodes share one id.
    #[error("node id {id} is used by more than one node")]
    DuplicateNode {
        /// The repeated id.
        id: NodeId,
    },
    /// An edge names a node that does not exist.
    #[error("edge {from} -> {to} refers to node {missing}, which does not exist")]
    MissingNode {
        /// Edge source.
        from: NodeId,
        /// Edge destination.
        to: NodeId,
        /// The id that is not a node.
        missing: NodeId,
    },
    /// A time, size or cost is negative, not finite, or above [`crate::MAX_VALUE`] (sums of
    /// such values would overflow).
    #[error("node {node}: field `{field}` is {}, expected a number from 0 to 1e300", compact(*.value))]
    NegativeValue {
        /// The node carrying the value.
        node: NodeId,
        /// The field name as written in the input.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// An edge's value (the paper's `cost`) is negative, not finite, or above
    /// [`crate::MAX_VALUE`].
    #[error("edge {from} -> {to}: field `{field}` is {}, expected a number from 0 to 1e300", compact(*.value))]
    InvalidEdgeValue {
        /// Edge source.
        from: NodeId,
        /// Edge destination.
        to: NodeId,
        /// The field name as written in the input.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A device parameter is out of range.
    #[error("device parameter `{field}` is {}, expected {expected}", compact(*.value))]
    InvalidDevices {
        /// The field name as written in the input.
        field: &'static str,
        /// The offending value.
        value: f64,
        /// What was expected.
        expected: &'static str,
    },
    /// The out-edges of one node carry different transfer costs.
    #[error("node {node}: its out-edges carry different costs ({} and {}); the model needs one output transfer cost per node", compact(*.first), compact(*.second))]
    InconsistentEdgeCost {
        /// The edge source.
        node: NodeId,
        /// The first cost seen.
        first: f64,
        /// A different cost.
        second: f64,
    },
    /// The graph has a directed cycle.
    #[error("the graph has a cycle {}", cycle_text(.nodes))]
    Cycle {
        /// The node ids on the cycle, in order (the first follows the last).
        nodes: Vec<NodeId>,
    },
    /// A node (or the colocation class it belongs to) fits on no device.
    #[error("node {node} can be placed on no device: {reason}")]
    NoDevice {
        /// The node.
        node: NodeId,
        /// Why.
        reason: String,
    },
    /// No placement satisfies the accelerator memory limit.
    #[error("infeasible memory: no placement that keeps the constraints (contiguity, colocation, subgraphs) fits {accelerators} accelerator(s) of memory {memory} each (total node size {total_size}), and there are no CPUs")]
    InfeasibleMemory {
        /// Number of accelerators.
        accelerators: usize,
        /// Memory per accelerator.
        memory: f64,
        /// Sum of all node sizes.
        total_size: f64,
    },
    /// A human-expert split does not fit the instance it is compared with.
    #[error("{file}: expert split does not match the instance: {reason}")]
    ExpertMismatch {
        /// The expert file.
        file: PathBuf,
        /// What does not match (node id, device count).
        reason: String,
    },
    /// A request the solver does not support (for example a bad option value).
    #[error("unsupported request: {0}")]
    Unsupported(String),
    /// The MILP solver failed.
    #[error("MILP solver failed: {0}")]
    Milp(String),
    /// A placement did not pass the independent re-verification (a bug, please report).
    #[error("internal check failed: {0}")]
    Verification(String),
}

/// A number as a reader would write it: plain for ordinary magnitudes, in exponent form
/// (`1e301`, `2.5e-12`) for very large or very small ones (never 300 digits).
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && a != 0.0 && !(1e-5..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Nodes named on a cycle before the rest are left out of the message.
const CYCLE_SHOWN: usize = 8;

/// A cycle in words: its length and its nodes, at most [`CYCLE_SHOWN`] of them (a cycle
/// through a large graph would otherwise make a message of hundreds of kilobytes).
fn cycle_text(nodes: &[NodeId]) -> String {
    let Some(first) = nodes.first() else {
        return "(no nodes)".to_string();
    };
    if nodes.len() == 1 {
        return format!("at node {first} (an edge from the node to itself)");
    }
    let all = nodes.len() <= CYCLE_SHOWN + 1;
    let take = if all { nodes.len() } else { CYCLE_SHOWN };
    let shown: Vec<String> = nodes.iter().take(take).map(|n| n.to_string()).collect();
    let more = if !all {
        format!(
            " -> … ({} more) -> {}",
            nodes.len() - CYCLE_SHOWN - 1,
            nodes[nodes.len() - 1]
        )
    } else {
        String::new()
    };
    format!(
        "of {} nodes: {}{more} -> {first}",
        nodes.len(),
        shown.join(" -> ")
    )
}
