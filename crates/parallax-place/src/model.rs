//! The placement instance: our own serde format, the paper's JSON, and validation.
//!
//! See `FORMAT.md` in this crate for both file formats.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::PlaceError;

/// A node id as written in the input.
pub type NodeId = i64;

/// The largest accepted number of accelerators (and, separately, of CPUs): 1,048,576.
///
/// Solvers never build tables over more devices of a kind than there are colocation
/// classes (see [`Instance::usable`]), so a large count costs nothing by itself.
pub const MAX_DEVICES: usize = 1 << 20;

/// One operator of the DAG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique id.
    pub id: NodeId,
    /// Optional human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Time on an accelerator, p_acc.
    pub acc_time: f64,
    /// Time on a CPU, p_cpu.
    pub cpu_time: f64,
    /// Memory needed on an accelerator, m.
    #[serde(default)]
    pub memory: f64,
    /// Whether an accelerator can run the node (otherwise it must go on a CPU).
    #[serde(default = "yes")]
    pub acc_supported: bool,
    /// Whether this is a backward (training) node.
    #[serde(default)]
    pub backward: bool,
    /// Colocation class: nodes with the same class share one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<i64>,
    /// c(u): time to move this node's output between an accelerator and CPU memory.
    #[serde(default)]
    pub output_cost: f64,
}

fn yes() -> bool {
    true
}

/// A data dependency `from -> to`; the transfer cost is the source's `output_cost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// Source node id.
    pub from: NodeId,
    /// Destination node id.
    pub to: NodeId,
}

/// The devices available.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Devices {
    /// k: number of accelerators.
    pub accelerators: usize,
    /// M: memory of each accelerator.
    pub accelerator_memory: f64,
    /// l: number of CPUs.
    pub cpus: usize,
}

/// A placement instance in our own format (see `FORMAT.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graph {
    /// The devices.
    pub devices: Devices,
    /// The operators.
    pub nodes: Vec<Node>,
    /// The data dependencies.
    pub edges: Vec<Edge>,
}

/// A 0/1 or true/false flag as written in the paper's JSON files.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct Flag;
    impl serde::de::Visitor<'_> for Flag {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a flag (true/false or 0/1)")
        }
        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<bool, E> {
            Ok(b)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(E::custom(format!(
                    "expected a flag (true/false or 0/1), found {other}"
                ))),
            }
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(E::custom(format!(
                    "expected a flag (true/false or 0/1), found {other}"
                ))),
            }
        }
    }
    d.deserialize_any(Flag)
}

// The paper's formats reject unknown fields as the native one does: a misspelled `size` or
// `colorClass` would otherwise silently change the answer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PaperNode {
    id: NodeId,
    #[serde(default)]
    name: Option<String>,
    cpu_latency: f64,
    fpga_latency: f64,
    #[serde(default)]
    size: f64,
    #[serde(deserialize_with = "flag")]
    supported_on_fpga: bool,
    #[serde(deserialize_with = "flag")]
    is_backward_node: bool,
    #[serde(default)]
    color_class: Option<i64>,
    /// Present in some files; only used by the authors' layer-contraction option.
    #[serde(default)]
    #[allow(dead_code)]
    layer_id: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PaperEdge {
    source_id: NodeId,
    dest_id: NodeId,
    cost: f64,
    /// Bytes moved; informational (the time is in `cost`).
    #[serde(default)]
    #[allow(dead_code)]
    size: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PaperGraph {
    #[serde(rename = "maxSizePerFPGA")]
    max_size_per_fpga: f64,
    #[serde(rename = "maxFPGAs")]
    max_fpgas: i64,
    #[serde(rename = "maxCPUs")]
    max_cpus: i64,
    nodes: Vec<PaperNode>,
    edges: Vec<PaperEdge>,
}

impl Graph {
    /// Parses the paper's JSON (`maxSizePerFPGA`, `maxFPGAs`, `maxCPUs`, `nodes`, `edges`).
    ///
    /// Edge costs become the source's `output_cost`; all out-edges of a node must carry
    /// the same cost. `origin` names the input in error messages.
    pub fn from_paper_json(text: &str, origin: &Path) -> Result<Graph, PlaceError> {
        let raw: PaperGraph = serde_json::from_str(text)
            .map_err(|source| crate::diagnose::json_error(text, origin, source, true))?;
        let count = |field: &'static str, v: i64| -> Result<usize, PlaceError> {
            usize::try_from(v).ok().filter(|&c| c <= MAX_DEVICES).ok_or(
                PlaceError::InvalidDevices {
                    field,
                    value: v as f64,
                    expected: "an integer >= 0 and <= 1048576",
                },
            )
        };
        let devices = Devices {
            accelerators: count("maxFPGAs", raw.max_fpgas)?,
            accelerator_memory: raw.max_size_per_fpga,
            cpus: count("maxCPUs", raw.max_cpus)?,
        };
        // name the paper's fields in errors (our own validation would name ours)
        for n in &raw.nodes {
            for (field, value) in [
                ("cpuLatency", n.cpu_latency),
                ("fpgaLatency", n.fpga_latency),
                ("size", n.size),
            ] {
                if !(0.0..=crate::MAX_VALUE).contains(&value) {
                    return Err(PlaceError::NegativeValue {
                        node: n.id,
                        field,
                        value,
                    });
                }
            }
        }
        let mut cost: BTreeMap<NodeId, f64> = BTreeMap::new();
        for e in &raw.edges {
            if !(0.0..=crate::MAX_VALUE).contains(&e.cost) {
                return Err(PlaceError::InvalidEdgeValue {
                    from: e.source_id,
                    to: e.dest_id,
                    field: "cost",
                    value: e.cost,
                });
            }
            match cost.get(&e.source_id) {
                Some(&c) if !same_cost(c, e.cost) => {
                    return Err(PlaceError::InconsistentEdgeCost {
                        node: e.source_id,
                        first: c,
                        second: e.cost,
                    })
                }
                Some(_) => {}
                None => {
                    cost.insert(e.source_id, e.cost);
                }
            }
        }
        let nodes = raw
            .nodes
            .into_iter()
            .map(|n| Node {
                id: n.id,
                name: n.name,
                acc_time: n.fpga_latency,
                cpu_time: n.cpu_latency,
                memory: n.size,
                acc_supported: n.supported_on_fpga,
                backward: n.is_backward_node,
                class: n.color_class,
                output_cost: cost.get(&n.id).copied().unwrap_or(0.0),
            })
            .collect();
        let edges = raw
            .edges
            .iter()
            .map(|e| Edge {
                from: e.source_id,
                to: e.dest_id,
            })
            .collect();
        Ok(Graph {
            devices,
            nodes,
            edges,
        })
    }

    /// Parses our own format (see `FORMAT.md`).
    pub fn from_json(text: &str, origin: &Path) -> Result<Graph, PlaceError> {
        serde_json::from_str(text)
            .map_err(|source| crate::diagnose::json_error(text, origin, source, false))
    }

    /// Parses either format: the paper's when the top level has `maxFPGAs`, ours otherwise.
    pub fn from_any_json(text: &str, origin: &Path) -> Result<Graph, PlaceError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|source| crate::diagnose::json_syntax_error(text, origin, source))?;
        if value.get("maxFPGAs").is_some() {
            Graph::from_paper_json(text, origin)
        } else {
            Graph::from_json(text, origin)
        }
    }

    /// Serialises to our own format (pretty JSON).
    pub fn to_json(&self) -> String {
        // Serialising plain data with finite or non-finite floats cannot fail for this type
        // except for non-finite floats, which serde_json writes as null.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Reads a placement graph from a file, in either format.
///
/// # Errors
/// [`PlaceError::Io`] or [`PlaceError::Json`] naming the file.
pub fn load_graph(path: &Path) -> Result<Graph, PlaceError> {
    let text = read_text(path)?;
    Graph::from_any_json(&text, path)
}

/// The text of the file at `path` without a leading UTF-8 byte-order mark.
pub(crate) fn read_text(path: &Path) -> Result<String, PlaceError> {
    let io = |source| PlaceError::Io {
        file: path.to_path_buf(),
        source,
    };
    // Only regular files: a device such as `/dev/zero` or a named pipe would never end.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is not a regular file, expected a file",
        )));
    }
    // the same cap as every other input of the workspace (`parallax_ir::MAX_INPUT_BYTES`)
    if meta.len() > 2 << 30 {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("is {} bytes, expected at most 2 GiB", meta.len()),
        )));
    }
    let mut text = std::fs::read_to_string(path).map_err(io)?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

fn same_cost(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// A validated instance with nodes renumbered `0..n` (input order).
#[derive(Debug, Clone)]
pub struct Instance {
    /// Input ids, by index.
    pub ids: Vec<NodeId>,
    /// p_acc by index.
    pub p_acc: Vec<f64>,
    /// p_cpu by index.
    pub p_cpu: Vec<f64>,
    /// Memory by index.
    pub size: Vec<f64>,
    /// Accelerator support by index.
    pub supported: Vec<bool>,
    /// Backward flag by index.
    pub backward: Vec<bool>,
    /// Colocation class index (`0..classes`) by node index.
    pub class: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
    /// c(u) by index.
    pub out_cost: Vec<f64>,
    /// Out-neighbours (with multiplicity) by index.
    pub succ: Vec<Vec<usize>>,
    /// In-neighbours (with multiplicity) by index.
    pub pred: Vec<Vec<usize>>,
    /// The devices.
    pub devices: Devices,
    /// Compute/communication overlap: an accelerator's load is max(Σ p_acc, Σ transfers)
    /// instead of their sum (the authors' code notes both options). Off by default; set
    /// with [`Instance::with_overlap`]. Max-load objective only.
    pub overlap: bool,
}

impl Instance {
    /// The same instance with compute/communication overlap on or off.
    pub fn with_overlap(mut self, overlap: bool) -> Instance {
        self.overlap = overlap;
        self
    }

    /// An accelerator's load from its compute time and its transfer time.
    #[inline]
    pub fn acc_load(&self, compute: f64, transfer: f64) -> f64 {
        if self.overlap {
            compute.max(transfer)
        } else {
            compute + transfer
        }
    }

    /// Validates a graph.
    ///
    /// # Errors
    /// Duplicate ids, edges to missing nodes, negative or non-finite values, cycles (named),
    /// bad device parameters, and nodes that no device can take.
    ///
    /// # Complexity
    /// O((n + m) log n).
    pub fn new(g: &Graph) -> Result<Instance, PlaceError> {
        let d = g.devices;
        if !(d.accelerator_memory.is_finite() || d.accelerator_memory == f64::INFINITY)
            || d.accelerator_memory < 0.0
        {
            return Err(PlaceError::InvalidDevices {
                field: "accelerator_memory",
                value: d.accelerator_memory,
                expected: "a number >= 0",
            });
        }
        for (field, count) in [("accelerators", d.accelerators), ("cpus", d.cpus)] {
            if count > MAX_DEVICES {
                return Err(PlaceError::InvalidDevices {
                    field,
                    value: count as f64,
                    expected: "an integer >= 0 and <= 1048576",
                });
            }
        }
        if d.accelerators + d.cpus == 0 {
            return Err(PlaceError::InvalidDevices {
                field: "accelerators + cpus",
                value: 0.0,
                expected: "at least one device",
            });
        }
        let mut index: BTreeMap<NodeId, usize> = BTreeMap::new();
        for (i, n) in g.nodes.iter().enumerate() {
            if index.insert(n.id, i).is_some() {
                return Err(PlaceError::DuplicateNode { id: n.id });
            }
            for (field, value) in [
                ("acc_time", n.acc_time),
                ("cpu_time", n.cpu_time),
                ("memory", n.memory),
                ("output_cost", n.output_cost),
            ] {
                if !(0.0..=crate::MAX_VALUE).contains(&value) {
                    return Err(PlaceError::NegativeValue {
                        node: n.id,
                        field,
                        value,
                    });
                }
            }
        }
        let n = g.nodes.len();
        let mut succ = vec![Vec::new(); n];
        let mut pred = vec![Vec::new(); n];
        for e in &g.edges {
            let lookup = |id: NodeId| {
                index.get(&id).copied().ok_or(PlaceError::MissingNode {
                    from: e.from,
                    to: e.to,
                    missing: id,
                })
            };
            let (u, v) = (lookup(e.from)?, lookup(e.to)?);
            succ[u].push(v);
            pred[v].push(u);
        }
        if let Some(cycle) = find_cycle(&succ) {
            return Err(PlaceError::Cycle {
                nodes: cycle.into_iter().map(|i| g.nodes[i].id).collect(),
            });
        }
        let mut class_index: BTreeMap<i64, usize> = BTreeMap::new();
        let mut class = vec![usize::MAX; n];
        let mut classes = 0usize;
        for (i, nd) in g.nodes.iter().enumerate() {
            class[i] = match nd.class {
                Some(c) => *class_index.entry(c).or_insert_with(|| {
                    classes += 1;
                    classes - 1
                }),
                None => {
                    classes += 1;
                    classes - 1
                }
            };
        }
        let inst = Instance {
            ids: g.nodes.iter().map(|n| n.id).collect(),
            p_acc: g.nodes.iter().map(|n| n.acc_time).collect(),
            p_cpu: g.nodes.iter().map(|n| n.cpu_time).collect(),
            size: g.nodes.iter().map(|n| n.memory).collect(),
            supported: g.nodes.iter().map(|n| n.acc_supported).collect(),
            backward: g.nodes.iter().map(|n| n.backward).collect(),
            class,
            classes,
            out_cost: g.nodes.iter().map(|n| n.output_cost).collect(),
            succ,
            pred,
            devices: d,
            overlap: false,
        };
        inst.check_devices_can_take()?;
        Ok(inst)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Members of each class, in node order.
    pub fn class_members(&self) -> Vec<Vec<usize>> {
        let mut m = vec![Vec::new(); self.classes];
        for (i, &c) in self.class.iter().enumerate() {
            m[c].push(i);
        }
        m
    }

    /// Node index of each node id (the inverse of `ids`), to read placements and schedules
    /// that name nodes by id.
    ///
    /// # Complexity
    /// O(n log n).
    pub fn index_by_id(&self) -> BTreeMap<NodeId, usize> {
        self.ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i))
            .collect()
    }

    /// Sum of all node sizes.
    pub fn total_size(&self) -> f64 {
        self.size.iter().sum()
    }

    /// The instance with at most as many accelerators and as many CPUs as there are
    /// colocation classes: a placement never uses more devices of a kind than that, and
    /// devices of a kind are identical, so optima do not change. Solvers size their tables
    /// with these counts. Borrowed when nothing is capped.
    ///
    /// # Complexity
    /// O(1), or O(n + m) for the copy when a count is capped.
    pub fn usable(&self) -> std::borrow::Cow<'_, Instance> {
        let cap = self.classes.max(1);
        if self.devices.accelerators <= cap && self.devices.cpus <= cap {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut capped = self.clone();
        capped.devices.accelerators = capped.devices.accelerators.min(cap);
        capped.devices.cpus = capped.devices.cpus.min(cap);
        std::borrow::Cow::Owned(capped)
    }

    fn check_devices_can_take(&self) -> Result<(), PlaceError> {
        if self.devices.cpus > 0 {
            return Ok(());
        }
        if self.devices.accelerators == 0 {
            // Already rejected (no devices at all), kept for clarity.
            return Ok(());
        }
        for members in self.class_members() {
            if let Some(&u) = members.iter().find(|&&u| !self.supported[u]) {
                let reason = if members.len() == 1 {
                    "it is not supported on accelerators and there are no CPUs".to_string()
                } else {
                    format!(
                        "its colocation class ({} nodes) contains node {}, which is not supported on accelerators, and there are no CPUs",
                        members.len(),
                        self.ids[u]
                    )
                };
                return Err(PlaceError::NoDevice {
                    node: self.ids[u],
                    reason,
                });
            }
            let size: f64 = members.iter().map(|&u| self.size[u]).sum();
            if size > self.devices.accelerator_memory {
                let u = members[0];
                return Err(PlaceError::NoDevice {
                    node: self.ids[u],
                    reason: format!(
                        "its colocation class needs memory {size} > accelerator memory {} and there are no CPUs",
                        self.devices.accelerator_memory
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Finds a directed cycle, returned as node indices in order; `None` for a DAG.
fn find_cycle(succ: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = succ.len();
    // 0 = white, 1 = on stack, 2 = done
    let mut color = vec![0u8; n];
    let mut parent = vec![usize::MAX; n];
    for s in 0..n {
        if color[s] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(s, 0)];
        color[s] = 1;
        while let Some(&mut (u, ref mut pos)) = stack.last_mut() {
            if *pos < succ[u].len() {
                let v = succ[u][*pos];
                *pos += 1;
                match color[v] {
                    0 => {
                        color[v] = 1;
                        parent[v] = u;
                        stack.push((v, 0));
                    }
                    1 => {
                        let mut cyc = vec![u];
                        let mut w = u;
                        while w != v {
                            w = parent[w];
                            cyc.push(w);
                        }
                        cyc.reverse();
                        return Some(cyc);
                    }
                    _ => {}
                }
            } else {
                color[u] = 2;
                stack.pop();
            }
        }
    }
    None
}
