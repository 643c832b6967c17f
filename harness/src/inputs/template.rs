//! The record templates in `templates/`, read back for the tests.
//!
//! Why: a template is only useful if it creates every field its binary reads,
//! and the CSV (Keeper's vault import) and the Commander JSON import must
//! describe the same records. The tests read both with this module and compare
//! them with each other and with the binaries' `--help`.
//!
//! The CSV layout is Keeper's: `Folder, Title, Login, Password, Website
//! Address, Notes, Shared Folder`, then custom fields as name/value pairs. The
//! JSON is Commander's import format: `{"records": [{"title", "$type",
//! "login", "password", "login_url", "notes", "custom_fields", "folders"}]}`,
//! where a custom field's key is its label, or `$type:label` for a typed one.

use std::path::PathBuf;

use serde_json::Value;

/// One record as a template describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    pub title: String,
    /// The record type; the CSV has none (the vault import makes Login records).
    pub record_type: Option<String>,
    pub login: String,
    pub password: String,
    pub url: String,
    pub shared_folder: String,
    /// Custom fields in file order: label, value, and the field type when the
    /// template gives one (`$secret:label` → `secret`).
    pub fields: Vec<(String, String, Option<String>)>,
}

impl TemplateRecord {
    pub fn field(&self, label: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(l, _, _)| l == label)
            .map(|(_, v, _)| v.as_str())
    }

    pub fn labels(&self) -> Vec<&str> {
        self.fields.iter().map(|(l, _, _)| l.as_str()).collect()
    }
}

/// `templates/` at the root of the workspace.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("templates")
}

/// The records of `templates/<use_case>.csv`.
pub fn csv(use_case: &str) -> Result<Vec<TemplateRecord>, String> {
    let path = dir().join(format!("{use_case}.csv"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_csv(&text)?
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let at = |n: usize| row.get(n).cloned().unwrap_or_default();
            if row.len() < 7 || (row.len() - 7) % 2 != 0 {
                return Err(format!(
                    "{} row {}: {} columns; expected the 7 fixed ones and name/value pairs",
                    path.display(),
                    i + 1,
                    row.len()
                ));
            }
            Ok(TemplateRecord {
                title: at(1),
                record_type: None,
                login: at(2),
                password: at(3),
                url: at(4),
                shared_folder: at(6),
                fields: row[7..]
                    .chunks(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone(), None))
                    .collect(),
            })
        })
        .collect()
}

/// The records of `templates/<use_case>.json`.
pub fn json(use_case: &str) -> Result<Vec<TemplateRecord>, String> {
    let path = dir().join(format!("{use_case}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let records = doc
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: no \"records\" array", path.display()))?;
    records
        .iter()
        .map(|r| {
            let text = |key: &str| {
                r.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let fields = r
                .get("custom_fields")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .map(|(key, value)| {
                            let (kind, label) = match key.strip_prefix('$') {
                                Some(typed) => match typed.split_once(':') {
                                    Some((kind, label)) => {
                                        (Some(kind.to_owned()), label.to_owned())
                                    }
                                    None => (Some(typed.to_owned()), String::new()),
                                },
                                None => (None, key.clone()),
                            };
                            let value = match value {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (label, value, kind)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let shared_folder = r
                .get("folders")
                .and_then(Value::as_array)
                .and_then(|f| f.iter().find_map(|f| f.get("shared_folder")?.as_str()))
                .unwrap_or_default()
                .to_owned();
            Ok(TemplateRecord {
                title: text("title"),
                record_type: r.get("$type").and_then(Value::as_str).map(str::to_owned),
                login: text("login"),
                password: text("password"),
                url: text("login_url"),
                shared_folder,
                fields,
            })
        })
        .collect()
}

/// What is wrong with `templates/<use_case>.{csv,json}` against a binary:
/// every record in `spec` (by title) must be in both files with every field
/// listed (`url` and `password` are the standard fields, anything else a
/// custom field), and the binary's `--help` must still name every custom
/// field, so that a field renamed in the binary cannot leave the template
/// behind. Empty when all is well.
pub fn problems(use_case: &str, help: &str, spec: &[(&str, &[&str])]) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, records) in [("csv", csv(use_case)), ("json", json(use_case))] {
        let records = match records {
            Ok(records) => records,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        for (title, fields) in spec {
            let Some(record) = records.iter().find(|r| r.title == *title) else {
                problems.push(format!("{use_case}.{file} has no record titled {title:?}"));
                continue;
            };
            for field in *fields {
                let present = match *field {
                    "url" => !record.url.is_empty(),
                    "password" => !record.password.is_empty(),
                    "login" => !record.login.is_empty(),
                    custom => record.field(custom).is_some(),
                };
                if !present {
                    problems.push(format!("{use_case}.{file}: {title:?} lacks {field}"));
                }
            }
        }
    }
    for (_, fields) in spec {
        for field in *fields {
            if !["url", "password", "login"].contains(field) && !help.contains(field) {
                problems.push(format!(
                    "--help no longer names {field}: update templates/{use_case}.* to what the binary reads"
                ));
            }
        }
    }
    problems
}

/// A binary's `--help` text.
pub fn help(bin: impl AsRef<std::ffi::OsStr>) -> String {
    let out = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .expect("run the binary with --help");
    assert!(out.status.success(), "--help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// RFC 4180 CSV: quoted cells may hold commas, doubled quotes and line breaks.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, '"') => return Err(format!("a quote inside an unquoted cell: {cell:?}")),
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err("the file ends inside a quoted cell".to_owned());
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::parse_csv;

    #[test]
    fn csv_cells_may_hold_commas_quotes_and_line_breaks() {
        let rows =
            parse_csv("a,\"b,c\",\"say \"\"hi\"\"\"\r\n,\"two\nlines\",\r\n").expect("parses");
        assert_eq!(
            rows,
            vec![
                vec!["a".to_owned(), "b,c".to_owned(), "say \"hi\"".to_owned()],
                vec![String::new(), "two\nlines".to_owned(), String::new()],
            ]
        );
    }

    #[test]
    fn a_stray_or_unclosed_quote_is_an_error() {
        assert!(parse_csv("ab\"c\n").is_err());
        assert!(parse_csv("\"abc\n").is_err());
    }
}
