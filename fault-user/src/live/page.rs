//! The page at `/` for a person with a browser: the headline counters and the recent fault
//! records with their evidence, plain HTML (no script), refreshed every 30 s. The counters
//! are read from the same exposition `/metrics` serves, so the page never shows a number
//! Prometheus would not.

use std::fmt::Write as _;

use serde_json::Value;

/// The samples shown, by metric name, in this order.
const HEADLINES: [(&str, &str); 8] = [
    ("faultd_faults_total", "fault records, by fault"),
    ("faultd_frames_total", "frames seen"),
    ("faultd_events_total", "events handed to the detectors"),
    (
        "faultd_events_dropped_total",
        "events dropped (event queue full)",
    ),
    ("faultd_frames_malformed_total", "malformed frames"),
    ("faultd_flows", "flows in the flow table"),
    ("faultd_flows_capacity", "flow table capacity (per CPU)"),
    ("faultd_xdp_attached", "XDP program attached, by interface"),
];

/// `&`, `<`, `>`, `"` and `'` as HTML entities: record fields hold names and summaries
/// taken from the wire.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn field<'a>(r: &'a Value, key: &str) -> &'a str {
    r.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The page: `exposition` is `/metrics`' text, `records` the recent records, oldest first,
/// `speakers` what `/api/flows?by=host` gives (null when the flow table cannot be read).
pub fn render(exposition: &str, records: &[Value], speakers: &Value) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"30\"><title>faultd</title><style>\
         body{font-family:sans-serif;margin:1.5em;max-width:70em}\
         table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;\
         border-bottom:1px solid #ddd}.fault{margin:1em 0;padding:.5em 1em;\
         border-left:4px solid #c60}.meta{color:#555;font-size:90%}\
         code{font-size:90%}</style></head><body>\n<h1>faultd</h1>\n",
    );
    h.push_str("<h2>Counters</h2>\n<table>\n");
    for (name, what) in HEADLINES {
        for line in exposition.lines().filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        }) {
            let (series, value) = line.rsplit_once(' ').unwrap_or((line, ""));
            let labels = series.strip_prefix(name).unwrap_or("");
            let _ = writeln!(
                h,
                "<tr><th>{}</th><td><code>{}</code></td><td>{}</td></tr>",
                escape(what),
                escape(labels),
                escape(value)
            );
        }
    }
    h.push_str("</table>\n");
    speakers_table(&mut h, speakers);
    let _ = writeln!(
        h,
        "<h2>Recent faults ({}, newest first)</h2>",
        records.len()
    );
    if records.is_empty() {
        h.push_str("<p>No fault records since faultd started.</p>\n");
    }
    for r in records.iter().rev() {
        let _ = write!(
            h,
            "<div class=\"fault\"><p class=\"meta\">{} &middot; <b>{}</b> ({}) &middot; \
             {} &rarr; {}</p>\n<p>{}</p>\n",
            escape(field(r, "ts")),
            escape(field(r, "fault")),
            escape(field(r, "kb")),
            escape(field(r, "client")),
            escape(field(r, "server")),
            escape(field(r, "summary")),
        );
        if let Some(remedy) = r.get("remedy").and_then(Value::as_str) {
            let _ = writeln!(h, "<p><b>What to do:</b> {}</p>", escape(remedy));
        }
        let evidence = r.get("evidence").and_then(Value::as_array);
        if let Some(evidence) = evidence.filter(|e| !e.is_empty()) {
            h.push_str("<details><summary>evidence</summary><ul>\n");
            for e in evidence {
                let _ = writeln!(
                    h,
                    "<li>{} {} &rarr; {}: {}</li>",
                    escape(field(e, "ts")),
                    escape(field(e, "from")),
                    escape(field(e, "to")),
                    escape(field(e, "what"))
                );
            }
            h.push_str("</ul></details>\n");
        }
        h.push_str("</div>\n");
    }
    h.push_str(
        "<p class=\"meta\"><a href=\"/metrics\">/metrics</a> &middot; \
         <a href=\"/api/faults\">/api/faults</a></p>\n</body></html>\n",
    );
    h
}

/// The hosts that speak the most legacy-protocol packets, and which protocols.
fn speakers_table(h: &mut String, speakers: &Value) {
    let Some(hosts) = speakers.get("hosts").and_then(Value::as_array) else {
        return;
    };
    h.push_str("<h2>Who still speaks NetBIOS, IPX, PPTP...</h2>\n");
    if hosts.is_empty() {
        h.push_str("<p>No legacy-protocol traffic seen.</p>\n");
        return;
    }
    h.push_str(
        "<table>\n<tr><th>host</th><th>packets</th><th>last seen</th><th>speaks</th></tr>\n",
    );
    for host in hosts {
        let speaks: Vec<&str> = host
            .get("speaks")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(field(host, "host")),
            host.get("packets").and_then(Value::as_u64).unwrap_or(0),
            escape(field(host, "last")),
            escape(&speaks.join(", "))
        );
    }
    h.push_str("</table>\n");
    if speakers.get("partial").and_then(Value::as_bool) == Some(true) {
        h.push_str(
            "<p class=\"meta\">Partial: the flow table was full and pushed flows out.</p>\n",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_the_counters_and_the_records_newest_first_escaped() {
        let exposition = "# HELP faultd_frames_total Frames.\n# TYPE faultd_frames_total counter\n\
                          faultd_frames_total 1234\n\
                          faultd_faults_total{fault=\"ras_port_leak\"} 2\n\
                          faultd_frames_totally_other 9\n";
        let old = json!({"ts": "2026-01-01T00:00:00Z", "fault": "ras_port_leak", "kb": "Q244717",
            "client": "10.0.0.2", "server": "10.0.0.1", "summary": "first",
            "evidence": [{"ts": "t", "from": "a", "to": "b", "what": "Call-Clear-Request"}]});
        let new = json!({"ts": "2026-01-01T00:01:00Z", "fault": "wins_backup_swap",
            "kb": "Q153073", "client": "10.0.0.3", "server": "10.0.0.4",
            "summary": "name <script>alert(1)</script> & more", "evidence": []});
        let speakers = json!({"partial": false, "evicted": 0, "hosts": [
            {"host": "10.0.0.9", "packets": 12, "last": "2026-01-01T00:02:00Z",
             "speaks": {"netbios-name": {}, "pptp": {}}}]});
        let page = render(exposition, &[old, new], &speakers);
        assert!(
            page.contains("<td><code>10.0.0.9</code></td><td>12</td>"),
            "{page}"
        );
        assert!(page.contains("netbios-name, pptp"), "{page}");
        assert!(page.contains("<td>1234</td>"), "{page}");
        assert!(
            page.contains("<code>{fault=&quot;ras_port_leak&quot;}</code><td>2</td>")
                || page
                    .contains("<td><code>{fault=&quot;ras_port_leak&quot;}</code></td><td>2</td>"),
            "{page}"
        );
        assert!(
            !page.contains("totally_other") && !page.contains(">9<"),
            "{page}"
        );
        assert!(page.contains("name &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(!page.contains("<script"), "{page}");
        assert!(page.find("wins_backup_swap").unwrap() < page.find("ras_port_leak</b>").unwrap());
        assert!(page.contains("Call-Clear-Request") && page.contains("Recent faults (2"));
    }
}
