//! Fuzz-style corpus: truncations, byte flips, mislabelled and garbage inputs must produce
//! `Ok` or `Err`, never a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::fixtures::{self, XorShift};
use super::metadata_fixtures::{jpeg_with_metadata, png_with_metadata, webp_with_metadata};
use crate::adapters::images::{ImageFormat, ImageLimits, process};

/// Small limits keep a mutated header that claims a big picture from decoding for seconds.
const LIMITS: ImageLimits = ImageLimits {
    max_pixels: 1_000_000,
    max_alloc_bytes: 64 << 20,
    max_dimension: 4096,
};
const FLIPPED_COPIES_PER_SAMPLE: usize = 300;

/// Small samples of every format, with the metadata the strippers parse.
fn samples() -> [(ImageFormat, Vec<u8>); 5] {
    [
        (ImageFormat::Jpeg, jpeg_with_metadata(96, 64, 6)),
        (ImageFormat::Png, png_with_metadata(48, 32, 8)),
        (ImageFormat::Png, fixtures::png_rgb(40, 30)),
        (ImageFormat::Gif, fixtures::gif_animated(40, 30)),
        (ImageFormat::Webp, webp_with_metadata(48, 32, 6)),
    ]
}

/// Runs every case, then reports all the panicking ones at once.
fn assert_never_panics(cases: impl IntoIterator<Item = (String, ImageFormat, Vec<u8>)>) {
    let mut panicked = Vec::new();
    let mut count = 0;
    for (name, format, bytes) in cases {
        count += 1;
        if catch_unwind(AssertUnwindSafe(|| process(&bytes, format, &LIMITS))).is_err() {
            panicked.push(name);
        }
    }
    assert!(count > 0);
    assert!(
        panicked.is_empty(),
        "{} of {count} cases panicked: {panicked:?}",
        panicked.len()
    );
}

#[test]
fn samples_themselves_process() {
    for (format, bytes) in samples() {
        process(&bytes, format, &LIMITS).unwrap();
    }
}

#[test]
fn truncations_never_panic() {
    let cases = samples().into_iter().flat_map(|(format, bytes)| {
        let lengths = (0..64.min(bytes.len())).chain((64..bytes.len()).step_by(97));
        lengths
            .map(|len| {
                (
                    format!("{format:?} cut at {len}"),
                    format,
                    bytes[..len].to_vec(),
                )
            })
            .collect::<Vec<_>>()
    });
    assert_never_panics(cases);
}

#[test]
fn byte_flips_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut cases = Vec::new();
    for (format, bytes) in samples() {
        for copy in 0..FLIPPED_COPIES_PER_SAMPLE {
            let mut mutated = bytes.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(mutated.len());
                // Mostly random values; sometimes the extremes that length fields dread.
                mutated[at] = match rng.below(4) {
                    0 => 0xFF,
                    1 => 0x00,
                    _ => mutated[at] ^ (1 + rng.below(255) as u8),
                };
            }
            cases.push((format!("{format:?} flip copy {copy}"), format, mutated));
        }
    }
    assert_never_panics(cases);
}

#[test]
fn mislabelled_and_garbage_inputs_never_panic() {
    let mut rng = XorShift(42);
    let mut cases = Vec::new();
    for (sample_format, bytes) in samples() {
        for format in ImageFormat::ALL.into_iter().filter(|f| *f != sample_format) {
            cases.push((
                format!("{sample_format:?} as {format:?}"),
                format,
                bytes.clone(),
            ));
        }
    }
    let magics: [&[u8]; 5] = [
        b"",
        b"\xFF\xD8\xFF",
        b"\x89PNG\r\n\x1a\n",
        b"GIF89a",
        b"RIFF\x40\0\0\0WEBPVP8X",
    ];
    for len in [0, 1, 3, 16, 100, 4096] {
        for magic in magics {
            let garbage = [magic, &rng.bytes(len)].concat();
            for format in ImageFormat::ALL {
                let name = format!("{len} garbage bytes after {magic:?} as {format:?}");
                cases.push((name, format, garbage.clone()));
            }
        }
    }
    assert_never_panics(cases);
}

/// The samples as a cargo-fuzz seed corpus (format byte + file, as the fuzz target reads them),
/// written to `IMAGE_FUZZ_SEEDS` when set (`IMAGE_FUZZ_SEEDS=fuzz/corpus/image_pipeline cargo
/// test fuzz_seeds`), else to a temporary folder; each seed must read back as its own format.
#[test]
fn fuzz_seeds_read_back_as_their_format() {
    let temporary = tempfile::tempdir().unwrap();
    let dir = std::env::var("IMAGE_FUZZ_SEEDS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    for (index, (format, bytes)) in samples().into_iter().enumerate() {
        let selector = ImageFormat::ALL.iter().position(|f| *f == format).unwrap() as u8;
        let path = dir.join(format!("seed-{index}-{format:?}"));
        std::fs::write(&path, [&[selector], bytes.as_slice()].concat()).unwrap();
        let seed = std::fs::read(&path).unwrap();
        let (&read, rest) = seed.split_first().unwrap();
        assert_eq!(
            ImageFormat::ALL[usize::from(read) % ImageFormat::ALL.len()],
            format
        );
        assert_eq!(rest, bytes.as_slice());
    }
}
