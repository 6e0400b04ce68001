//! Deterministic test pictures, encoded with the `image` crate's own encoders.

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{Delay, Frame, Rgb, RgbImage, Rgba, RgbaImage};

/// Photo-like pixels: smooth gradients plus some texture, so encoders produce realistic sizes.
pub fn rgb_pixels(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width) as u8,
            (y * 255 / height) as u8,
            96 + ((x ^ y) & 0x3f) as u8,
        ])
    })
}

/// Like [`rgb_pixels`], with alpha fading from opaque (left) to transparent (right).
pub fn rgba_pixels(width: u32, height: u32) -> RgbaImage {
    let rgb = rgb_pixels(width, height);
    RgbaImage::from_fn(width, height, |x, y| {
        let Rgb([r, g, b]) = *rgb.get_pixel(x, y);
        Rgba([r, g, b, 255 - (x * 255 / width) as u8])
    })
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    rgb_pixels(width, height)
        .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 85))
        .unwrap();
    out
}

pub fn png_rgb(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    rgb_pixels(width, height)
        .write_with_encoder(PngEncoder::new(&mut out))
        .unwrap();
    out
}

pub fn png_rgba(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    rgba_pixels(width, height)
        .write_with_encoder(PngEncoder::new(&mut out))
        .unwrap();
    out
}

/// Lossless (VP8L) WebP with alpha: the `image` crate has no lossy WebP encoder.
pub fn webp_rgba(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    rgba_pixels(width, height)
        .write_with_encoder(WebPEncoder::new_lossless(&mut out))
        .unwrap();
    out
}

/// A two-frame animated GIF; the second frame is the first one inverted.
pub fn gif_animated(width: u32, height: u32) -> Vec<u8> {
    let first = RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x * 255 / width) as u8, (y * 255 / height) as u8, 128, 255])
    });
    let mut second = first.clone();
    image::imageops::invert(&mut second);
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        let delay = Delay::from_numer_denom_ms(100, 1);
        let frames = [first, second].map(|buffer| Frame::from_parts(buffer, 0, 0, delay));
        encoder.encode_frames(frames).unwrap();
    }
    out
}

/// Fixed-seed xorshift64: deterministic "random" bytes and choices without a `rand` dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
