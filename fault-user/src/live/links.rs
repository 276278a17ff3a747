//! Interfaces coming and going: the kernel's link notifications (rtnetlink, the
//! `RTMGRP_LINK` group) of the daemon's network namespace, so a watched interface that is
//! deleted is said to be gone, and one of the same name made later is watched again.

use std::{
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use tokio::io::unix::AsyncFd;

/// What a link notification tells: which interface changed (created, changed, deleted,
/// renamed: the daemon looks at the interface itself for which).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkChange {
    Link {
        index: u32,
        name: Option<String>,
    },
    /// The socket's buffer overflowed and notifications were lost: look at every
    /// interface.
    Lost,
}

/// The link notifications of this network namespace.
pub struct LinkEvents {
    socket: AsyncFd<OwnedFd>,
    /// One receive; the kernel sends a notification per datagram, each well under this.
    buf: Box<[u8; 32 * 1024]>,
}

impl LinkEvents {
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain syscall; the descriptor is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: all-zero is a valid sockaddr_nl.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = libc::RTMGRP_LINK as u32;
        // SAFETY: `addr` is a sockaddr_nl of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is an open descriptor the AsyncFd owns, so it stays open and the same
        // for the AsyncFd's whole life.
        let socket = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(LinkEvents {
            socket,
            buf: Box::new([0; 32 * 1024]),
        })
    }

    /// The changes of the next notification datagram (none for one of no interest).
    pub async fn next(&mut self) -> io::Result<Vec<LinkChange>> {
        loop {
            let mut ready = self.socket.readable().await?;
            let buf = &mut self.buf;
            match ready.try_io(|s| {
                // SAFETY: `buf` is a writable buffer of the length passed.
                let n = unsafe { libc::recv(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            }) {
                Ok(Ok(n)) => return Ok(parse(&self.buf[..n])),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(vec![LinkChange::Lost]);
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

const NLMSG_HDR: usize = 16;
const IFINFOMSG: usize = 16;
const IFLA_IFNAME: u16 = 3;

/// The link messages (`RTM_NEWLINK`, `RTM_DELLINK`) of a datagram. Messages of a bridge's
/// ports (family `AF_BRIDGE`) say nothing of the interface itself and are left out.
fn parse(mut buf: &[u8]) -> Vec<LinkChange> {
    let u16_at = |b: &[u8], i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDR {
        let len = u32::from_ne_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
        if len < NLMSG_HDR || len > buf.len() {
            break;
        }
        let kind = u16_at(buf, 4);
        let msg = &buf[NLMSG_HDR..len];
        if matches!(kind, libc::RTM_NEWLINK | libc::RTM_DELLINK)
            && msg.len() >= IFINFOMSG
            && i32::from(msg[0]) == libc::AF_UNSPEC
        {
            let index = u32::from_ne_bytes(msg[4..8].try_into().expect("4 bytes"));
            let mut name = None;
            let mut attrs = &msg[IFINFOMSG..];
            while attrs.len() >= 4 {
                let alen = usize::from(u16_at(attrs, 0));
                if alen < 4 || alen > attrs.len() {
                    break;
                }
                if u16_at(attrs, 2) == IFLA_IFNAME {
                    let value = &attrs[4..alen];
                    let value = value.split(|&b| b == 0).next().unwrap_or(value);
                    name = Some(String::from_utf8_lossy(value).into_owned());
                }
                attrs = &attrs[align4(alen).min(attrs.len())..];
            }
            out.push(LinkChange::Link { index, name });
        }
        buf = &buf[align4(len).min(buf.len())..];
    }
    out
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, family: u8, index: u32, name: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        let value_len = name.len() + 1;
        attr.extend(((4 + value_len) as u16).to_ne_bytes());
        attr.extend(IFLA_IFNAME.to_ne_bytes());
        attr.extend(name.as_bytes());
        attr.push(0);
        attr.resize(align4(attr.len()), 0);
        // IFLA_MTU after the name: attributes past the one read are skipped whole.
        attr.extend(8u16.to_ne_bytes());
        attr.extend(4u16.to_ne_bytes());
        attr.extend(1500u32.to_ne_bytes());
        let len = NLMSG_HDR + IFINFOMSG + attr.len();
        let mut m = Vec::new();
        m.extend((len as u32).to_ne_bytes());
        m.extend(kind.to_ne_bytes());
        m.extend([0; 10]);
        m.extend([family, 0, 1, 0]);
        m.extend(index.to_ne_bytes());
        m.extend([0; 8]);
        m.extend(attr);
        m
    }

    #[test]
    fn link_messages_give_index_and_name() {
        let mut dgram = message(libc::RTM_DELLINK, 0, 7, "veth0");
        dgram.extend(message(libc::RTM_NEWLINK, libc::AF_BRIDGE as u8, 8, "br0"));
        dgram.extend(message(libc::RTM_NEWLINK, 0, 9, "eth1.100"));
        assert_eq!(
            parse(&dgram),
            vec![
                LinkChange::Link {
                    index: 7,
                    name: Some("veth0".into())
                },
                LinkChange::Link {
                    index: 9,
                    name: Some("eth1.100".into())
                },
            ]
        );
        // A message cut short ends the walk, never a panic.
        for end in 0..dgram.len() {
            let _ = parse(&dgram[..end]);
        }
    }
}
