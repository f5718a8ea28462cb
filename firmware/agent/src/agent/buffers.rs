//! The agent's large parts, kept apart so that a board can keep them in a `static` of
//! its own and build the agent without moving them through the stack.
//!
//! A value the size of the agent (12 KB) passes through the stack several times while it
//! is built and returned: that took 33 KiB of start-up stack on a 20 KiB part. A board
//! instead
//!
//! 1. writes an [`AgentBuffers`] (8 KB) into a static, in a function of its own that is
//!    not inlined (its frame, about the size of the buffers' temporary, is gone before
//!    the agent is built);
//! 2. builds the rest of the agent (4.5 KB) straight into another static with
//!    [`Agent::init_in`](super::Agent::init_in), handing it a `&'static mut` to the
//!    buffers.
//!
//! A host keeps the buffers inside the agent ([`InlineBuffers`], what
//! [`Agent::new`](super::Agent::new) does) and may move the agent freely.

use core::ops::{Deref, DerefMut};

use relais_core::link::frame::FrameDecoder;
use relais_core::link::msg::MAX_FRAME;

use super::gate::RecentSends;
use super::jobs::Jobs;
use super::{AgentInbound, RECENT_SENDS, REPLY_QUEUE};

/// Job slots, the host link's frame buffers, the inbound side and the log of recent
/// sends: about 8 KB of the agent with four slots (see the
/// [module docs](super#memory)).
///
/// ```
/// use core::mem::MaybeUninit;
/// use relais_agent::agent::AgentBuffers;
///
/// // Not inlined: the temporary of `new` lives in this frame only. A board takes
/// // `place` from a static (e.g. `cortex_m::singleton!`); this example leaks a box.
/// #[inline(never)]
/// fn buffers(place: &'static mut MaybeUninit<AgentBuffers<2>>) -> &'static mut AgentBuffers<2> {
///     place.write(AgentBuffers::new())
/// }
///
/// let buffers = buffers(Box::leak(Box::new(MaybeUninit::uninit())));
/// assert_eq!(buffers.free_slots(), 2);
/// ```
#[derive(Debug)]
pub struct AgentBuffers<const SLOTS: usize = 4> {
    /// Frames from the host being reassembled.
    pub(super) decoder: FrameDecoder<MAX_FRAME>,
    /// One encoded frame for the host, terminating zero included.
    pub(super) tx: [u8; MAX_FRAME + 1],
    pub(super) jobs: Jobs<SLOTS, REPLY_QUEUE>,
    pub(super) inbound: AgentInbound,
    pub(super) recent: RecentSends<RECENT_SENDS>,
}

impl<const SLOTS: usize> AgentBuffers<SLOTS> {
    /// Empty buffers: no job, no frame, nothing in reassembly.
    pub fn new() -> Self {
        AgentBuffers {
            decoder: FrameDecoder::new(),
            tx: [0; MAX_FRAME + 1],
            jobs: Jobs::new(),
            inbound: AgentInbound::new(),
            recent: RecentSends::new(),
        }
    }

    /// Job slots not taken.
    pub fn free_slots(&self) -> usize {
        self.jobs.free_slots()
    }

    /// Forgets everything, as [`AgentBuffers::new`] made them (a new agent on buffers
    /// an earlier one used starts empty).
    pub(super) fn clear(&mut self) {
        self.decoder.clear();
        self.jobs.clear();
        self.inbound.clear();
        self.recent.clear();
    }
}

impl<const SLOTS: usize> Default for AgentBuffers<SLOTS> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`AgentBuffers`] kept inside the agent: what [`Agent::new`](super::Agent::new)
/// uses, for hosts, where the agent may be moved freely.
#[derive(Debug, Default)]
pub struct InlineBuffers<const SLOTS: usize = 4>(AgentBuffers<SLOTS>);

impl<const SLOTS: usize> InlineBuffers<SLOTS> {
    /// Empty buffers.
    pub fn new() -> Self {
        InlineBuffers(AgentBuffers::new())
    }
}

impl<const SLOTS: usize> Deref for InlineBuffers<SLOTS> {
    type Target = AgentBuffers<SLOTS>;

    fn deref(&self) -> &AgentBuffers<SLOTS> {
        &self.0
    }
}

impl<const SLOTS: usize> DerefMut for InlineBuffers<SLOTS> {
    fn deref_mut(&mut self) -> &mut AgentBuffers<SLOTS> {
        &mut self.0
    }
}
