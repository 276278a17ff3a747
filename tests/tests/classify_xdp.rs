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
