//! Every catalogue sample (each checked against tshark by builder_tshark.rs) through the
//! real XDP program with BPF_PROG_TEST_RUN, and through the userspace engine.

use std::collections::BTreeSet;

use fault_common::Class;
use fault_user::engine::{self, Engine, EngineKind};

/// Where faultd and tshark 4.0 disagree on a catalogue sample by design: (sample,
/// classes tshark has that faultd has not, classes faultd has that tshark has not, why).
const KNOWN_DIFFERENCES: &[(&str, &[&str], &[&str], &str)] = &[
    (
        "nbns_wack",
        &["nbns.registration", "nbns.registration.response"],
        &[],
        "tshark decodes the WACK's RDATA (the request's flags word) as a second nbns.flags, \
         so `opcode==5` and `response==1` also match; a WACK is neither",
    ),
    (
        "icmp_unreachable_quoting_l2tp_sccrq",
        &["l2tp", "l2tp.control"],
        &[],
        "the l2tp filter has no !icmp, so tshark counts the datagram the ICMP error quotes; \
         faultd counts frames, and reports quotes as icmp.unreachable.watched",
    ),
    (
        "icmp6_unreachable_quoting_nbstat",
        &["nbns.nbstat"],
        &["icmp.unreachable.watched"],
        "!icmp does not exclude ICMPv6 quotes in tshark; and faultd's watched-unreachable \
         class covers ICMPv6 while its tshark filter is ICMPv4-only",
    ),
    (
        "icmp6_unreachable_quoting_udp_1761",
        &["sms.helpdesk"],
        &["icmp.unreachable.watched"],
        "as icmp6_unreachable_quoting_nbstat",
    ),
    (
        "pptp_echo_reply_and_ccrq_one_segment",
        &[],
        &["pptp.call_clear_request"],
        "tshark 4.0 decodes only the first PPTP control message of a segment; faultd parses \
         each (up to its bound), and the Call-Clear-Request is the second",
    ),
    (
        "pptp_eleven_messages_one_segment",
        &[],
        &["pptp.control.unparsed"],
        "a class of faultd's with no tshark filter: tshark decodes only the first message",
    ),
    (
        "pptp_ccrq_and_cut_sli_one_segment",
        &[],
        &["pptp.control.cut"],
        "a class of faultd's with no tshark filter: tshark decodes only the first message",
    ),
    (
        "ipv4_fragmented_registration_last",
        &["nbns.registration"],
        &[],
        "tshark reassembles and classifies the datagram on its last fragment; XDP sees one \
         frame at a time and does not follow fragments",
    ),
];

fn open_kernel(test: &str) -> Option<Box<dyn Engine>> {
    match engine::open(EngineKind::Kernel) {
        Ok(e) => Some(e),
        Err(e) => {
            eprintln!("SKIPPED {test}: the kernel engine is unavailable ({e}); run as root");
            None
        }
    }
}

fn classes_of(stats: &fault_common::Stats, before: &fault_common::Stats) -> BTreeSet<&'static str> {
    Class::ALL
        .iter()
        .filter(|c| stats.classes[**c as usize] != before.classes[**c as usize])
        .map(|c| c.name())
        .collect()
}

#[test]
fn every_catalogue_sample_gets_the_classes_tshark_gives_it() {
    let Some(mut kernel) = open_kernel("every_catalogue_sample_gets_the_classes_tshark_gives_it")
    else {
        return;
    };
    let mut user = engine::open(EngineKind::User).unwrap();
    let mut failures = Vec::new();
    let mut prev_k = kernel.snapshot().unwrap().stats;
    let mut prev_u = user.snapshot().unwrap().stats;
    for (i, s) in fault_tests::catalogue().into_iter().enumerate() {
        let ts = 1_000_000_000 + i as u64;
        kernel.frame(ts, &s.frame).unwrap();
        user.frame(ts, &s.frame).unwrap();
        let k = kernel.snapshot().unwrap().stats;
        let u = user.snapshot().unwrap().stats;
        let got = classes_of(&k, &prev_k);
        let got_user = classes_of(&u, &prev_u);
        let mut want: BTreeSet<&str> = s.classes.iter().copied().collect();
        if let Some((_, tshark_only, faultd_only, _)) =
            KNOWN_DIFFERENCES.iter().find(|d| d.0 == s.name)
        {
            for c in *tshark_only {
                want.remove(c);
            }
            want.extend(faultd_only.iter().copied());
        }
        if got != want {
            failures.push(format!("{}: want {:?}, XDP gave {:?}", s.name, want, got));
        }
        if got_user != got {
            failures.push(format!(
                "{}: user engine {:?} != XDP {:?}",
                s.name, got_user, got
            ));
        }
        if k.malformed != prev_k.malformed {
            failures.push(format!(
                "{}: a well-formed sample counted malformed",
                s.name
            ));
        }
        prev_k = k;
        prev_u = u;
    }
    assert!(
        failures.is_empty(),
        "{} samples differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One PPTP segment's expected outcome: its classes, whether it is malformed, and the
/// (message type, call id) of each event, in order.
struct Segment {
    what: &'static str,
    payload: Vec<u8>,
    classes: &'static [&'static str],
    malformed: bool,
    events: Vec<(u16, u16)>,
}

/// Control messages coalesced in one TCP segment, through the XDP program and the user
/// engine: every whole message gives its event, in order; classes count the frame once
/// however many of its messages are in them; a message cut at the segment's end counts
/// its classes and `pptp.control.cut` but gives no event (no reassembly, no guessing);
/// past `PPTP_MAX_MESSAGES` messages the frame counts in `pptp.control.unparsed` and the
/// rest gives nothing.
#[test]
fn each_pptp_message_of_a_segment_gives_its_event_and_classes_count_the_frame() {
    use fault_common::{
        event::{EventKind, TCP_ACK, TCP_FIN},
        parse::PPTP_MAX_MESSAGES,
    };
    use fault_tests::{Carrier as _, Eth, Network as _, pptp};
    let test = "each_pptp_message_of_a_segment_gives_its_event_and_classes_count_the_frame";
    let Some(mut kernel) = open_kernel(test) else {
        return;
    };
    let mut user = engine::open(EngineKind::User).unwrap();
    const CONTROL: &[&str] = &["pptp.control"];
    const CLEAR: &[&str] = &["pptp.control", "pptp.call_clear_request"];
    const CLEAR_CUT: &[&str] = &[
        "pptp.control",
        "pptp.call_clear_request",
        "pptp.control.cut",
    ];
    let (sli, ccrq, echo) = (pptp::sli(100), pptp::ccrq(1), pptp::echo_request(7));
    let echoes = |n: usize| vec![echo.as_slice(); n].concat();
    let mut too_short = ccrq.clone();
    too_short[1] = 12; // a Call-Clear-Request whose Length leaves no room for its call id
    let seg = |what, payload, classes, malformed, events| Segment {
        what,
        payload,
        classes,
        malformed,
        events,
    };
    let cases = [
        seg(
            "Set-Link-Info then Call-Clear-Request",
            pptp::concat(&[&sli, &ccrq]),
            CLEAR,
            false,
            vec![(pptp::SLI, 100), (pptp::CCRQ, 1)],
        ),
        seg(
            "two Call-Clear-Requests: one frame in the class, two events",
            pptp::concat(&[&ccrq, &pptp::ccrq(2)]),
            CLEAR,
            false,
            vec![(pptp::CCRQ, 1), (pptp::CCRQ, 2)],
        ),
        seg(
            "a Call-Clear-Request, then a Set-Link-Info cut after its header",
            pptp::concat(&[&ccrq, &sli[..14]]),
            CLEAR_CUT,
            false,
            vec![(pptp::CCRQ, 1)],
        ),
        seg(
            "a Set-Link-Info, then a Call-Clear-Request cut after its call id",
            pptp::concat(&[&sli, &ccrq[..14]]),
            CLEAR_CUT,
            false,
            vec![(pptp::SLI, 100)],
        ),
        seg(
            "a Call-Clear-Request, then 5 bytes of the next header",
            pptp::concat(&[&ccrq, &sli[..5]]),
            CLEAR_CUT,
            false,
            vec![(pptp::CCRQ, 1)],
        ),
        seg(
            "a Call-Clear-Request cut at the first message: classes as tshark's, no event",
            ccrq[..14].to_vec(),
            CLEAR_CUT,
            false,
            vec![],
        ),
        seg(
            "a segment that starts inside a cut message: nothing, the whole one after it too",
            pptp::concat(&[&sli[14..], &ccrq]),
            &[],
            false,
            vec![],
        ),
        seg(
            "a Set-Link-Info, then bytes that are no message: the parser stops there",
            pptp::concat(&[&sli, &[0x55; 20]]),
            CONTROL,
            false,
            vec![(pptp::SLI, 100)],
        ),
        seg(
            "a Call-Clear-Request too short for its call id: malformed, no event, stop",
            pptp::concat(&[&too_short[..12], &pptp::ccrq(2)]),
            CLEAR,
            true,
            vec![],
        ),
        seg(
            "a Set-Link-Info, then a Call-Clear-Request too short: malformed, the first's event",
            pptp::concat(&[&sli, &too_short[..12], &pptp::ccrq(2)]),
            CLEAR,
            true,
            vec![(pptp::SLI, 100)],
        ),
        seg(
            "as many Echo-Requests as the bound",
            echoes(PPTP_MAX_MESSAGES),
            CONTROL,
            false,
            vec![(pptp::ECHO_REQUEST, 0); PPTP_MAX_MESSAGES],
        ),
        seg(
            "one message past the bound, a Call-Clear-Request: unparsed, no class or event",
            pptp::concat(&[&echoes(PPTP_MAX_MESSAGES), &ccrq]),
            &["pptp.control", "pptp.control.unparsed"],
            false,
            vec![(pptp::ECHO_REQUEST, 0); PPTP_MAX_MESSAGES],
        ),
    ];
    let mut failures = Vec::new();
    let (mut prev_k, mut prev_u) = (kernel.stats().unwrap(), user.stats().unwrap());
    for (i, case) in cases.iter().enumerate() {
        let frame = Eth::new([2, 0, 0, 0, 0, 10], [2, 0, 0, 0, 0, 1])
            .ipv4([10, 0, 0, 10].into(), [10, 0, 0, 1].into())
            .tcp(1100 + i as u16, pptp::PORT)
            .payload(&case.payload);
        let ts = 1_000_000_000 + i as u64;
        kernel.frame(ts, &frame).unwrap();
        user.frame(ts, &frame).unwrap();
        let (mut kev, mut uev) = (Vec::new(), Vec::new());
        kernel.drain_events(&mut kev).unwrap();
        user.drain_events(&mut uev).unwrap();
        let (k, u) = (kernel.stats().unwrap(), user.stats().unwrap());
        let got = classes_of(&k, &prev_k);
        let want: BTreeSet<&str> = case.classes.iter().copied().collect();
        if got != want {
            failures.push(format!("{}: classes {got:?}, want {want:?}", case.what));
        }
        if classes_of(&u, &prev_u) != got {
            failures.push(format!("{}: the user engine's classes differ", case.what));
        }
        let malformed = k.malformed != prev_k.malformed;
        if malformed != case.malformed || (u.malformed != prev_u.malformed) != malformed {
            failures.push(format!("{}: malformed {malformed}", case.what));
        }
        let events: Vec<(u16, u16)> = kev
            .iter()
            .map(|e| {
                assert_eq!(e.kind(), Ok(EventKind::Pptp), "{}", case.what);
                assert_eq!(
                    e.hdr.ts_ns, ts,
                    "{}: every event has its frame's time",
                    case.what
                );
                let b = e.pptp().unwrap();
                (b.msg_type, b.call_id)
            })
            .collect();
        if events != case.events {
            failures.push(format!(
                "{}: events {events:?}, want {:?}",
                case.what, case.events
            ));
        }
        let same = kev.len() == uev.len()
            && kev
                .iter()
                .zip(&uev)
                .all(|(a, b)| bytemuck::bytes_of(a) == bytemuck::bytes_of(b));
        if !same {
            failures.push(format!("{}: the user engine's events differ", case.what));
        }
        (prev_k, prev_u) = (k, u);
    }
    // A FIN carrying the last messages: the TCP event first, then the messages', as the
    // frame has them, in both engines.
    let frame = Eth::new([2, 0, 0, 0, 0, 10], [2, 0, 0, 0, 0, 1])
        .ipv4([10, 0, 0, 10].into(), [10, 0, 0, 1].into())
        .tcp(1099, pptp::PORT)
        .flags(TCP_FIN | TCP_ACK)
        .payload(&pptp::concat(&[&ccrq, &pptp::stop_ccrq(1)]));
    let kinds = |engine: &mut Box<dyn engine::Engine>| {
        engine.frame(2_000_000_000, &frame).unwrap();
        let mut ev = Vec::new();
        engine.drain_events(&mut ev).unwrap();
        ev.iter()
            .map(|e| (e.kind(), e.pptp().map(|m| m.msg_type)))
            .collect::<Vec<_>>()
    };
    let want = vec![
        (Ok(EventKind::Tcp), None),
        (Ok(EventKind::Pptp), Some(pptp::CCRQ)),
        (Ok(EventKind::Pptp), Some(pptp::STOP_CCRQ)),
    ];
    assert_eq!(kinds(&mut kernel), want, "kernel engine");
    assert_eq!(kinds(&mut user), want, "user engine");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Pins the calling thread to one CPU (BPF_PROG_TEST_RUN runs the program on it).
fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// A flow's per-CPU copies merge into one: its first frame's time, every packet. A flow
/// seen first on one CPU and then on another used to come out with a first time of 0
/// (the second CPU's copy starts zeroed); the corpus parity test caught it once, when the
/// test thread happened to move between CPUs.
#[test]
fn a_flow_seen_on_two_cpus_keeps_its_first_time() {
    let Some(mut e) = open_kernel("a_flow_seen_on_two_cpus_keeps_its_first_time") else {
        return;
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 || !pin_to_cpu(0) {
        eprintln!("SKIPPED a_flow_seen_on_two_cpus_keeps_its_first_time: needs two CPUs");
        return;
    }
    let frame = fault_tests::catalogue::sample("nbss_positive_response");
    e.frame(1_000, &frame).unwrap();
    assert!(pin_to_cpu(1));
    e.frame(2_000, &frame).unwrap();
    e.frame(3_000, &frame).unwrap();
    let run = e.snapshot().unwrap();
    let flows: Vec<_> = run.flows.values().collect();
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!(
        (flows[0].packets, flows[0].first_ns, flows[0].last_ns),
        (3, 1_000, 3_000)
    );
}

/// The flow table's buckets hold four flows: a fifth in the same bucket takes the least
/// recently seen one's slot, and the loss is counted (faultd_flow_updates_failed_total).
#[test]
fn a_full_bucket_gives_way_to_its_least_recently_seen_flow_and_counts_it() {
    use std::net::Ipv4Addr;

    use fault_common::{FlowKey, maps::FLOW_WAYS};
    use fault_tests::{Carrier as _, Eth, Network as _};
    let test = "a_full_bucket_gives_way_to_its_least_recently_seen_flow_and_counts_it";
    let Some(mut e) = open_kernel(test) else {
        return;
    };
    // One CPU: each CPU has a region of the table of its own.
    if !pin_to_cpu(0) {
        eprintln!("SKIPPED {test}: cannot pin to CPU 0");
        return;
    }
    // NBDGM datagrams from hosts of 10/8 to one server, chosen so five share a bucket.
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let key = |src: Ipv4Addr| {
        let mut k = FlowKey {
            family: 4,
            proto: 17,
            sport: 138,
            dport: 138,
            ..Default::default()
        };
        k.src[..4].copy_from_slice(&src.octets());
        k.dst[..4].copy_from_slice(&dst.octets());
        k
    };
    let host = |i: u32| Ipv4Addr::from(0x0a00_0000 | i);
    let bucket = key(host(1)).bucket();
    let hosts: Vec<Ipv4Addr> = (1..0x100_0000)
        .map(host)
        .filter(|h| key(*h).bucket() == bucket)
        .take(FLOW_WAYS + 1)
        .collect();
    assert_eq!(hosts.len(), FLOW_WAYS + 1);
    for (i, src) in hosts.iter().enumerate() {
        let frame = Eth::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(*src, dst)
            .udp(138, 138)
            .payload(b"a datagram");
        e.frame(1_000 * (i as u64 + 1), &frame).unwrap();
    }
    let run = e.snapshot().unwrap();
    let got: BTreeSet<FlowKey> = run.flows.keys().copied().collect();
    let want: BTreeSet<FlowKey> = hosts[1..].iter().map(|h| key(*h)).collect();
    assert_eq!(got, want, "the oldest flow ({}) gave way", hosts[0]);
    assert_eq!(run.stats.flow_updates_failed, 1);
    assert_eq!(run.stats.classes[Class::Nbdgm as usize], hosts.len() as u64);
}
