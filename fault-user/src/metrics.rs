//! The Prometheus metrics. Kernel counters are read from the pinned maps at each scrape
//! (they already are the totals, across restarts); everything else is counted here.
//! Every label is a small fixed set: classes, faults, detectors, the interfaces faultd was
//! told to watch. Never an address or a name off the wire.

use std::time::Duration;

use fastmetrics::{
    format::text::{self, EscapingScheme, TextProfile},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use fault_common::{
    Stats,
    class::Class,
    maps::{FLOW_CAPACITY, LAYOUT_VERSION},
};

use crate::detect::{FaultKind, Pipeline, REGISTRY};

#[derive(Clone, Debug, PartialEq, Eq, Hash, fastmetrics::derive::LabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, fastmetrics::derive::LabelSet)]
struct FaultLabel {
    fault: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, fastmetrics::derive::LabelSet)]
struct DetectorLabel {
    detector: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, fastmetrics::derive::LabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Why faultd closed an HTTP connection itself (the label of
/// `faultd_http_connections_closed_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpClose {
    /// No complete request head within the header timeout of the connection's opening.
    HeaderTimeout,
    /// A kept-alive connection sent no next request within the idle timeout.
    IdleTimeout,
    /// A request not answered in full within the request timeout.
    RequestTimeout,
    /// Closed while waiting for a request, to make room for a new connection at the cap.
    Evicted,
    /// A new connection closed at once: every slot under the cap was serving a request.
    Refused,
}

impl HttpClose {
    pub const ALL: [HttpClose; 5] = [
        HttpClose::HeaderTimeout,
        HttpClose::IdleTimeout,
        HttpClose::RequestTimeout,
        HttpClose::Evicted,
        HttpClose::Refused,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HttpClose::HeaderTimeout => "header_timeout",
            HttpClose::IdleTimeout => "idle_timeout",
            HttpClose::RequestTimeout => "request_timeout",
            HttpClose::Evicted => "evicted",
            HttpClose::Refused => "refused",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, fastmetrics::derive::LabelSet)]
struct AttachLabel {
    iface: String,
    mode: &'static str,
}

/// HELP for a counter the XDP program keeps in its pinned maps: a user reading a rate
/// across a restart needs to know it does not start again from 0.
macro_rules! pinned {
    ($help:literal) => {
        concat!(
            $help,
            " Kept in the pinned maps: survives a restart of faultd."
        )
    };
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, fastmetrics::derive::LabelSet)]
struct BuildLabel {
    version: &'static str,
    layout: String,
    revision: &'static str,
}

pub struct Metrics {
    registry: Registry,
    frames_seen: Counter,
    frames: Family<ClassLabel, Counter>,
    malformed: Counter,
    truncated: Counter,
    events: Counter,
    events_dropped: Counter,
    flow_updates_failed: Counter,
    flows: Gauge,
    faults: Family<FaultLabel, Counter>,
    evictions: Family<DetectorLabel, Counter>,
    entries: Family<DetectorLabel, Gauge>,
    capacity: Family<DetectorLabel, Gauge>,
    /// The detectors' own gauges, by metric name (see [`Metrics::register_detectors`]).
    detector_gauges: Vec<(&'static str, Gauge)>,
    late_events: Counter,
    attached: Family<AttachLabel, Gauge>,
    http_connections: Gauge,
    http_connections_max: Gauge,
    http_closed: Family<ReasonLabel, Counter>,
    fault_log_write_errors: Counter,
    fault_log_queued: Gauge,
    fault_log_dropped: Counter,
    packet_clock_tick: Gauge<f64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::builder()
            .with_namespace("faultd")
            .build()
            .expect("a valid namespace");
        let m = Metrics {
            frames_seen: Counter::default(),
            frames: Family::default(),
            malformed: Counter::default(),
            truncated: Counter::default(),
            events: Counter::default(),
            events_dropped: Counter::default(),
            flow_updates_failed: Counter::default(),
            flows: Gauge::default(),
            faults: Family::default(),
            evictions: Family::default(),
            entries: Family::default(),
            capacity: Family::default(),
            detector_gauges: Vec::new(),
            http_connections: Gauge::default(),
            http_connections_max: Gauge::default(),
            http_closed: Family::default(),
            late_events: Counter::default(),
            attached: Family::default(),
            fault_log_write_errors: Counter::default(),
            fault_log_queued: Gauge::default(),
            fault_log_dropped: Counter::default(),
            packet_clock_tick: Gauge::default(),
            registry: Registry::default(),
        };
        registry
            .register(
                "frames_total",
                pinned!("Frames the XDP program has seen, on every watched interface."),
                m.frames_seen.clone(),
            )
            .expect("unique");
        registry
            .register(
                "class_frames_total",
                pinned!(
                    "Frames per class; a frame is in every class it matches, so classes \
                 overlap, and counts once in a class however many of its messages are in it."
                ),
                m.frames.clone(),
            )
            .expect("unique");
        registry
            .register(
                "frames_malformed_total",
                pinned!(
                    "Frames that end inside a header faultd parses, or whose lengths contradict \
                 them: the wire's doing; counted and passed on."
                ),
                m.malformed.clone(),
            )
            .expect("unique");
        registry
            .register(
                "frames_truncated_total",
                pinned!(
                    "Frames that end inside a header faultd parses because only part of them \
                 reached it (the part of a multi-buffer frame XDP reads), not because the \
                 wire cut them: counted apart from malformed, and passed on."
                ),
                m.truncated.clone(),
            )
            .expect("unique");
        registry
            .register(
                "events_total",
                pinned!("Events the XDP program handed to the detectors through the event queue."),
                m.events.clone(),
            )
            .expect("unique");
        registry
            .register(
                "events_dropped_total",
                pinned!("Events lost because a CPU's region of the event queue was full."),
                m.events_dropped.clone(),
            )
            .expect("unique");
        registry
            .register(
                "flow_updates_failed_total",
                pinned!("Flows pushed out of the flow table by a new flow in their bucket."),
                m.flow_updates_failed.clone(),
            )
            .expect("unique");
        registry
            .register(
                "flows",
                "Distinct flows in the flow table (counted once however many CPUs saw them).",
                m.flows.clone(),
            )
            .expect("unique");
        registry
            .register(
                "flows_capacity",
                "Flows the table holds per CPU (4-way buckets: a new flow takes the least \
                 recently seen slot of its bucket, counted in flow_updates_failed).",
                Gauge::new(i64::from(FLOW_CAPACITY)),
            )
            .expect("unique");
        registry
            .register(
                "packet_clock_tick_seconds",
                "The period of the tick that gives watched frames their time, its \
                 resolution; 0: no tick, each watched frame calls the kernel's clock.",
                m.packet_clock_tick.clone(),
            )
            .expect("unique");
        registry
            .register(
                "faults_total",
                "Fault records produced since this daemon started (not kept across restarts).",
                m.faults.clone(),
            )
            .expect("unique");
        registry
            .register(
                "detector_evictions_total",
                "Detector state dropped to stay within its bounds.",
                m.evictions.clone(),
            )
            .expect("unique");
        registry
            .register(
                "detector_state_entries",
                "Entries in a detector's maps now, against its detector_state_capacity.",
                m.entries.clone(),
            )
            .expect("unique");
        registry
            .register(
                "detector_state_capacity",
                "The most entries a detector's maps hold: beyond it, the least recently \
                 active give way (detector_evictions_total).",
                m.capacity.clone(),
            )
            .expect("unique");
        registry
            .register(
                "events_late_total",
                "Events that reached the detectors after a later one (handled at the later \
                 one's time).",
                m.late_events.clone(),
            )
            .expect("unique");
        registry
            .register(
                "xdp_attached",
                "1 for each interface faultd's XDP program is attached to, with the XDP mode \
                 (native or skb) the driver accepted; 0 while a watched interface is gone.",
                m.attached.clone(),
            )
            .expect("unique");
        registry
            .register(
                "fault_log_write_errors_total",
                "Writes to the --fault-log file that failed (a full disk, an I/O error); the \
                 record is held back and written once the file takes it.",
                m.fault_log_write_errors.clone(),
            )
            .expect("unique");
        registry
            .register(
                "fault_log_queued_records",
                "Fault records held back because the --fault-log file could not take them.",
                m.fault_log_queued.clone(),
            )
            .expect("unique");
        registry
            .register(
                "fault_log_dropped_total",
                "Fault records never written to the --fault-log file: more were held back \
                 than it keeps (still served by /api/faults and counted in faults_total).",
                m.fault_log_dropped.clone(),
            )
            .expect("unique");
        registry
            .register(
                "http_connections",
                "HTTP connections to /metrics and /api/faults open now.",
                m.http_connections.clone(),
            )
            .expect("unique");
        registry
            .register(
                "http_connections_max",
                "The cap on open HTTP connections (--http-max-connections).",
                m.http_connections_max.clone(),
            )
            .expect("unique");
        registry
            .register(
                "http_connections_closed_total",
                "HTTP connections faultd closed itself: a timeout (header, idle, request), \
                 or the connection cap (evicted: waiting for a request when a new connection \
                 needed its slot; refused: new, when every slot was serving a request).",
                m.http_closed.clone(),
            )
            .expect("unique");
        for reason in HttpClose::ALL {
            m.http_closed.with_or_new(
                &ReasonLabel {
                    reason: reason.name(),
                },
                |_| (),
            );
        }
        // A gauge at 1 rather than an OpenMetrics info: the Prometheus text format has none.
        let build = Family::<BuildLabel, Gauge>::default();
        build.with_or_new(
            &BuildLabel {
                version: env!("CARGO_PKG_VERSION"),
                layout: format!("v{LAYOUT_VERSION}"),
                revision: env!("FAULTD_GIT_REVISION"),
            },
            |g| g.set(1),
        );
        registry
            .register(
                "build_info",
                "faultd's version, map layout and the git commit it was built from.",
                build,
            )
            .expect("unique");
        // Every fault of the catalogue has its series from the start, so a dashboard shows
        // 0 rather than nothing (the canary's comes when it fires).
        for entry in REGISTRY {
            m.faults
                .with_or_new(&FaultLabel { fault: entry.id }, |_| ());
        }
        for class in Class::ALL {
            m.frames.with_or_new(
                &ClassLabel {
                    class: class.name(),
                },
                |_| (),
            );
        }
        Metrics { registry, ..m }
    }

    /// The kernel's counters, summed over CPUs.
    pub fn set_kernel(&self, stats: &Stats, flows: u64) {
        self.frames_seen.set(stats.frames);
        self.malformed.set(stats.malformed);
        self.truncated.set(stats.truncated);
        self.events.set(stats.events);
        self.events_dropped.set(stats.events_dropped);
        self.flow_updates_failed.set(stats.flow_updates_failed);
        self.flows.set(i64::try_from(flows).unwrap_or(i64::MAX));
        for class in Class::ALL {
            let v = stats.classes[class as usize];
            self.frames.with_or_new(
                &ClassLabel {
                    class: class.name(),
                },
                |c| c.set(v),
            );
        }
    }

    pub fn set_packet_clock_tick(&self, period: Duration) {
        self.packet_clock_tick.set(period.as_secs_f64());
    }

    pub fn fault(&self, kind: FaultKind) {
        self.faults
            .with_or_new(&FaultLabel { fault: kind.id() }, |c| c.inc());
    }

    /// Registers the series of the detectors `pipeline` runs, every one there from the
    /// start. Before the metrics are shared: a gauge a detector reports that was not
    /// registered here is not exposed.
    pub fn register_detectors(&mut self, pipeline: &Pipeline) {
        for g in pipeline.gauges() {
            let gauge = Gauge::default();
            self.registry
                .register(g.name, g.help, gauge.clone())
                .expect("a detector gauge's name is unique");
            self.detector_gauges.push((g.name, gauge));
        }
        for (detector, capacity) in pipeline.capacity() {
            self.capacity
                .with_or_new(&DetectorLabel { detector }, |g| g.set(saturate(capacity)));
        }
        self.set_detectors(pipeline);
    }

    /// What the detectors report now.
    pub fn set_detectors(&self, pipeline: &Pipeline) {
        for (detector, evictions) in pipeline.evictions() {
            self.evictions
                .with_or_new(&DetectorLabel { detector }, |c| c.set(evictions));
        }
        for (detector, entries) in pipeline.entries() {
            self.entries
                .with_or_new(&DetectorLabel { detector }, |g| g.set(saturate(entries)));
        }
        for g in pipeline.gauges() {
            if let Some((_, gauge)) = self.detector_gauges.iter().find(|(n, _)| *n == g.name) {
                gauge.set(saturate(g.value));
            }
        }
        self.late_events.set(pipeline.late_events());
    }

    pub fn attached(&self, iface: &str, mode: &'static str, attached: bool) {
        self.attached.with_or_new(
            &AttachLabel {
                iface: iface.to_owned(),
                mode,
            },
            |g| g.set(i64::from(attached)),
        );
    }

    /// A write to the fault log failed; `queued` records now wait for it.
    pub fn fault_log_failed(&self, queued: usize) {
        self.fault_log_write_errors.inc();
        self.set_fault_log_queued(queued);
    }

    pub fn set_fault_log_queued(&self, queued: usize) {
        self.fault_log_queued
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
    }

    pub fn fault_log_dropped(&self) {
        self.fault_log_dropped.inc();
    }

    pub fn set_http_connections(&self, open: usize, max: usize) {
        self.http_connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
        self.http_connections_max
            .set(i64::try_from(max).unwrap_or(i64::MAX));
    }

    pub fn http_closed(&self, reason: HttpClose) {
        self.http_closed.with_or_new(
            &ReasonLabel {
                reason: reason.name(),
            },
            |c| c.inc(),
        );
    }

    /// The exposition in the format the scraper prefers (`Accept`), and its content type.
    pub fn encode(&self, accept: Option<&str>) -> (String, &'static str) {
        let profile = negotiate(accept.unwrap_or(""));
        let mut out = String::with_capacity(16 * 1024);
        text::encode(&mut out, &self.registry, profile).expect("writing to a String");
        (out, profile.content_type())
    }
}

fn saturate(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Picks the text format from an `Accept` header: OpenMetrics when the scraper asks for it
/// (Prometheus does), else the Prometheus text format 0.0.4 that every tool reads.
fn negotiate(accept: &str) -> TextProfile {
    let mut best: Option<(f32, TextProfile)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut q = 1.0f32;
        let mut version = None;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => q = v.trim().parse().unwrap_or(0.0),
                    "version" => version = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
        }
        let profile = match media.as_str() {
            "application/openmetrics-text" => match version.as_deref() {
                Some("0.0.1") => TextProfile::OpenMetricsV0_0_1,
                _ => TextProfile::OpenMetricsV1_0_0 {
                    escaping_scheme: EscapingScheme::Underscores,
                },
            },
            "text/plain" | "text/*" | "*/*" => TextProfile::PrometheusV0_0_4,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, profile));
        }
    }
    best.map_or(TextProfile::PrometheusV0_0_4, |(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_asks_for_openmetrics() {
        let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(matches!(
            negotiate(accept),
            TextProfile::OpenMetricsV1_0_0 { .. }
        ));
        assert!(matches!(
            negotiate(
                "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=0.0.1;q=0.5"
            ),
            TextProfile::PrometheusV0_0_4
        ));
        assert!(matches!(negotiate(""), TextProfile::PrometheusV0_0_4));
        assert!(matches!(negotiate("*/*"), TextProfile::PrometheusV0_0_4));
        assert!(matches!(
            negotiate("application/openmetrics-text; version=0.0.1"),
            TextProfile::OpenMetricsV0_0_1
        ));
    }

    #[test]
    fn every_fault_and_class_is_there_from_the_start() {
        let m = Metrics::new();
        let mut stats = Stats {
            frames: 7,
            ..Stats::default()
        };
        stats.classes[Class::IpxRip as usize] = 5;
        m.set_kernel(&stats, 3);
        m.attached("eth0", "native", true);
        m.attached("eth1", "skb", true);
        m.attached("eth1", "skb", false);
        let (text, ct) = m.encode(None);
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
        for entry in REGISTRY {
            let line = format!("faultd_faults_total{{fault=\"{}\"}} 0\n", entry.id);
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        assert!(
            text.contains("faultd_class_frames_total{class=\"ipx.rip\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("faultd_class_frames_total{class=\"ipx.ncp.create\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("faultd_frames_total 7\n"), "{text}");
        assert!(text.contains("faultd_flows 3\n"), "{text}");
        assert!(text.contains("faultd_flows_capacity 65536\n"), "{text}");
        assert!(
            text.contains("faultd_xdp_attached{iface=\"eth0\",mode=\"native\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("faultd_xdp_attached{iface=\"eth1\",mode=\"skb\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("faultd_fault_log_write_errors_total 0\n"),
            "{text}"
        );
        assert!(text.contains("faultd_build_info{version=\""), "{text}");
        let revision = format!("revision=\"{}\"}} 1\n", env!("FAULTD_GIT_REVISION"));
        assert!(text.contains(&revision), "{text}");
        let (om, ct) = m.encode(Some("application/openmetrics-text;version=1.0.0"));
        assert!(
            ct.starts_with("application/openmetrics-text; version=1.0.0"),
            "{ct}"
        );
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE faultd_faults_total counter\n"), "{om}");
        assert!(
            om.contains("faultd_faults_total{fault=\"ras_port_leak\"} 0\n"),
            "{om}"
        );
        assert!(!om.contains("_total_total"), "{om}");
    }

    #[test]
    fn every_detector_has_its_series_from_the_start() {
        let mut m = Metrics::new();
        let pipeline = Pipeline::standard(&crate::detect::Config::default(), false);
        m.register_detectors(&pipeline);
        let (text, _) = m.encode(None);
        assert!(text.contains("faultd_ras_leaked_ports 0\n"), "{text}");
        assert!(
            text.contains("# HELP faultd_ras_leaked_ports RAS ports (PPTP calls) whose"),
            "{text}"
        );
        for (detector, capacity) in pipeline.capacity() {
            assert!(capacity > 0, "{detector}");
            for line in [
                format!("faultd_detector_state_capacity{{detector=\"{detector}\"}} {capacity}\n"),
                format!("faultd_detector_state_entries{{detector=\"{detector}\"}} 0\n"),
                format!("faultd_detector_evictions_total{{detector=\"{detector}\"}} 0\n"),
            ] {
                assert!(text.contains(&line), "{line} missing from\n{text}");
            }
        }
    }
}
