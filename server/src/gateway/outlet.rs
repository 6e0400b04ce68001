//! A transport's way to take frames at once, from whichever task has them.
//!
//! Without one, a frame for a connection is queued and the connection's task is woken to write
//! it: a wake-up, a second touch of the connection's state and a batch built, for what is
//! usually one frame (or one batch's run of a conversation) to a socket with room for it. A
//! transport that offers an [`Outlet`] lets the fan-out write such frames itself with one
//! non-blocking write; anything the socket does not take at once goes the queued way. Measured in docs/benchmarks.md ("Results — 2026-12-03,
//! 19:00–21:00"): 15–20 % less server CPU below saturation.

use super::protocol::Frame;
use std::fmt::Debug;

/// What an attempt to write frames at once did (to all of them: a run of frames is taken whole,
/// begun, or not at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// The frame was written.
    Written,
    /// The frame was begun: the transport holds the rest and writes it before anything else,
    /// once the connection's task is woken to do so.
    Begun,
    /// Nothing was written (the socket is full, or the transport's task has bytes of its own to
    /// finish first): queue the frame.
    NotNow,
}

/// A socket that frames can be handed to without waiting.
pub trait Outlet: Send + Sync + Debug {
    /// Writes `frames`, in order, as far as the socket takes them without blocking.
    fn try_write(&self, frames: &[Frame]) -> Direct;
}
