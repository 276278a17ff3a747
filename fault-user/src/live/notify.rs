//! sd_notify(3) without libsystemd: under `Type=notify` systemd passes a datagram socket in
//! `$NOTIFY_SOCKET` and waits for `READY=1` before it calls the unit started, so units
//! ordered after faultd (and `systemctl start`) wait until it is attached and serving.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (`READY=1`, `STOPPING=1`) to systemd; nothing when faultd was not started
/// by it. A failure is logged, not fatal: faultd runs either way.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|sock| {
        let bytes = path.as_encoded_bytes();
        // A leading '@' names a socket in the abstract namespace.
        match bytes.strip_prefix(b"@") {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                sock.send_to_addr(state.as_bytes(), &addr)
            }
            None => sock.send_to(state.as_bytes(), &path),
        }
    });
    if let Err(e) = sent {
        log::warn!(
            "telling systemd {state} through NOTIFY_SOCKET={}: {e}",
            path.display()
        );
    }
}
