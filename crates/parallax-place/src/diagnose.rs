//! Clear errors for placement files that serde rejects: the node or edge, the field, the
//! value as written and what was expected, found by walking the JSON against the format's
//! schema (serde's own messages name only a line and a column, and for the paper's 0/1
//! flags not even the field).

use std::path::Path;

use serde_json::Value;

use crate::error::PlaceError;

/// What a field holds.
#[derive(Clone, Copy)]
enum Kind {
    /// A JSON number (an integer is one too).
    Num,
    /// An integer that fits an i64.
    Int,
    /// A non-negative integer that fits a usize.
    Count,
    /// true or false.
    Bool,
    /// true/false or 0/1 (the paper's flags).
    Flag,
    /// A string.
    Str,
    /// An array.
    List,
    /// An object.
    Object,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Num => "a number",
            Kind::Int => "an integer (from -9223372036854775808 to 9223372036854775807)",
            Kind::Count => "an integer >= 0",
            Kind::Bool => "true or false",
            Kind::Flag => "true/false or 0/1",
            Kind::Str => "a string",
            Kind::List => "an array",
            Kind::Object => "an object",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::Num => v.is_number(),
            Kind::Int => v.is_i64(),
            Kind::Count => v.as_u64().is_some_and(|c| usize::try_from(c).is_ok()),
            Kind::Bool => v.is_boolean(),
            Kind::Flag => v.is_boolean() || matches!(v.as_i64(), Some(0 | 1)),
            Kind::Str => v.is_string(),
            Kind::List => v.is_array(),
            Kind::Object => v.is_object(),
        }
    }
}

/// A field of an object: name, kind, whether it must be there, whether `null` is allowed.
type Field = (&'static str, Kind, bool, bool);

const PAPER_TOP: &[Field] = &[
    ("maxSizePerFPGA", Kind::Num, true, false),
    ("maxFPGAs", Kind::Int, true, false),
    ("maxCPUs", Kind::Int, true, false),
    ("nodes", Kind::List, true, false),
    ("edges", Kind::List, true, false),
];
const PAPER_NODE: &[Field] = &[
    ("id", Kind::Int, true, false),
    ("name", Kind::Str, false, true),
    ("cpuLatency", Kind::Num, true, false),
    ("fpgaLatency", Kind::Num, true, false),
    ("size", Kind::Num, false, false),
    ("supportedOnFpga", Kind::Flag, true, false),
    ("isBackwardNode", Kind::Flag, true, false),
    ("colorClass", Kind::Int, false, true),
    ("layerId", Kind::Int, false, true),
];
const PAPER_EDGE: &[Field] = &[
    ("sourceId", Kind::Int, true, false),
    ("destId", Kind::Int, true, false),
    ("cost", Kind::Num, true, false),
    ("size", Kind::Num, false, true),
];
const OURS_TOP: &[Field] = &[
    ("devices", Kind::Object, true, false),
    ("nodes", Kind::List, true, false),
    ("edges", Kind::List, true, false),
];
const OURS_DEVICES: &[Field] = &[
    ("accelerators", Kind::Count, true, false),
    ("accelerator_memory", Kind::Num, true, false),
    ("cpus", Kind::Count, true, false),
];
const OURS_NODE: &[Field] = &[
    ("id", Kind::Int, true, false),
    ("name", Kind::Str, false, true),
    ("acc_time", Kind::Num, true, false),
    ("cpu_time", Kind::Num, true, false),
    ("memory", Kind::Num, false, false),
    ("acc_supported", Kind::Bool, false, false),
    ("backward", Kind::Bool, false, false),
    ("class", Kind::Int, false, true),
    ("output_cost", Kind::Num, false, false),
];
const OURS_EDGE: &[Field] = &[
    ("from", Kind::Int, true, false),
    ("to", Kind::Int, true, false),
];

/// A value as written (compact JSON), at most 40 characters.
pub(crate) fn quote(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() <= 40 {
        text
    } else {
        let head: String = text.chars().take(37).collect();
        format!("{head}…")
    }
}

/// The first problem of an object against its fields: a field of the wrong type (or
/// `null` where that is not allowed), a missing field, or one the format does not have.
fn check(obj: &Value, fields: &[Field]) -> Option<String> {
    let Some(map) = obj.as_object() else {
        return Some(format!("is {}, expected an object", quote(obj)));
    };
    for &(name, kind, required, nullable) in fields {
        match map.get(name) {
            None if required => {
                return Some(format!(
                    "field `{name}` is missing, expected {}",
                    kind.expected()
                ))
            }
            None => {}
            Some(Value::Null) if nullable => {}
            Some(v) if !kind.accepts(v) => {
                let expected = if nullable {
                    format!("{} or null", kind.expected())
                } else {
                    kind.expected().to_string()
                };
                return Some(format!(
                    "field `{name}` is {}, expected {expected}",
                    quote(v)
                ));
            }
            Some(_) => {}
        }
    }
    let known: Vec<String> = fields.iter().map(|f| format!("`{}`", f.0)).collect();
    map.keys()
        .find(|k| !fields.iter().any(|f| f.0 == k.as_str()))
        .map(|k| {
            format!(
                "unknown field `{k}` (a misspelling would change the answer silently); the fields are {}",
                known.join(", ")
            )
        })
}

/// How a node or an edge is named: by its id(s) when they are readable, always with its
/// place in the file.
fn item_name(list: &str, i: usize, v: &Value, ids: (&str, Option<&str>)) -> String {
    let id = |k: &str| v.get(k).and_then(Value::as_i64);
    match ids {
        (a, Some(b)) => match (id(a), id(b)) {
            (Some(x), Some(y)) => format!("edge {x} -> {y} ({list}[{i}])"),
            _ => format!("{list}[{i}]"),
        },
        (a, None) => match id(a) {
            Some(x) => format!("node {x} ({list}[{i}])"),
            None => format!("{list}[{i}]"),
        },
    }
}

/// Where a placement file that serde rejected breaks its format, in words (`None` when the
/// walk finds nothing: serde's own message stands).
fn locate(root: &Value, paper: bool) -> Option<(String, String)> {
    let (top, node, edge, ids) = if paper {
        (PAPER_TOP, PAPER_NODE, PAPER_EDGE, ("sourceId", "destId"))
    } else {
        (OURS_TOP, OURS_NODE, OURS_EDGE, ("from", "to"))
    };
    if let Some(problem) = check(root, top) {
        return Some(("top level".into(), problem));
    }
    if !paper {
        if let Some(problem) = root.get("devices").and_then(|d| check(d, OURS_DEVICES)) {
            return Some(("`devices`".into(), problem));
        }
    }
    let list = |k: &str| {
        root.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for (i, v) in list("nodes").iter().enumerate() {
        if let Some(problem) = check(v, node) {
            return Some((item_name("nodes", i, v, ("id", None)), problem));
        }
    }
    for (i, v) in list("edges").iter().enumerate() {
        if let Some(problem) = check(v, edge) {
            return Some((item_name("edges", i, v, (ids.0, Some(ids.1))), problem));
        }
    }
    None
}

/// The error for a placement file (`paper`: the paper's format) that serde rejected with
/// `source`: [`PlaceError::InvalidField`] naming the node or edge, the field, the value as
/// written and what was expected when the JSON is well formed; otherwise
/// [`PlaceError::Json`] with serde's line and column, and a note when the text there is
/// `NaN` or `Infinity` (which JSON numbers cannot be) or a number beyond the f64 range.
pub(crate) fn json_error(
    text: &str,
    origin: &Path,
    source: serde_json::Error,
    paper: bool,
) -> PlaceError {
    if source.classify() == serde_json::error::Category::Data {
        if let Ok(root) = serde_json::from_str::<Value>(text) {
            if let Some((item, problem)) = locate(&root, paper) {
                return PlaceError::InvalidField {
                    file: origin.to_path_buf(),
                    item,
                    problem,
                };
            }
        }
    }
    json_syntax_error(text, origin, source)
}

/// [`PlaceError::Json`] with a note for the non-numbers JSON has no place for.
pub(crate) fn json_syntax_error(
    text: &str,
    origin: &Path,
    source: serde_json::Error,
) -> PlaceError {
    let note = if text.trim().is_empty() {
        "; the file is empty".to_string()
    } else if source.classify() == serde_json::error::Category::Syntax {
        let at = text
            .lines()
            .nth(source.line().saturating_sub(1))
            .map(|line| {
                let from = source.column().saturating_sub(1);
                line.char_indices()
                    .find(|&(i, _)| i >= from)
                    .map_or("", |(i, _)| &line[i..])
            })
            .unwrap_or("");
        let word = at.trim_start_matches(['-', '+']);
        if ["NaN", "nan", "Infinity", "inf"]
            .iter()
            .any(|w| word.starts_with(w))
        {
            "; JSON numbers cannot be NaN or Infinity (every time, size and cost must be a finite number from 0 to 1e300)".to_string()
        } else if source.to_string().starts_with("number out of range") {
            "; the number is beyond the range of a double (every time, size and cost must be a finite number from 0 to 1e300)".to_string()
        } else {
            String::new()
        }
    } else {
        String::new()
    };
    PlaceError::Json {
        file: origin.to_path_buf(),
        source,
        note,
    }
}
