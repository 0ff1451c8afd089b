//! Human-expert splits, as published with the paper (`human-experts/*_expert.json` in the
//! authors' repository): the node ids on each accelerator (`fpgas`) and CPU (`cpus`), with
//! placeholder loads (`-1`). They were made for the throughput instances (6 accelerators and
//! their memory); [`ExpertSplit::evaluate`] scores one on any instance with the same node
//! ids, for the max-load objective and, as one subgraph per accelerator, for latency.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::PlaceError;
use crate::eval::{evaluate, violations, Placement, Violation};
use crate::latency::{check_plan, LatencyPlan};
use crate::model::{Instance, NodeId};

// Unknown fields are errors: a misspelled `nodes` or `fpgas` would silently empty a device.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    nodes: Vec<NodeId>,
    /// The paper's placeholder load (`-1`); ignored.
    #[serde(default)]
    #[allow(dead_code)]
    load: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSplit {
    #[serde(default)]
    cpus: Vec<RawDevice>,
    fpgas: Vec<RawDevice>,
    /// The paper's placeholder (`-1`); ignored.
    #[serde(default)]
    #[allow(dead_code)]
    max_load: Option<f64>,
}

/// A human-expert split: node ids per accelerator and per CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertSplit {
    /// Where it was read from (for messages).
    pub file: PathBuf,
    /// Node ids on each accelerator, in file order.
    pub accelerators: Vec<Vec<NodeId>>,
    /// Node ids on each CPU, in file order (empty CPUs kept).
    pub cpus: Vec<Vec<NodeId>>,
}

/// An expert split scored on an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertScore {
    /// The split evaluated for the max-load objective (loads from scratch).
    pub placement: Placement,
    /// Whether it keeps every constraint (memory, support, colocation).
    pub feasible: bool,
    /// Accelerators over their memory: (index, memory used).
    pub over_memory: Vec<(usize, f64)>,
    /// Latency with each accelerator's nodes as one subgraph (`None` when that is not a
    /// valid latency schedule: memory, a cycle between subgraphs, ...).
    pub latency: Option<f64>,
    /// Why `latency` is `None`, in words ([`crate::latency::check_plan`]'s reason).
    pub latency_error: Option<String>,
}

impl ExpertSplit {
    /// Parses an expert file (`{"cpus": [{"nodes": [...]}], "fpgas": [{"nodes": [...]}]}`;
    /// the paper's placeholders `load` and `maxLoad` are ignored, any other field is an
    /// error).
    ///
    /// # Errors
    /// [`PlaceError::Json`] naming `origin`.
    pub fn from_json(text: &str, origin: &Path) -> Result<ExpertSplit, PlaceError> {
        let raw: RawSplit = serde_json::from_str(text)
            .map_err(|source| crate::diagnose::json_syntax_error(text, origin, source))?;
        Ok(ExpertSplit {
            file: origin.to_path_buf(),
            accelerators: raw.fpgas.into_iter().map(|d| d.nodes).collect(),
            cpus: raw.cpus.into_iter().map(|d| d.nodes).collect(),
        })
    }

    /// Device slot of every node of `inst` (accelerators `0..k`, CPUs `k..k+l`).
    ///
    /// # Errors
    /// [`PlaceError::ExpertMismatch`] when the split uses more devices than the instance
    /// has (non-empty ones count), names an unknown node, names a node twice, or leaves one
    /// out.
    pub fn slots(&self, inst: &Instance) -> Result<Vec<usize>, PlaceError> {
        let mismatch = |reason: String| PlaceError::ExpertMismatch {
            file: self.file.clone(),
            reason,
        };
        let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
        let used = |d: &[Vec<NodeId>]| d.iter().filter(|x| !x.is_empty()).count();
        if used(&self.accelerators) > k {
            return Err(mismatch(format!(
                "it uses {} accelerators, the instance has {k}",
                used(&self.accelerators)
            )));
        }
        if used(&self.cpus) > l {
            return Err(mismatch(format!(
                "it uses {} CPUs, the instance has {l}",
                used(&self.cpus)
            )));
        }
        let index = inst.index_by_id();
        let mut slot = vec![usize::MAX; inst.len()];
        let devices = self
            .accelerators
            .iter()
            .filter(|d| !d.is_empty())
            .enumerate()
            .chain(
                self.cpus
                    .iter()
                    .filter(|d| !d.is_empty())
                    .enumerate()
                    .map(|(c, d)| (k + c, d)),
            );
        for (s, ids) in devices {
            for id in ids {
                let Some(&u) = index.get(id) else {
                    return Err(mismatch(format!("node {id} is not in the instance")));
                };
                if slot[u] != usize::MAX {
                    return Err(mismatch(format!("node {id} is placed twice")));
                }
                slot[u] = s;
            }
        }
        if let Some(u) = slot.iter().position(|&s| s == usize::MAX) {
            return Err(mismatch(format!("node {} is not placed", inst.ids[u])));
        }
        Ok(slot)
    }

    /// Completes a split for an instance that has more nodes than it names — typically a
    /// training graph scored with the expert split of its inference graph (as the authors'
    /// code does): every node the split leaves out joins the device of the nodes of its
    /// colocation class that the split places (a backward node shares a class with its
    /// forward node). Returns the completed split and the number of nodes added; a split
    /// that already names every node comes back unchanged.
    ///
    /// # Errors
    /// [`PlaceError::ExpertMismatch`] when a left-out node's class has no placed node, or
    /// has placed nodes on different devices.
    ///
    /// # Complexity
    /// O((n + s) log n) for s listed ids.
    pub fn derive_for(&self, inst: &Instance) -> Result<(ExpertSplit, usize), PlaceError> {
        let mismatch = |reason: String| PlaceError::ExpertMismatch {
            file: self.file.clone(),
            reason,
        };
        // device of each listed id: (is_cpu, index in file order)
        let mut device: BTreeMap<NodeId, (bool, usize)> = BTreeMap::new();
        for (i, d) in self.accelerators.iter().enumerate() {
            for &id in d {
                device.insert(id, (false, i));
            }
        }
        for (i, d) in self.cpus.iter().enumerate() {
            for &id in d {
                device.insert(id, (true, i));
            }
        }
        let mut class_device: BTreeMap<usize, (bool, usize)> = BTreeMap::new();
        for u in 0..inst.len() {
            if let Some(&dev) = device.get(&inst.ids[u]) {
                let c = inst.class[u];
                match class_device.get(&c) {
                    Some(&other) if other != dev => {
                        return Err(mismatch(format!(
                            "node {} is on a different device than another node of its colocation class",
                            inst.ids[u]
                        )))
                    }
                    _ => {
                        class_device.insert(c, dev);
                    }
                }
            }
        }
        let mut out = self.clone();
        let mut added = 0;
        for u in 0..inst.len() {
            if device.contains_key(&inst.ids[u]) {
                continue;
            }
            let Some(&(cpu, i)) = class_device.get(&inst.class[u]) else {
                return Err(mismatch(format!(
                    "node {} is not placed, and no node of its colocation class is",
                    inst.ids[u]
                )));
            };
            let list = if cpu {
                &mut out.cpus[i]
            } else {
                &mut out.accelerators[i]
            };
            list.push(inst.ids[u]);
            added += 1;
        }
        Ok((out, added))
    }

    /// Scores the split on an instance with the same node ids.
    ///
    /// # Arguments
    /// * `inst` — the instance.
    /// * `q` — subgraphs per accelerator for the latency score (each accelerator's nodes
    ///   form one subgraph, so any `q ≥ 1` gives the same schedule).
    ///
    /// # Errors
    /// As [`ExpertSplit::slots`].
    ///
    /// # Complexity
    /// O((n + m) log n).
    pub fn evaluate(&self, inst: &Instance, q: usize) -> Result<ExpertScore, PlaceError> {
        let slot = self.slots(inst)?;
        let placement = evaluate(inst, &slot);
        let bad = violations(inst, &slot);
        let over_memory = bad
            .iter()
            .filter_map(|v| match v {
                Violation::Memory { accelerator, used } => Some((*accelerator, *used)),
                _ => None,
            })
            .collect();
        let k = inst.devices.accelerators;
        let plan: LatencyPlan = slot
            .iter()
            .map(|&s| if s < k { Some((s, 0)) } else { None })
            .collect();
        let (latency, latency_error) = match check_plan(inst, &plan, q.max(1)) {
            Ok(s) => (Some(s.latency), None),
            Err(why) => (None, Some(why)),
        };
        Ok(ExpertScore {
            placement,
            feasible: bad.is_empty(),
            over_memory,
            latency,
            latency_error,
        })
    }
}

/// Reads an expert split from a file.
///
/// # Errors
/// [`PlaceError::Io`] or [`PlaceError::Json`] naming the file.
pub fn load_expert(path: &Path) -> Result<ExpertSplit, PlaceError> {
    let text = crate::model::read_text(path)?;
    ExpertSplit::from_json(&text, path)
}
