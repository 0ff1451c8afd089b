//! A minimal reader for the plain comma-separated files of the published profiles and
//! measured iterations, keeping line numbers for error messages: a whole field may be quoted
//! (`"1"`, as spreadsheets write it), but no value holds a comma or a quote.

use super::error::{ProfileError, Row};

/// Shortest time a profile or measurement may give, seconds (1 ns: no kernel is shorter).
pub const MIN_TIME_S: f64 = 1e-9;
/// Longest time a profile or measurement may give, seconds (one day).
pub const MAX_TIME_S: f64 = 86_400.0;

/// A value as written, cut to its first 120 characters (`…` after) for an error message.
fn shown(v: &str) -> String {
    parallax_ir::shown(v, 120)
}

/// One parsed CSV file: its header and its data lines with their 1-based line numbers.
#[derive(Debug)]
pub(crate) struct Csv<'a> {
    pub file: &'a str,
    pub table: &'a str,
    pub header: Vec<&'a str>,
    pub rows: Vec<(usize, Vec<&'a str>)>,
}

/// The comma-separated fields of `l`, trimmed, each unquoted when the whole field is in
/// double quotes (`"1"`, `"measured_ms"`, as spreadsheets and R's `write.csv` write them). The
/// tables hold numbers, names and specs, never a comma or a quote inside a value: a quoted
/// field that holds one is an error naming it rather than a misread row.
fn fields_of<'a>(
    file: &str,
    table: &str,
    l: &'a str,
    row: Row,
) -> Result<Vec<&'a str>, ProfileError> {
    l.split(',')
        .map(str::trim)
        .map(|f| match f.strip_prefix('"') {
            None if !f.contains('"') => Ok(f),
            Some(rest) => match rest.strip_suffix('"') {
                Some(inner) if !inner.contains('"') => Ok(inner.trim()),
                _ => Err(f),
            },
            None => Err(f),
        })
        .collect::<Result<Vec<&str>, &str>>()
        .map_err(|_| ProfileError::BadValue {
            file: file.to_string(),
            table: table.to_string(),
            row,
            column: "(row)".to_string(),
            // the whole line: a quoted cell holding a comma is split across fields
            value: shown(l.trim()),
            expected: "fields without commas or quotes inside them (a whole field may be \
                       quoted: \"1\")"
                .to_string(),
        })
}

impl<'a> Csv<'a> {
    /// Splits `text` into a header and rows. Blank lines are skipped; a row with a different
    /// number of fields than the header is an error naming its line.
    pub fn parse(file: &'a str, table: &'a str, text: &'a str) -> Result<Self, ProfileError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        let header: Vec<&str> = loop {
            match lines.next() {
                Some((_, l)) if l.trim().is_empty() => continue,
                Some((_, l)) => break fields_of(file, table, l, Row::Header)?,
                None => {
                    return Err(ProfileError::Empty {
                        file: file.to_string(),
                        table: table.to_string(),
                    })
                }
            }
        };
        // A column named twice would be read from its first copy only.
        if let Some(dup) = header
            .iter()
            .enumerate()
            // empty names are trailing commas, as spreadsheets export them
            .find_map(|(i, c)| (!c.is_empty() && header[..i].contains(c)).then_some(*c))
        {
            return Err(ProfileError::BadValue {
                file: file.to_string(),
                table: table.to_string(),
                row: Row::Header,
                column: dup.to_string(),
                value: dup.to_string(),
                expected: "each column once".to_string(),
            });
        }
        let mut rows = Vec::new();
        for (line, l) in lines {
            if l.trim().is_empty() {
                continue;
            }
            let fields = fields_of(file, table, l, Row::Line(line))?;
            if fields.len() != header.len() {
                return Err(ProfileError::BadValue {
                    file: file.to_string(),
                    table: table.to_string(),
                    row: Row::Line(line),
                    column: "(row)".to_string(),
                    value: shown(l),
                    expected: format!("{} comma-separated fields as in the header", header.len()),
                });
            }
            rows.push((line, fields));
        }
        if rows.is_empty() {
            return Err(ProfileError::Empty {
                file: file.to_string(),
                table: table.to_string(),
            });
        }
        Ok(Csv {
            file,
            table,
            header,
            rows,
        })
    }

    /// Index of column `name`, or a [`ProfileError::MissingColumn`].
    pub fn col(&self, name: &str) -> Result<usize, ProfileError> {
        self.header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| ProfileError::MissingColumn {
                file: self.file.to_string(),
                table: self.table.to_string(),
                column: name.to_string(),
                present: self.header.join(", "),
            })
    }

    fn bad(&self, line: usize, col: usize, expected: &str) -> ProfileError {
        let value = self
            .rows
            .iter()
            .find(|(l, _)| *l == line)
            .and_then(|(_, f)| f.get(col))
            .copied()
            .unwrap_or("");
        ProfileError::BadValue {
            file: self.file.to_string(),
            table: self.table.to_string(),
            row: Row::Line(line),
            column: self.header.get(col).copied().unwrap_or("?").to_string(),
            value: shown(value),
            expected: expected.to_string(),
        }
    }

    /// Field `col` of the row at `line` as a finite number.
    pub fn f64(&self, line: usize, fields: &[&str], col: usize) -> Result<f64, ProfileError> {
        match fields[col].parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.bad(line, col, "a finite number")),
        }
    }

    /// Field `col` as a finite number ≥ 0 (sizes; zero allowed).
    pub fn size(&self, line: usize, fields: &[&str], col: usize) -> Result<f64, ProfileError> {
        let v = self.f64(line, fields, col)?;
        if v < 0.0 {
            return Err(self.bad(line, col, "a size >= 0"));
        }
        Ok(v)
    }

    /// Field `col` as a positive integer.
    pub fn pos_int(&self, line: usize, fields: &[&str], col: usize) -> Result<u64, ProfileError> {
        match fields[col].parse::<u64>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(self.bad(line, col, "a positive integer")),
        }
    }

    /// Field `col` as a time in the file's unit, checked positive, converted to seconds by
    /// shifting its decimal exponent by `exp10` (-3 for ms, -6 for µs) before parsing, so the
    /// result is the double nearest to the decimal value (and the JSON writer's shortest
    /// output re-reads exactly).
    pub fn time(
        &self,
        line: usize,
        fields: &[&str],
        col: usize,
        exp10: i32,
    ) -> Result<f64, ProfileError> {
        self.time_in(line, fields, col, exp10, 1.0)
    }

    /// [`Self::time`] converted by `exp10` to a unit of `unit_s` seconds (1.0: seconds,
    /// 1e-3: milliseconds), checked between 1 ns and one day in seconds.
    pub fn time_in(
        &self,
        line: usize,
        fields: &[&str],
        col: usize,
        exp10: i32,
        unit_s: f64,
    ) -> Result<f64, ProfileError> {
        let raw = fields[col];
        let plain = match raw.parse::<f64>() {
            Ok(v) => v,
            Err(_) => return Err(self.bad(line, col, "a time (a finite number > 0)")),
        };
        if !(plain.is_finite() && plain > 0.0) {
            return Err(ProfileError::NonPositiveTime {
                file: self.file.to_string(),
                table: self.table.to_string(),
                row: Row::Line(line),
                column: self.header[col].to_string(),
                value: raw.to_string(),
            });
        }
        let (mant, e) = match raw.find(['e', 'E']) {
            Some(i) => (&raw[..i], raw[i + 1..].parse::<i32>().unwrap_or(0)),
            None => (raw, 0),
        };
        let v = match format!("{mant}e{}", e + exp10).parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => v,
            _ => plain * 10f64.powi(exp10),
        };
        if !(MIN_TIME_S..=MAX_TIME_S).contains(&(v * unit_s)) {
            return Err(self.bad(line, col, "a time between 1 ns and one day"));
        }
        Ok(v)
    }

    /// Error for a field with an unexpected value.
    pub fn bad_value(&self, line: usize, col: usize, expected: &str) -> ProfileError {
        self.bad(line, col, expected)
    }
}
