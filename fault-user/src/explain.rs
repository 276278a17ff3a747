//! `faultd explain FAULT`: what a fault is, how faultd recognises it, and what to do about
//! it, taken from the project's own documents at build time, so the command and the
//! documents cannot say different things.

use crate::detect::{FaultKind, REGISTRY};

const FAULTS: &str = include_str!("../../docs/faults.md");

/// The part of `doc` from the heading line `starts` (matched by prefix) to the next
/// heading of the same or a higher level.
fn section<'a>(doc: &'a str, starts: &str) -> Option<&'a str> {
    let begin = doc.find(&format!("\n{starts}"))? + 1;
    let level = starts.chars().take_while(|&c| c == '#').count();
    let body = &doc[begin..];
    let end = body
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let hashes = body[i..].chars().take_while(|&c| c == '#').count();
            (1..=level).contains(&hashes) && body[i..].chars().nth(hashes) == Some(' ')
        })
        .unwrap_or(body.len());
    Some(body[..end].trim_end())
}

/// The fault's description, signature and record (docs/faults.md), then what to do: the
/// remedy every record carries.
pub fn explain(kind: FaultKind) -> String {
    let what = section(FAULTS, &format!("## `{}`", kind.id())).unwrap_or("");
    let todo = kind.remedy().unwrap_or("");
    format!("{what}\n\n**What to do.** {todo}\n")
}

/// One line per fault: its id, KB article and what users see, for `faultd explain`
/// without a fault.
pub fn list() -> String {
    REGISTRY
        .iter()
        .map(|e| e.kind)
        .map(|k| format!("{:<28} {}  {}\n", k.id(), k.kb(), first_sentence(k)))
        .collect()
}

fn first_sentence(kind: FaultKind) -> String {
    let Some(s) = section(FAULTS, &format!("## `{}`", kind.id())) else {
        return String::new();
    };
    let text = s
        .split("**What users see.**")
        .nth(1)
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.split_inclusive(". ")
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNBOOKS: &str = include_str!("../../docs/runbooks.md");

    /// The runbook's alert for a fault: `FaultdWinsBackupSwap` for `wins_backup_swap`.
    fn alert_name(kind: FaultKind) -> String {
        let camel: String = kind
            .id()
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        format!("Faultd{camel}")
    }

    /// docs/runbooks.md's "What to do" of the fault's alert, its lines joined.
    fn runbook_remedy(kind: FaultKind) -> Option<String> {
        let s = section(RUNBOOKS, &format!("### {}", alert_name(kind)))?;
        let todo = &s[s.find("**What to do.**")? + "**What to do.**".len()..];
        let para = todo.split("\n\n").next()?;
        Some(para.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn every_fault_has_its_description_and_its_remedy() {
        for kind in REGISTRY.iter().map(|e| e.kind) {
            let text = explain(kind);
            assert!(
                text.starts_with(&format!("## `{}` ({})", kind.id(), kind.kb())),
                "{text}"
            );
            for part in [
                "**What users see.**",
                "**Not reported.**",
                "**What to do.**",
            ] {
                assert!(text.contains(part), "{kind}: no {part} in\n{text}");
            }
            // One fault's text only.
            for other in REGISTRY.iter().map(|e| e.kind).filter(|&o| o != kind) {
                assert!(
                    !text.contains(&format!("## `{}`", other.id())),
                    "{kind}: {other}"
                );
            }
            assert!(!first_sentence(kind).is_empty(), "{kind}");
            // The runbook says what the records say.
            assert_eq!(runbook_remedy(kind).as_deref(), kind.remedy(), "{kind}");
        }
        assert_eq!(list().lines().count(), REGISTRY.len());
    }
}
