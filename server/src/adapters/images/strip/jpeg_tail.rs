//! The bytes after a JPEG's first SOS header: entropy-coded data, and for progressive images
//! more table and scan segments, then EOI, then possibly anything (MPF secondary images carry
//! their own EXIF, with GPS; some tools append whole files).

use img_parts::jpeg::markers;

use super::jpeg::keeps_segment;

/// Returns the tail up to and including the primary image's EOI, without metadata segments
/// between scans, and whether anything was removed.
///
/// A frame header or SOI where only scans may follow also ends the primary image (an EOI is
/// written there). Without either (a truncated upload) everything up to the end is kept,
/// minus metadata segments. A segment whose length runs past the end stops interpretation; the rest is kept
/// verbatim rather than guessed at (the decoder has already accepted these bytes).
pub(crate) fn clean_tail(tail: &[u8]) -> (Vec<u8>, bool) {
    let mut kept = Vec::with_capacity(tail.len());
    let mut removed = false;
    let mut copy_from = 0; // start of the run not yet copied into `kept`
    let mut pos = 0;
    while let Some((at, marker)) = next_marker(tail, pos) {
        if marker == markers::EOI {
            let end = at + 2;
            kept.extend_from_slice(tail.get(copy_from..end).unwrap_or_default());
            return (kept, removed || end < tail.len());
        }
        if starts_another_image(marker) {
            // Cannot follow a scan of the same image: whatever it is (a second JPEG glued on
            // without EOI, or damage), it is not part of the picture. Close the primary image
            // here, as tolerant decoders may otherwise trip over it once metadata in between
            // is gone.
            kept.extend_from_slice(tail.get(copy_from..at).unwrap_or_default());
            kept.extend_from_slice(&[markers::P, markers::EOI]);
            return (kept, true);
        }
        if is_standalone(marker) {
            pos = at + 2;
            continue;
        }
        let Some(end) = segment_end(tail, at) else {
            break;
        };
        let contents = tail.get(at + 4..end).unwrap_or_default();
        if !keeps_segment(marker, contents) {
            kept.extend_from_slice(tail.get(copy_from..at).unwrap_or_default());
            copy_from = end;
            removed = true;
        }
        pos = end;
    }
    kept.extend_from_slice(tail.get(copy_from..).unwrap_or_default());
    (kept, removed)
}

/// Finds the next real marker at or after `from`: its offset and marker byte.
///
/// Entropy-coded data escapes a literal 0xFF as `FF 00` and interleaves `RSTn` markers; runs
/// of `FF` are fill bytes. Anything else after 0xFF is a marker.
fn next_marker(data: &[u8], from: usize) -> Option<(usize, u8)> {
    let mut search = from;
    loop {
        let at = search + data.get(search..)?.iter().position(|&b| b == markers::P)?;
        match *data.get(at + 1)? {
            0x00 | markers::RST0..=markers::RST7 | markers::P => search = at + 1,
            marker => return Some((at, marker)),
        }
    }
}

/// Frame headers (SOFn) and SOI: legal only before the first scan of an image.
fn starts_another_image(marker: u8) -> bool {
    let frame_header = matches!(marker, markers::SOF0..=markers::SOF15)
        && !matches!(marker, markers::DHT | markers::JPG | markers::DAC);
    frame_header || marker == markers::SOI
}

/// Markers with no length field, other than RSTn (skipped with the entropy data) and
/// SOI/EOI (handled by the caller): TEM.
fn is_standalone(marker: u8) -> bool {
    marker == 0x01
}

/// Offset just past the segment whose marker is at `at`, if its length field is sane.
fn segment_end(data: &[u8], at: usize) -> Option<usize> {
    let length = data.get(at + 2..at + 4)?;
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    let end = at + 2 + length;
    (length >= 2 && end <= data.len()).then_some(end)
}
