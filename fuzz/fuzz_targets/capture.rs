//! The capture reader (pcap, pcapng, snoop) over any bytes: it ends, with frames no longer
//! than their length on the wire, or an error.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let Ok(capture) = fault_user::capture::Capture::from_bytes(Path::new("fuzz"), bytes.to_vec())
    else {
        return;
    };
    // Every record takes at least its header's bytes, so the reader ends well within this.
    let mut records = 0;
    for frame in capture {
        records += 1;
        assert!(records <= bytes.len(), "the reader does not end");
        let Ok(frame) = frame else { break };
        assert!(frame.data.len() <= frame.wire_len as usize, "{frame:?}");
    }
});
