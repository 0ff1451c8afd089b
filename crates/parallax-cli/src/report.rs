//! `search --report FILE.html`: the HTML report of a search (built by `parallax-report`).

use crate::output::{write_file, CliError};
use parallax::plan::MemoryOptions;
use parallax::{Cluster, CostModel, Model, SearchReport, Workload};
use parallax_report::{Report, ReportInput, ReportOptions};
use std::path::Path;
use std::sync::Arc;

/// Most plans the report shows (its plots have eight distinguishable colours).
pub const MAX_PLANS: usize = 8;

/// Build the report of `report` (every ranked plan, before `--top` cuts the list) showing
/// the `min(top, MAX_PLANS)` best plans, and write it to `path`.
#[allow(clippy::too_many_arguments)]
pub fn write(
    path: &Path,
    report: &SearchReport,
    model: &Model,
    cluster: &Cluster,
    workload: &Workload,
    cost: &Arc<dyn CostModel>,
    memory: MemoryOptions,
    engine: &parallax::EngineModel,
    top: usize,
    launch: Option<String>,
) -> Result<(), CliError> {
    let input = ReportInput {
        memory,
        engine: Some(engine.clone()),
        ..ReportInput::new(report, model, cluster, workload, cost.clone())
    };
    // `--emit ENGINE` fills the page's launch-command section.
    let mut options = ReportOptions::default().top(top.clamp(1, MAX_PLANS));
    if let Some(l) = launch {
        options = options.launch_command(l);
    }
    let page = Report::build(&input, &options)
        .map_err(|e| CliError::failure(e.to_string()))?
        .to_html();
    write_file(path, &page)
}
