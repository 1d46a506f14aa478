//! A TCP proxy in front of a real gRPC server for tests: it counts the calls (HTTP/2 streams)
//! clients open through it, notes when each was reset, and can black-hole all traffic, as a
//! frozen server or a network partition would.
//!
//! It reads frame headers only (client to server: the 24-byte preface, then frames of a 9-byte
//! header: 3 bytes of length, type, flags, 4 bytes of stream id), never the compressed header
//! block, so it sees that a call was made, not which method: a test routes only the traffic
//! it counts through it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::Result;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The client connection preface (`PRI * HTTP/2.0...`) that precedes the first frame.
const PREFACE_LEN: usize = 24;
/// Length (3), type (1), flags (1), stream id (4).
const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;

/// One call a client made through the proxy: an HTTP/2 stream it opened.
#[derive(Clone, Copy, Debug)]
pub struct ProxiedCall {
    /// When its first HEADERS frame reached the proxy.
    pub opened: Instant,
    /// Whether that frame went on to the server (false: swallowed by the black hole).
    pub forwarded: bool,
    /// When the client reset the stream (RST_STREAM), if it has: it gave up on the call (its
    /// timeout, or its own caller went away).
    pub reset: Option<Instant>,
    connection: u64,
    stream: u32,
}

/// A proxy on 127.0.0.1:0 to one upstream address; dropping it closes every connection.
pub struct GrpcProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The accept loop; it owns every connection's tasks, so aborting it (on drop) ends them.
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    black_hole: AtomicBool,
    connections: AtomicU64,
    calls: Mutex<Vec<ProxiedCall>>,
}

impl GrpcProxy {
    /// Listens on an ephemeral port and forwards each connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Self> {
        let listener = crate::ephemeral_listener().await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, upstream, shared.clone()));
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://` and [`Self::addr`], for a client or a service's settings.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// While on, connections are still accepted and read, but no byte goes on in either
    /// direction: the client sees a server that never answers. Bytes swallowed are lost, so a
    /// connection that carried traffic meanwhile is broken once the black hole ends.
    pub fn black_hole(&self, on: bool) {
        self.shared.black_hole.store(on, Ordering::SeqCst);
    }

    /// Every call opened so far, in the order they reached the proxy.
    pub fn calls(&self) -> Vec<ProxiedCall> {
        self.shared.calls().clone()
    }

    /// How many calls have reached the server through the proxy.
    pub fn forwarded_calls(&self) -> usize {
        self.shared.calls().iter().filter(|c| c.forwarded).count()
    }
}

impl Drop for GrpcProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Shared {
    fn calls(&self) -> std::sync::MutexGuard<'_, Vec<ProxiedCall>> {
        // A panicking test thread cannot leave the list half-written: pushes are single steps.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let id = shared.connections.fetch_add(1, Ordering::Relaxed);
        connections.spawn(relay(client, upstream, id, shared.clone()));
        // Reap finished connections so the set does not grow with them.
        while connections.try_join_next().is_some() {}
    }
}

/// Pumps one connection both ways until either side closes.
async fn relay(client: TcpStream, upstream: SocketAddr, connection: u64, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return; // the client sees its connection closed, as with the server down
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let scanner = Some(FrameScanner::new(connection));
    let up = pump(client_read, server_write, &shared, scanner);
    let down = pump(server_read, client_write, &shared, None);
    let _ = tokio::join!(up, down);
}

/// Copies `from` to `to` (dropping what the black hole takes), reporting the frames `scanner`
/// finds; shuts `to` down when `from` ends.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: &Shared,
    mut scanner: Option<FrameScanner>,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 16 << 10];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        let forwarded = !shared.black_hole.load(Ordering::SeqCst);
        if let Some(scanner) = &mut scanner {
            let connection = scanner.connection;
            scanner.scan(&buffer[..n], |kind, stream| {
                record(shared, connection, kind, stream, forwarded);
            });
        }
        if forwarded {
            to.write_all(&buffer[..n]).await?;
        }
    }
}

/// Records a new stream (a HEADERS frame on a stream id not seen yet; ids only grow) or a reset.
fn record(shared: &Shared, connection: u64, kind: u8, stream: u32, forwarded: bool) {
    let mut calls = shared.calls();
    let known = calls
        .iter_mut()
        .rev()
        .find(|c| c.connection == connection && c.stream == stream);
    match (kind, known) {
        (HEADERS, None) => calls.push(ProxiedCall {
            opened: Instant::now(),
            forwarded,
            reset: None,
            connection,
            stream,
        }),
        (RST_STREAM, Some(call)) => call.reset = call.reset.or(Some(Instant::now())),
        _ => {}
    }
}

/// Finds frame headers in a byte stream that arrives in pieces of any size.
struct FrameScanner {
    connection: u64,
    preface_left: usize,
    header: [u8; FRAME_HEADER_LEN],
    have: usize,
    payload_left: usize,
}

impl FrameScanner {
    fn new(connection: u64) -> Self {
        Self {
            connection,
            preface_left: PREFACE_LEN,
            header: [0; FRAME_HEADER_LEN],
            have: 0,
            payload_left: 0,
        }
    }

    /// Calls `frame(type, stream id)` for each frame header completed by `bytes`.
    fn scan(&mut self, mut bytes: &[u8], mut frame: impl FnMut(u8, u32)) {
        while !bytes.is_empty() {
            let skip = self.preface_left.max(self.payload_left);
            if skip > 0 {
                let n = skip.min(bytes.len());
                if self.preface_left > 0 {
                    self.preface_left -= n;
                } else {
                    self.payload_left -= n;
                }
                bytes = &bytes[n..];
                continue;
            }
            let n = (FRAME_HEADER_LEN - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == FRAME_HEADER_LEN {
                self.have = 0;
                let h = self.header;
                self.payload_left =
                    usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
                frame(h[3], stream);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, stream: u32, payload: usize) -> Vec<u8> {
        let len = (payload as u32).to_be_bytes();
        let mut bytes = vec![len[1], len[2], len[3], kind, 0];
        bytes.extend(stream.to_be_bytes());
        bytes.extend(vec![0xAB; payload]);
        bytes
    }

    #[test]
    fn frames_are_found_however_the_bytes_are_split() {
        let mut wire = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        wire.extend(frame(0x4, 0, 18)); // SETTINGS
        wire.extend(frame(HEADERS, 1, 40));
        wire.extend(frame(0x0, 1, 300)); // DATA
        wire.extend(frame(RST_STREAM, 1, 4));
        wire.extend(frame(HEADERS, 3, 0));
        let want = vec![
            (0x4, 0),
            (HEADERS, 1),
            (0x0, 1),
            (RST_STREAM, 1),
            (HEADERS, 3),
        ];
        for piece in [1, 2, 7, 9, 24, 1000] {
            let mut scanner = FrameScanner::new(0);
            let mut seen = Vec::new();
            for chunk in wire.chunks(piece) {
                scanner.scan(chunk, |kind, stream| seen.push((kind, stream)));
            }
            assert_eq!(seen, want, "pieces of {piece}");
        }
    }
}
