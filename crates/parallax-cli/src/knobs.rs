//! Scheduler knobs as table columns: when a search ranks one plan with several scheduler
//! settings, the settings that differ between rows get their own columns, so no two rows look
//! alike.

use parallax::sim::SchedulerConfig;

type Knob = (&'static str, fn(&SchedulerConfig) -> String);

const KNOBS: [Knob; 3] = [
    ("scheduler", |s| s.kind.name().to_string()),
    ("max-num-seqs", |s| s.max_num_seqs.to_string()),
    ("token budget", |s| s.token_budget().to_string()),
];

/// The knobs whose values differ across `configs`: their headers, and each config's values.
pub fn columns(configs: &[SchedulerConfig]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let varying: Vec<&Knob> = KNOBS
        .iter()
        .filter(|(_, f)| configs.iter().any(|c| f(c) != f(&configs[0])))
        .collect();
    let headers = varying.iter().map(|(h, _)| *h).collect();
    let cells = configs
        .iter()
        .map(|c| varying.iter().map(|(_, f)| f(c)).collect())
        .collect();
    (headers, cells)
}

/// Insert `extra` columns after column `at` of `header` and of every row.
pub fn insert(
    header: &mut Vec<String>,
    rows: &mut [Vec<String>],
    at: usize,
    extra: (Vec<&'static str>, Vec<Vec<String>>),
) {
    let (h, cells) = extra;
    for (i, name) in h.iter().enumerate() {
        header.insert(at + i, (*name).to_string());
    }
    for (row, c) in rows.iter_mut().zip(cells) {
        for (i, v) in c.into_iter().enumerate() {
            row.insert(at + i, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax::sim::SchedulerKind;

    #[test]
    fn only_differing_knobs_become_columns() {
        let a = SchedulerConfig::new(SchedulerKind::Chunked);
        let mut b = a;
        b.max_num_seqs = 64;
        let (h, cells) = columns(&[a, b]);
        assert_eq!(h, ["max-num-seqs"]);
        assert_eq!(cells, [vec!["256".to_string()], vec!["64".to_string()]]);
        let mut c = a;
        c.chunk_size = Some(512);
        let (h, cells) = columns(&[a, c]);
        assert_eq!(h, ["token budget"]);
        assert_eq!(cells[1], ["512"]);
        assert!(columns(&[a, a]).0.is_empty());
        let mut header = vec!["#".to_string(), "plan".into(), "x".into()];
        let mut rows = vec![vec!["1".into(), "tp=8".into(), "3".into()]];
        insert(
            &mut header,
            &mut rows,
            2,
            (vec!["k"], vec![vec!["v".into()]]),
        );
        assert_eq!(header, ["#", "plan", "k", "x"]);
        assert_eq!(rows[0], ["1", "tp=8", "v", "3"]);
    }
}
