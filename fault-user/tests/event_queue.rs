//! The event queue between the XDP program and the daemon, through the kernel engine
//! (the loaded program under BPF_PROG_TEST_RUN, read back as the daemon reads it): a CPU's
//! region holds what it says and counts what it drops, and records made on different CPUs
//! come out in the order they were made. Needs root (or CAP_BPF + CAP_PERFMON).

use bytemuck::Zeroable;
use fault_common::{
    Event,
    event::{EventKind, Record},
    maps::{QUEUE_CHUNKS, queue_record_chunks},
};
use fault_tests::{
    catalogue::{catalogue, sample},
    netbios::registration_flood,
};
use fault_user::engine::{Engine, kernel::KernelEngine, user::UserEngine};

/// Runs the calling thread on `cpu` alone: BPF_PROG_TEST_RUN runs the program on the
/// CPU of the caller, so this picks the queue region a record goes to.
fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity take it by
    // pointer for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let r = libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            r,
            0,
            "sched_setaffinity({cpu}): {}",
            std::io::Error::last_os_error()
        );
    }
}

fn unpin() {
    // SAFETY: as in pin_to, with every CPU this machine can have.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..online_cpus() {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The machine's, not this process's share (a test run under taskset still reaches all).
fn online_cpus() -> usize {
    // SAFETY: sysconf with a valid name.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).unwrap_or(1)
}

fn txids(events: &[Event]) -> Vec<u16> {
    events
        .iter()
        .map(|e| {
            assert_eq!(e.hdr.kind, EventKind::Nbns as u8);
            e.nbns().expect("an NBNS event").txid
        })
        .collect()
}

/// Chunks an NBNS event takes with its prefix: two (its body's padding stays behind).
fn nbns_chunks() -> u64 {
    let mut e = Event::zeroed();
    e.hdr.kind = EventKind::Nbns as u8;
    queue_record_chunks(e.ring_len())
}

#[test]
fn a_full_region_drops_what_does_not_fit_counts_it_and_takes_records_again_once_read() {
    // 16,384 NBNS events (two chunks each) fill an empty region exactly.
    let fits = (QUEUE_CHUNKS / nbns_chunks()) as usize;
    assert_eq!(fits, 16_384);
    let frames = registration_flood(u16::try_from(fits + 100).expect("fits in u16"));
    let mut engine = KernelEngine::new().expect("the kernel engine loads (root?)");
    pin_to(0);
    for (i, f) in frames.iter().enumerate() {
        engine.frame(i as u64 + 1, f).expect("test run");
    }
    let s = engine.stats().expect("stats");
    assert_eq!((s.events, s.events_dropped), (fits as u64, 100));
    let mut out = Vec::new();
    engine.drain_events(&mut out).expect("drain");
    let want: Vec<u16> = (0..fits as u16).collect();
    assert_eq!(txids(&out), want, "the first records, whole and in order");

    // Read, the region takes records again: an NCP event, whose body is all fields (three
    // chunks), then 16,382 NBNS events, and the region's last chunk is left, too small
    // for one more.
    let more = fits - 2;
    engine
        .frame(1, &sample("ipx_ncp_read_property_value"))
        .expect("test run");
    for (i, f) in frames.iter().take(more + 1).enumerate() {
        engine.frame(i as u64 + 2, f).expect("test run");
    }
    let s = engine.stats().expect("stats");
    assert_eq!((s.events, s.events_dropped), (2 * fits as u64 - 1, 101));
    out.clear();
    engine.drain_events(&mut out).expect("drain");
    assert!(out[0].ncp().is_some(), "the NCP event first");
    assert_eq!(txids(&out[1..]), (0..more as u16).collect::<Vec<u16>>());

    // Read again, the last chunk is next: a SAP response (one record of 9 chunks) runs
    // from there into the spare chunks past the end, and the events after it start again
    // at the region's beginning.
    let sap = largest_sap_response();
    engine.frame(1, &sap).expect("test run");
    for (i, f) in frames.iter().take(10).enumerate() {
        engine.frame(i as u64 + 2, f).expect("test run");
    }
    unpin();
    out.clear();
    engine.drain_events(&mut out).expect("drain");
    let mut user = UserEngine::default();
    user.frame(1, &sap).expect("user engine");
    let mut want = Vec::new();
    user.drain_events(&mut want).expect("user engine");
    assert_eq!(want.len(), 7, "the sample has seven servers");
    let (got_sap, got_rest) = out.split_at(want.len().min(out.len()));
    assert!(
        got_sap
            .iter()
            .map(bytemuck::bytes_of)
            .eq(want.iter().map(bytemuck::bytes_of)),
        "the SAP response across the region's end reads as the user engine decodes it"
    );
    assert_eq!(txids(got_rest), (0..10).collect::<Vec<u16>>());
    let s = engine.stats().expect("stats");
    assert_eq!(
        (s.events, s.events_dropped),
        (2 * fits as u64 - 1 + 17, 101)
    );
}

/// The catalogue's SAP response with the most servers.
fn largest_sap_response() -> Vec<u8> {
    catalogue()
        .into_iter()
        .filter(|s| s.classes.contains(&"ipx.sap.response"))
        .max_by_key(|s| s.frame.len())
        .expect("the catalogue has SAP responses")
        .frame
}

#[test]
fn records_made_on_different_cpus_come_out_in_the_order_they_were_made() {
    let cpus = online_cpus();
    assert!(
        cpus >= 2,
        "this test needs two CPUs to put records in two regions; this machine has {cpus}"
    );
    let frames = registration_flood(3000);
    let mut engine = KernelEngine::new().expect("the kernel engine loads (root?)");
    // Runs of different lengths on each CPU, so neither region's records alone are in
    // order with the other's by position.
    let mut cpu_of = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let cpu = (i / (1 + i % 7)) % 2;
        pin_to(cpu);
        cpu_of.push(cpu);
        engine.frame(i as u64 + 1, f).expect("test run");
    }
    unpin();
    assert!(cpu_of.contains(&0) && cpu_of.contains(&1));
    let mut out = Vec::new();
    engine.drain_events(&mut out).expect("drain");
    assert_eq!(txids(&out), (0..3000).collect::<Vec<u16>>());
    let s = engine.stats().expect("stats");
    assert_eq!((s.events, s.events_dropped), (3000, 0));
}

#[test]
fn the_bell_rings_once_when_a_region_passes_a_quarter_full_and_again_after_it_is_read() {
    use aya::{
        maps::{MapData, RingBuf},
        programs::{TestRun, TestRunOptions, Xdp},
    };
    use fault_common::maps::{MAP_EVENT_BELL, MAP_EVENTS, PROGRAM_CLASSIFY, QUEUE_BELL_CHUNKS};
    use fault_user::queue::EventQueue;

    // The record that takes the region from below a quarter to a quarter or more: 4,096.
    let ringing = QUEUE_BELL_CHUNKS.div_ceil(nbns_chunks()) as usize;
    let frames = registration_flood(u16::try_from(2 * ringing).expect("fits in u16"));
    let mut ebpf = fault_user::ebpf::load().expect("the program loads (root?)");
    let mut queue = EventQueue::new(ebpf.take_map(MAP_EVENTS).expect("EVENTS")).expect("mapped");
    let mut bell: RingBuf<MapData> =
        RingBuf::try_from(ebpf.take_map(MAP_EVENT_BELL).expect("EVENT_BELL")).expect("a ring");
    let prog: &mut Xdp = ebpf
        .program_mut(PROGRAM_CLASSIFY)
        .expect("loaded")
        .try_into()
        .expect("XDP");
    let rings = |bell: &mut RingBuf<MapData>| {
        let mut n = 0;
        while bell.next().is_some() {
            n += 1;
        }
        n
    };
    pin_to(0);
    for (i, f) in frames.iter().enumerate() {
        prog.test_run(TestRunOptions {
            data_in: Some(f),
            repeat: 1,
            ..Default::default()
        })
        .expect("test run");
        // Not before the crossing, once at it, never again while the region fills.
        if i + 2 == ringing || i + 1 == ringing || i + 1 == frames.len() {
            let want = usize::from(i + 1 == ringing);
            assert_eq!(rings(&mut bell), want, "after {} records", i + 1);
        }
    }
    assert_eq!(queue.drain_all(|_| {}), frames.len());
    // Read, the region is empty: the next crossing rings again.
    for f in &frames[..ringing] {
        prog.test_run(TestRunOptions {
            data_in: Some(f),
            repeat: 1,
            ..Default::default()
        })
        .expect("test run");
    }
    unpin();
    assert_eq!(rings(&mut bell), 1);
    assert_eq!(queue.drain_all(|_| {}), ringing);
}
