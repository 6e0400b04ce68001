//! Server frames written around tungstenite: each text frame is its header and the payload
//! every recipient shares, handed to the socket in one vectored write per batch.
//!
//! Why not through tungstenite: it copies each frame into a per-connection buffer that keeps
//! its largest capacity forever (see `ws_handshake.rs`), and the copy is made once per
//! recipient. Here the headers of a batch share one small allocation, the payloads are not
//! copied, and nothing outlives the write.
//!
//! **Invariant**: tungstenite's own frames (a pong, the close) never interleave with these:
//! its buffer is flushed before a batch goes out, and a batch is written whole before the
//! connection reads or sends anything else.

use bytes::{Bytes, BytesMut};
use bytes_utils::SegmentedBuf;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// The longest header of an unmasked frame: 2 bytes and a 64-bit length.
pub(super) const MAX_HEADER: usize = 10;

/// Formats the header of an unmasked text frame of `len` bytes into `buf`.
pub(super) fn text_header(buf: &mut [u8; MAX_HEADER], len: usize) -> &[u8] {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // Ten bytes hold any header of an unmasked frame.
    let _ = header.format(len as u64, &mut cursor);
    let end = cursor.position() as usize;
    &buf[..end]
}

/// Text frames ready to be written: header, payload, header, payload…
#[derive(Debug)]
pub(super) struct TextFrames {
    parts: SegmentedBuf<Bytes>,
    headers: BytesMut,
}

impl TextFrames {
    /// Room for `frames` frames' headers in one allocation.
    pub fn with_capacity(frames: usize) -> Self {
        Self {
            parts: SegmentedBuf::new(),
            headers: BytesMut::with_capacity(frames * MAX_HEADER),
        }
    }

    /// Appends a text frame whose payload is `text` (UTF-8 JSON: the caller's frames are
    /// serialised by serde, so never anything else).
    pub fn push(&mut self, text: Bytes) {
        let mut header = [0; MAX_HEADER];
        self.headers
            .extend_from_slice(text_header(&mut header, text.len()));
        self.parts.push(self.headers.split().freeze());
        self.parts.push(text);
    }

    /// Writes every frame (vectored where the socket supports it).
    pub async fn write_to(mut self, socket: &mut (impl AsyncWrite + Unpin)) -> std::io::Result<()> {
        socket.write_all_buf(&mut self.parts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    /// What a client reads from frames written here, by tungstenite's own parser.
    #[tokio::test]
    async fn a_client_reads_each_frame_whole_whatever_its_length() {
        let (mut server, client) = tokio::io::duplex(1 << 20);
        let texts = [
            "{}".to_owned(),
            "x".repeat(125),
            "y".repeat(126),
            "z".repeat(70_000),
        ];
        let mut frames = TextFrames::with_capacity(1);
        for text in &texts {
            frames.push(Bytes::from(text.clone()));
        }
        frames.write_to(&mut server).await.unwrap();
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        for text in &texts {
            let Some(Ok(Message::Text(read))) = client.next().await else {
                panic!("no text frame");
            };
            assert_eq!(read.as_str(), text);
        }
    }
}
