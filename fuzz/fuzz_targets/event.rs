//! The ring buffer's record decoder, which every reader of the ring and the user engine
//! share, over any bytes; each event it gives is rendered as faultd prints it.
#![no_main]

libfuzzer_sys::fuzz_target!(|record: &[u8]| {
    fault_common::event::decode(record, |e| {
        let _ = fault_user::render::event_json(&e);
        let _ = fault_user::render::event_text(&e);
    });
});
