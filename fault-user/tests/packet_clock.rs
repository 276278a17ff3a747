//! Where a watched frame's time comes from, in the loaded programs themselves: the tick
//! program keeps CLOCK at the kernel's monotonic clock (and leaves replay's setting
//! alone); the XDP program stamps a frame with CLOCK's time when it holds one, and calls
//! the kernel's clock when nothing ticks. Needs root (or CAP_BPF + CAP_PERFMON).

use std::time::{Duration, Instant};

use aya::{
    Ebpf,
    maps::{Array, MapData},
    programs::{
        PerfEvent, TestRun, TestRunOptions, Xdp,
        perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent},
    },
};
use fault_common::{
    Event,
    maps::{
        CLOCK_CALL, CLOCK_IN_METADATA, MAP_CLOCK, MAP_EVENTS, PROGRAM_CLASSIFY, PROGRAM_TICK,
        TICK_NS,
    },
};
use fault_tests::netbios::registration_flood;
use fault_user::{ebpf, queue::EventQueue};

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct Loaded {
    ebpf: Ebpf,
    clock: Array<MapData, u64>,
    events: EventQueue,
}

fn load() -> Loaded {
    let mut ebpf = ebpf::load().expect("the XDP program loads (root?)");
    let clock = Array::try_from(ebpf.take_map(MAP_CLOCK).expect("CLOCK")).expect("an array");
    let events = EventQueue::new(ebpf.take_map(MAP_EVENTS).expect("EVENTS")).expect("mapped");
    Loaded {
        ebpf,
        clock,
        events,
    }
}

impl Loaded {
    fn tick(&mut self) -> &mut PerfEvent {
        self.ebpf
            .program_mut(PROGRAM_TICK)
            .expect("the tick program")
            .try_into()
            .unwrap()
    }

    /// The `ts_ns` the XDP program gives a watched frame's event, CLOCK as it is.
    fn stamp(&mut self) -> u64 {
        let frame = &registration_flood(1)[0];
        let prog: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_CLASSIFY)
            .and_then(|p| p.try_into().ok())
            .expect("loaded");
        prog.test_run(TestRunOptions {
            data_in: Some(frame),
            repeat: 1,
            ..Default::default()
        })
        .expect("test run");
        let mut ts = Vec::new();
        self.events.drain_all(|r| {
            fault_common::event::decode(r, |e: Event| ts.push(e.hdr.ts_ns));
        });
        assert_eq!(ts.len(), 1, "one registration, one event");
        ts[0]
    }
}

#[test]
fn a_frame_takes_the_ticked_time_or_calls_the_clock_when_nothing_ticks() {
    let mut l = load();
    let ticked = 123_456_789_012;
    l.clock.set(0, ticked, 0).unwrap();
    assert_eq!(l.stamp(), ticked, "a ticked time, as it is");

    l.clock.set(0, CLOCK_CALL, 0).unwrap();
    let before = monotonic_ns();
    let ts = l.stamp();
    let after = monotonic_ns();
    // The coarse clock trails the precise one by up to a jiffy (10 ms at 100 Hz).
    assert!(
        ts <= after && ts + 10_000_000 >= before,
        "the kernel's clock: {ts} not within [{before} - 10 ms, {after}]"
    );
}

#[test]
fn the_tick_keeps_clock_at_the_monotonic_clock_and_leaves_replay_alone() {
    let mut l = load();
    l.clock.set(0, CLOCK_CALL, 0).unwrap();
    l.tick().load().expect("the tick program loads");
    let id = l
        .tick()
        .attach(
            PerfEventConfig::Software(SoftwareEvent::CpuClock),
            PerfEventScope::AllProcessesOneCpu {
                cpu: aya::util::online_cpus().expect("online CPUs")[0],
            },
            SamplePolicy::Period(TICK_NS),
            false,
        )
        .expect("a CPU clock event (perf_event_open)");
    let tick = Duration::from_nanos(TICK_NS);
    // Several readings a tick or more apart: each within two ticks of the monotonic clock
    // (the tick may be one period old, and a reading takes a system call), and moving on.
    let mut seen = Vec::new();
    let start = Instant::now();
    while seen.len() < 5 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(tick * 3);
        // CLOCK first: the monotonic clock read after it can only be later.
        let c = l.clock.get(&0, 0).unwrap();
        let now = monotonic_ns();
        assert!(
            c <= now && now - c <= 2 * TICK_NS + 5_000_000,
            "CLOCK {c} trails the monotonic clock {now} by {} ms",
            (now.saturating_sub(c)) / 1_000_000
        );
        seen.push(c);
    }
    assert_eq!(seen.len(), 5);
    assert!(
        seen.windows(2).all(|w| w[1] > w[0]),
        "CLOCK moves on: {seen:?}"
    );
    // And a frame takes what the tick wrote.
    let ts = l.stamp();
    let c = l.clock.get(&0, 0).unwrap();
    assert!(ts <= c && c - ts <= 2 * TICK_NS, "stamped {ts}, CLOCK {c}");

    // Replay's setting stays: frames take their time from their metadata then.
    l.clock.set(0, CLOCK_IN_METADATA, 0).unwrap();
    std::thread::sleep(tick * 5);
    assert_eq!(l.clock.get(&0, 0).unwrap(), CLOCK_IN_METADATA);
    l.tick().detach(id).unwrap();
}
