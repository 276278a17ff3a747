//! Golden files: the fault records a scenario must give, kept as `tests/golden/<name>.jsonl`,
//! one record per line exactly as `faultd replay` prints it, so a change in what faultd
//! reports shows up as a reviewable diff of those files.
//!
//! `FAULTD_BLESS=1` makes [`check`] write what was produced instead of comparing (the test
//! then passes and says so): after a deliberate change in the records, run the tests with
//! it once and review the golden files' diff before committing them.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use serde_json::Value;

/// The environment variable that turns [`check`] from comparing into rewriting.
pub const BLESS: &str = "FAULTD_BLESS";

/// Found from this crate rather than the working directory, which differs per test crate.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

pub fn path(name: &str) -> PathBuf {
    dir().join(format!("{name}.jsonl"))
}

/// Whether this run rewrites the golden files rather than comparing with them.
pub fn blessing() -> bool {
    std::env::var_os(BLESS).is_some_and(|v| v == "1")
}

/// The records golden file `name` holds, one line each.
pub fn lines(name: &str) -> Vec<String> {
    let path = path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {}: {e} (run with {BLESS}=1 to write it)",
            path.display()
        )
    });
    text.lines().map(str::to_owned).collect()
}

/// The records golden file `name` holds, parsed.
pub fn records(name: &str) -> Vec<Value> {
    lines(name).iter().map(|l| parse(l)).collect()
}

/// `got` (records as printed, one per line) against golden file `name`, or, under
/// `FAULTD_BLESS=1`, `got` becomes golden file `name`.
pub fn check(name: &str, got: &[String], what: &str) {
    if blessing() {
        bless(name, got);
        return;
    }
    compare(name, got, what);
}

/// [`check`] that never blesses: for a second producer (the kernel engine) that must give
/// what the first one blessed.
pub fn compare(name: &str, got: &[String], what: &str) {
    let want = lines(name);
    let source = format!("golden file {}", path(name).display());
    assert_same(&want, got, &format!("{what}: {source}"));
}

fn bless(name: &str, got: &[String]) {
    let path = path(name);
    let mut text = got.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
        eprintln!("{BLESS}: {} unchanged", path.display());
        return;
    }
    std::fs::create_dir_all(dir()).unwrap();
    // Renamed into place: a test reading the file while another blesses it sees either the
    // old records or the new ones, never half of them.
    let tmp = path.with_extension(format!("jsonl.{}", std::process::id()));
    std::fs::write(&tmp, &text).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    eprintln!(
        "{BLESS}: blessed {} ({} records)",
        path.display(),
        got.len()
    );
}

/// Panics unless `got` is `want`, line for line, with a diff of the records: which differ
/// (field by field), which are missing, which are unexpected.
pub fn assert_same(want: &[String], got: &[String], what: &str) {
    if want == got {
        return;
    }
    panic!(
        "{what}: the records differ ({} expected, {} produced)\n{}\
         if the produced records are right, run with {BLESS}=1 and review the golden diff",
        want.len(),
        got.len(),
        diff(want, got)
    );
}

enum Op<'a> {
    Same,
    Missing(&'a str),
    Unexpected(&'a str),
}

/// The edit script from `want` to `got` by longest common subsequence (a few dozen
/// records: the quadratic table is nothing).
fn edits<'a>(want: &'a [String], got: &'a [String]) -> Vec<Op<'a>> {
    let (n, m) = (want.len(), got.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if want[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && want[i] == got[j] {
            ops.push(Op::Same);
            (i, j) = (i + 1, j + 1);
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Missing(&want[i]));
            i += 1;
        } else {
            ops.push(Op::Unexpected(&got[j]));
            j += 1;
        }
    }
    ops
}

/// The diff as text. Between two unchanged records, a missing and an unexpected record of
/// the same fault and client are paired and shown as field differences: a changed record
/// reads as one change, not as two unrelated lines.
fn diff(want: &[String], got: &[String]) -> String {
    let mut out = String::new();
    let (mut missing, mut unexpected) = (Vec::new(), Vec::new());
    let mut line = 0;
    for op in edits(want, got) {
        match op {
            Op::Same => {
                hunk(&mut out, &mut missing, &mut unexpected);
                line += 1;
            }
            Op::Missing(w) => {
                line += 1;
                missing.push((line, w));
            }
            Op::Unexpected(g) => unexpected.push(g),
        }
    }
    hunk(&mut out, &mut missing, &mut unexpected);
    out
}

/// One run of changes between unchanged records; `missing` holds golden line numbers.
fn hunk(out: &mut String, missing: &mut Vec<(usize, &str)>, unexpected: &mut Vec<&str>) {
    let identity = |r: &Value| (r["fault"].clone(), r["client"].clone());
    let mut rest: Vec<(&str, Value)> = unexpected.drain(..).map(|g| (g, parse(g))).collect();
    for (line, w) in missing.drain(..) {
        let w = parse(w);
        match rest.iter().position(|(_, g)| identity(g) == identity(&w)) {
            Some(k) => {
                let (_, g) = rest.remove(k);
                let _ = writeln!(out, "~ record {line} differs:");
                field_diff(out, "", &w, &g);
            }
            None => {
                let _ = writeln!(out, "- missing record {line}: {w}");
            }
        }
    }
    for (g, _) in rest {
        let _ = writeln!(out, "+ unexpected record: {g}");
    }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON record: {line}: {e}"))
}

/// The differing leaves of two records, by path (`evidence[1].what`).
fn field_diff(out: &mut String, at: &str, want: &Value, got: &Value) {
    let label = if at.is_empty() { "the record" } else { at };
    let child = |k: &str| {
        if at.is_empty() {
            k.to_owned()
        } else {
            format!("{at}.{k}")
        }
    };
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            // The same keys in another order: the values may all be equal, the text is not.
            let same_keys = w.len() == g.len() && w.keys().all(|k| g.contains_key(k));
            if same_keys && !w.keys().eq(g.keys()) {
                let (wk, gk): (Vec<_>, Vec<_>) = (w.keys().collect(), g.keys().collect());
                let _ = writeln!(out, "    {label}: key order {wk:?} became {gk:?}");
            }
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => field_diff(out, &child(k), wv, gv),
                    None => {
                        let _ = writeln!(out, "    {}: {wv} is missing", child(k));
                    }
                }
            }
            for (k, gv) in g.iter().filter(|(k, _)| !w.contains_key(*k)) {
                let _ = writeln!(out, "    {}: unexpected {gv}", child(k));
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                field_diff(out, &format!("{at}[{i}]"), wv, gv);
            }
        }
        _ if want != got => {
            let _ = writeln!(out, "    {label}: expected {want}, produced {got}");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_diff_names_each_change() {
        let want = owned(&[
            r#"{"fault":"a","client":"1"}"#,
            r#"{"fault":"b","client":"2","evidence":[{"what":"x"}],"n":1}"#,
            r#"{"fault":"c"}"#,
        ]);
        let got = owned(&[
            r#"{"fault":"b","client":"2","evidence":[{"what":"y"}],"m":2}"#,
            r#"{"fault":"c"}"#,
            r#"{"fault":"d"}"#,
        ]);
        assert_eq!(
            diff(&want, &got),
            "- missing record 1: {\"fault\":\"a\",\"client\":\"1\"}\n\
             ~ record 2 differs:\n    \
             evidence[0].what: expected \"x\", produced \"y\"\n    \
             n: 1 is missing\n    \
             m: unexpected 2\n\
             + unexpected record: {\"fault\":\"d\"}\n",
        );
    }

    #[test]
    fn a_new_key_order_is_a_difference() {
        let want = owned(&[r#"{"fault":"a","n":1}"#]);
        let got = owned(&[r#"{"n":1,"fault":"a"}"#]);
        assert_eq!(
            diff(&want, &got),
            "~ record 1 differs:\n    the record: key order [\"fault\", \"n\"] became [\"n\", \"fault\"]\n"
        );
    }

    /// Every golden file is a scenario's and every scenario has one, so a renamed scenario
    /// cannot leave a stale file behind that nothing checks.
    #[test]
    fn the_golden_files_are_the_scenarios() {
        let mut files: Vec<String> = std::fs::read_dir(dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let mut names: Vec<String> = crate::scenario::all()
            .iter()
            .map(|s| format!("{}.jsonl", s.name))
            .collect();
        names.sort();
        assert_eq!(files, names);
    }
}
