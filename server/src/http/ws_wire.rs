//! A WebSocket's TCP socket, shared by the connection's task (which reads, and writes through
//! tungstenite and in batches) and whoever hands the connection a frame while nothing waits
//! before it (the fan-out, a reply): that one writes the frame itself, with one non-blocking
//! write, instead of waking the task (`gateway::outlet`).
//!
//! **Invariant**: bytes of two frames never interleave. Every write takes the wire's lock; what
//! the socket did not take of a frame written through is finished before the task writes
//! anything else; and nothing is written through while the task has bytes of its own
//! half-written. (Frames the task has taken but not yet written are the connection's to guard:
//! it writes nothing through meanwhile, `Conn::take`.)

use super::ws_write::{MAX_HEADER, text_header};
use crate::gateway::outlet::{Direct, Outlet};
use crate::gateway::protocol::Frame;
use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The socket and what is owed on it.
#[derive(Debug)]
pub(super) struct Wire {
    tcp: TcpStream,
    owed: Mutex<Owed>,
}

#[derive(Debug, Default)]
struct Owed {
    /// What the socket did not take of frames written through: headers and payloads, in order.
    rest: VecDeque<Bytes>,
    /// The task's last write was not taken whole; tungstenite or the batch will go on with it.
    task: bool,
}

impl Wire {
    /// Shares `tcp` between the connection's task and the frames written through.
    pub fn new(tcp: TcpStream) -> Arc<Self> {
        Arc::new(Self {
            tcp,
            owed: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Owed> {
        // Plain data: a panic elsewhere cannot leave it half-changed.
        self.owed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes what is owed of frames written through; ready once nothing is.
    fn finish_rest(&self, owed: &mut Owed, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !owed.rest.is_empty() {
            let slices: Vec<IoSlice<'_>> = owed.rest.iter().map(|b| IoSlice::new(b)).collect();
            match self.tcp.try_write_vectored(&slices) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(written) => advance(&mut owed.rest, written),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// One write of the task's (`len` bytes offered), after what is owed.
    fn poll_task_write(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        write: impl Fn(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let mut owed = self.lock();
        ready!(self.finish_rest(&mut owed, cx))?;
        loop {
            match write(&self.tcp) {
                Ok(written) => {
                    owed.task = written < len;
                    return Poll::Ready(Ok(written));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    owed.task = true;
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Frames handed to the socket per system call when a run is written through.
const FRAMES_PER_WRITE: usize = 16;

impl Outlet for Wire {
    fn try_write(&self, frames: &[Frame]) -> Direct {
        let mut owed = self.lock();
        if owed.task || !owed.rest.is_empty() {
            return Direct::NotNow;
        }
        for (i, run) in frames.chunks(FRAMES_PER_WRITE).enumerate() {
            let mut headers = [[0_u8; MAX_HEADER]; FRAMES_PER_WRITE];
            let mut slices = [IoSlice::new(&[]); 2 * FRAMES_PER_WRITE];
            let mut len = 0;
            for ((frame, header), pair) in run.iter().zip(&mut headers).zip(slices.chunks_mut(2)) {
                let header = text_header(header, frame.bytes().len());
                len += header.len() + frame.bytes().len();
                pair[0] = IoSlice::new(header);
                pair[1] = IoSlice::new(frame.bytes());
            }
            let written = match self.tcp.try_write_vectored(&slices[..2 * run.len()]) {
                Ok(written) if written == len => continue,
                Ok(written) => written,
                // Full, or failing: the task's own write finds out which.
                Err(_) => 0,
            };
            if i == 0 && written == 0 {
                return Direct::NotNow;
            }
            owed.rest = frames[i * FRAMES_PER_WRITE..]
                .iter()
                .flat_map(|frame| {
                    let mut header = [0_u8; MAX_HEADER];
                    let header =
                        Bytes::copy_from_slice(text_header(&mut header, frame.bytes().len()));
                    [header, frame.bytes().clone()]
                })
                .collect();
            advance(&mut owed.rest, written);
            return Direct::Begun;
        }
        Direct::Written
    }
}

/// Drops `written` bytes from the front of `rest`.
fn advance(rest: &mut VecDeque<Bytes>, mut written: usize) {
    while written > 0 {
        let Some(front) = rest.front_mut() else {
            return;
        };
        let step = written.min(front.len());
        front.advance(step);
        written -= step;
        if front.is_empty() {
            rest.pop_front();
        }
    }
}

/// The task's side of the wire, for tungstenite.
#[derive(Debug)]
pub(super) struct WireStream(pub Arc<Wire>);

impl AsyncRead for WireStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let tcp = &self.0.tcp;
        loop {
            ready!(tcp.poll_read_ready(cx))?;
            match tcp.try_read(buf.initialize_unfilled()) {
                Ok(read) => {
                    buf.advance(read);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for WireStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0
            .poll_task_write(cx, buf.len(), |tcp| tcp.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.0
            .poll_task_write(cx, len, |tcp| tcp.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut owed = self.0.lock();
        self.0.finish_rest(&mut owed, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        // `&TcpStream` has no shutdown of its own; the socket's is the same call.
        Poll::Ready(socket2::SockRef::from(&self.0.tcp).shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

    async fn pair() -> (Arc<Wire>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (Wire::new(accepted.unwrap().0), client.unwrap())
    }

    fn frame(text: &str) -> Frame {
        Frame::from_bytes(Bytes::from(text.to_owned()))
    }

    #[tokio::test]
    async fn frames_written_through_reach_the_client_whole_and_in_order() {
        let (wire, client) = pair().await;
        // Headers of one byte's length, of two, and of eight.
        let texts = ["{}".to_owned(), "y".repeat(126), "z".repeat(70_000)];
        for text in &texts {
            assert_ne!(wire.try_write(&[frame(text)]), Direct::NotNow);
        }
        let mut stream = WireStream(Arc::clone(&wire));
        futures::future::poll_fn(|cx| Pin::new(&mut stream).poll_flush(cx))
            .await
            .unwrap();
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        for text in &texts {
            let Some(Ok(Message::Text(read))) = client.next().await else {
                panic!("no text frame");
            };
            assert_eq!(read.as_str(), text);
        }
    }

    /// A run longer than one write's worth, with a frame larger than the socket's buffers in
    /// it: what the socket does not take at once is owed, and the client reads every frame.
    #[tokio::test]
    async fn a_run_of_frames_written_through_arrives_whole_and_in_order() {
        let (wire, client) = pair().await;
        let texts: Vec<String> = (0..40)
            .map(|i| match i {
                20 => "m".repeat(16 << 20),
                i => format!("{{\"n\":{i}}}"),
            })
            .collect();
        let frames: Vec<Frame> = texts.iter().map(|t| frame(t)).collect();
        assert_ne!(wire.try_write(&frames), Direct::NotNow);
        let reader = tokio::spawn(async move {
            let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            let mut read = Vec::new();
            while read.len() < 40 {
                let Some(Ok(Message::Text(text))) = client.next().await else {
                    panic!("no text frame");
                };
                read.push(text.as_str().to_owned());
            }
            read
        });
        let mut stream = WireStream(Arc::clone(&wire));
        futures::future::poll_fn(|cx| Pin::new(&mut stream).poll_flush(cx))
            .await
            .unwrap();
        assert_eq!(reader.await.unwrap(), texts);
    }

    /// A frame the socket takes only part of is finished before the task's next write, and
    /// nothing else is written through meanwhile.
    #[tokio::test]
    async fn a_frame_begun_is_finished_before_anything_else() {
        let (wire, mut client) = pair().await;
        let big = "b".repeat(64 << 20);
        // Far more than the socket's buffers hold while the client reads nothing.
        assert_eq!(wire.try_write(&[frame(&big)]), Direct::Begun);
        assert_eq!(wire.try_write(&[frame("{}")]), Direct::NotNow);
        let writer = tokio::spawn({
            let wire = Arc::clone(&wire);
            async move {
                let mut stream = WireStream(wire);
                tokio::io::AsyncWriteExt::write_all(&mut stream, b"\x81\x02ok")
                    .await
                    .unwrap();
            }
        });
        let mut read = Vec::new();
        let expected = 10 + big.len() + 4;
        let mut chunk = vec![0_u8; 1 << 16];
        while read.len() < expected {
            let n = client.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection ended early");
            read.extend_from_slice(&chunk[..n]);
        }
        writer.await.unwrap();
        // The frame is larger than tungstenite reads by default.
        let unbounded = WebSocketConfig::default()
            .max_frame_size(None)
            .max_message_size(None);
        let mut client =
            WebSocketStream::from_partially_read(client, read, Role::Client, Some(unbounded)).await;
        let Some(Ok(Message::Text(first))) = client.next().await else {
            panic!("no first frame");
        };
        assert_eq!(first.len(), big.len());
        let Some(Ok(Message::Text(second))) = client.next().await else {
            panic!("no second frame");
        };
        assert_eq!(second.as_str(), "ok");
    }
}
