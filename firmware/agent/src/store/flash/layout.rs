//! Where the flash store keeps each kind of data, and how much of it: checked against the
//! flash geometry once, when the board builds its [`Layout`] (in a `const`, so a layout
//! that cannot hold its capacities does not compile).

use core::marker::PhantomData;
use core::ops::Range;

use embedded_storage::nor_flash::NorFlash;

/// Bytes of sequential-storage's item header (CRC, length, length CRC) before padding.
const ITEM_HEADER: usize = 8;
/// Largest word size sequential-storage supports (STM32H7 flash words are 32 bytes).
pub(super) const MAX_WORD: usize = 32;

/// Suppression entry: a 12-byte key (tag, number and scope) and no value.
pub(super) const SUPPRESSION_ITEM: usize = 12;
/// Job entry: a 9-byte key (tag, job key) and at most [`JOB_ENTRY_MAX`] bytes of postcard.
pub(super) const JOB_ITEM: usize = 9 + JOB_ENTRY_MAX;
/// Postcard bound of a job entry: sequence (5) + count (3) + evicted key (11) + record
/// (state, parts, reference, 11 for the references, report flag, 3 for the delivered
/// bits, reported flag, 10 for the recipient, 5 for the time sent: 34). Checked by the
/// tests against maximal values.
pub(super) const JOB_ENTRY_MAX: usize = 5 + 3 + 11 + 34;
/// Bytes of a kept keyword reply ([`crate::store::PendingReply`], raw): the number's
/// value (8) and digit count (1), then at most [`crate::inbound::MAX_REPLY`] of text.
pub(super) const REPLY_ENTRY_MAX: usize = 9 + crate::inbound::MAX_REPLY;
/// Reply entry: a 9-byte key (tag, job key) and the reply.
pub(super) const REPLY_ITEM: usize = 9 + REPLY_ENTRY_MAX;
/// Largest map value: a kept reply. Values are written from the end of the item buffer,
/// before sequential-storage's working part.
pub(super) const MAP_VALUE: usize = if REPLY_ENTRY_MAX > JOB_ENTRY_MAX {
    REPLY_ENTRY_MAX
} else {
    JOB_ENTRY_MAX
};
/// Meta entry: a 2-byte key (tag, id) and at most 31 bytes of postcard (the suppression
/// state).
pub(super) const META_ITEM: usize = 2 + 31;
/// Postcard bound of an [`relais_core::link::msg::Event`]: an inbound message with a
/// full 20-byte sender and 640-byte text (tag 1, sender 21, text 642, time 10, flag 1).
/// Checked by the tests against maximal values of every variant.
pub const EVENT_MAX: usize = 675;
/// Outbox entry: the event id (varint, at most 5 bytes) and the event.
pub(super) const OUTBOX_ITEM: usize = 5 + EVENT_MAX;
/// The data buffer: the largest item, rounded up to any supported word size.
pub(super) const BUFFER: usize = OUTBOX_ITEM.next_multiple_of(MAX_WORD);

/// Meta entries: boot counter, acknowledged events, in-flight journal, suppression state,
/// event epoch, pacing counters; and up to
/// [`MAX_PENDING_REPLIES`](crate::store::MAX_PENDING_REPLIES) replies ([`REPLY_ITEM`]).
const META_ENTRIES: usize = 6;
/// Blocks [`Layout::packed`] gives the meta area: the journal is written twice per
/// segment sent, so a few spare blocks spread the erases.
const META_BLOCKS: u32 = 4;

/// One of the store's areas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Area {
    /// Boot counter, acknowledged-event floor, in-flight journal, suppression summary.
    Meta,
    /// The opt-outs.
    Suppression,
    /// The job records (idempotency memory).
    Jobs,
    /// The event outbox.
    Outbox,
}

/// How much the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Capacity {
    /// Opt-outs.
    pub suppression: u32,
    /// Job records remembered (finished ones are evicted to make room, open ones never).
    pub jobs: u16,
    /// Events in the outbox, each of any size up to [`EVENT_MAX`].
    pub outbox: u16,
}

/// The flash range (byte offsets, erase-block aligned) of each area.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Areas {
    /// See [`Area::Meta`].
    pub meta: Range<u32>,
    /// See [`Area::Suppression`].
    pub suppression: Range<u32>,
    /// See [`Area::Jobs`].
    pub jobs: Range<u32>,
    /// See [`Area::Outbox`].
    pub outbox: Range<u32>,
}

/// Why a layout does not work on a flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayoutError {
    /// The flash's word is larger than 32 bytes, or its erase block cannot hold the largest
    /// event.
    Geometry,
    /// The area does not start and end on erase-block boundaries.
    NotAligned(Area),
    /// The area has fewer erase blocks than its capacity needs.
    TooSmall {
        /// Which area.
        area: Area,
        /// Blocks it needs at least.
        blocks: u32,
    },
    /// Two areas overlap.
    Overlap,
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LayoutError::Geometry => f.write_str("flash words too large or blocks too small"),
            LayoutError::NotAligned(area) => write!(f, "{area:?} area not block-aligned"),
            LayoutError::TooSmall { area, blocks } => {
                write!(f, "{area:?} area needs at least {blocks} blocks")
            }
            LayoutError::Overlap => f.write_str("store areas overlap"),
        }
    }
}

impl core::error::Error for LayoutError {}

/// Areas and capacities of a [`super::FlashStore`] on a flash of type `F`, checked.
pub struct Layout<F> {
    areas: Areas,
    capacity: Capacity,
    flash: PhantomData<fn() -> F>,
}

impl<F> Clone for Layout<F> {
    fn clone(&self) -> Self {
        Layout {
            areas: self.areas.clone(),
            capacity: self.capacity,
            flash: PhantomData,
        }
    }
}

impl<F> core::fmt::Debug for Layout<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Layout")
            .field("areas", &self.areas)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<F: NorFlash> Layout<F> {
    /// The word the store writes in: sequential-storage uses the larger of the program and
    /// read units.
    pub(super) const WORD: usize = if F::WRITE_SIZE > F::READ_SIZE {
        F::WRITE_SIZE
    } else {
        F::READ_SIZE
    };

    /// Bytes one item with `data` bytes takes in flash (header and padding included).
    pub const fn item_bytes(data: usize) -> usize {
        ITEM_HEADER.next_multiple_of(Self::WORD) + data.next_multiple_of(Self::WORD)
    }

    /// Items of `data` bytes that always fit in one erase block (two words of each block
    /// hold its state).
    const fn per_block(data: usize) -> usize {
        match F::ERASE_SIZE.checked_sub(2 * Self::WORD) {
            Some(room) => room / Self::item_bytes(data),
            None => 0,
        }
    }

    /// Blocks the meta area needs: its [`META_ENTRIES`] and the replies. Items of mixed
    /// sizes fill each block but the last to within one largest item, so the live items
    /// take at most `total / (room - largest + 1)` blocks; plus the two of
    /// [`Layout::blocks`].
    const fn meta_blocks() -> u32 {
        let largest = Self::item_bytes(REPLY_ITEM);
        let total = META_ENTRIES * Self::item_bytes(META_ITEM)
            + crate::store::MAX_PENDING_REPLIES * largest;
        let room = match F::ERASE_SIZE.checked_sub(2 * Self::WORD) {
            Some(room) => room,
            None => return u32::MAX,
        };
        match room.checked_sub(largest) {
            Some(spare) => (total.div_ceil(spare + 1) + 2) as u32,
            None => u32::MAX,
        }
    }

    /// Blocks an area needs for `items` live items of at most `data` bytes: the items, plus
    /// the block sequential-storage keeps erased to move live items into, plus one block
    /// of slack so that a full area still finds room after compacting.
    const fn blocks(items: usize, data: usize) -> u32 {
        let per = Self::per_block(data);
        if per == 0 {
            return u32::MAX;
        }
        (items.div_ceil(per) + 2) as u32
    }

    /// Blocks `area` needs at least for `capacity`.
    pub const fn min_blocks(area: Area, capacity: Capacity) -> u32 {
        match area {
            Area::Meta => Self::meta_blocks(),
            Area::Suppression => Self::blocks(capacity.suppression as usize, SUPPRESSION_ITEM),
            // One more record than the capacity lives for a moment while one is evicted.
            Area::Jobs => Self::blocks(capacity.jobs as usize + 1, JOB_ITEM),
            Area::Outbox => Self::blocks(capacity.outbox as usize, OUTBOX_ITEM),
        }
    }

    /// Checks `areas` against `capacity` and the geometry of `F`.
    pub const fn new(areas: Areas, capacity: Capacity) -> Result<Layout<F>, LayoutError> {
        if Self::WORD > MAX_WORD || Self::per_block(OUTBOX_ITEM) == 0 {
            return Err(LayoutError::Geometry);
        }
        let ranges = [
            (Area::Meta, &areas.meta),
            (Area::Suppression, &areas.suppression),
            (Area::Jobs, &areas.jobs),
            (Area::Outbox, &areas.outbox),
        ];
        let block = F::ERASE_SIZE as u32;
        let mut i = 0;
        while i < ranges.len() {
            let (area, range) = ranges[i];
            if range.start % block != 0 || range.end % block != 0 {
                return Err(LayoutError::NotAligned(area));
            }
            let needed = Self::min_blocks(area, capacity);
            if range.end <= range.start || (range.end - range.start) / block < needed {
                return Err(LayoutError::TooSmall {
                    area,
                    blocks: needed,
                });
            }
            let mut j = 0;
            while j < i {
                let other = ranges[j].1;
                if range.start < other.end && other.start < range.end {
                    return Err(LayoutError::Overlap);
                }
                j += 1;
            }
            i += 1;
        }
        Ok(Layout {
            areas,
            capacity,
            flash: PhantomData,
        })
    }

    /// The areas one after the other from `start` (block-aligned): meta, suppression,
    /// jobs, outbox, each as small as `capacity` allows, except that the jobs area gets
    /// twice the blocks its records fill, plus one (job records are rewritten at every
    /// segment; room to spare means fewer moves and erases), and the meta area four (or
    /// what its items need, when more).
    pub const fn packed(start: u32, capacity: Capacity) -> Result<Layout<F>, LayoutError> {
        if Self::WORD > MAX_WORD || Self::per_block(OUTBOX_ITEM) == 0 {
            return Err(LayoutError::Geometry);
        }
        let block = F::ERASE_SIZE as u32;
        let needed = Self::min_blocks(Area::Meta, capacity);
        let meta = if needed > META_BLOCKS {
            needed
        } else {
            META_BLOCKS
        };
        let suppression = Self::min_blocks(Area::Suppression, capacity);
        // Twice the blocks the records fill, plus the erased block.
        let jobs = (Self::min_blocks(Area::Jobs, capacity) - 2)
            .saturating_mul(2)
            .saturating_add(1);
        let outbox = Self::min_blocks(Area::Outbox, capacity);
        let ends = [meta, suppression, jobs, outbox];
        let mut at = [start; 5];
        let mut i = 0;
        while i < ends.len() {
            at[i + 1] = match ends[i].checked_mul(block) {
                Some(len) => match at[i].checked_add(len) {
                    Some(end) => end,
                    None => return Err(LayoutError::Geometry),
                },
                None => return Err(LayoutError::Geometry),
            };
            i += 1;
        }
        Self::new(
            Areas {
                meta: at[0]..at[1],
                suppression: at[1]..at[2],
                jobs: at[2]..at[3],
                outbox: at[3]..at[4],
            },
            capacity,
        )
    }

    /// The areas.
    pub const fn areas(&self) -> &Areas {
        &self.areas
    }

    /// The capacities.
    pub const fn capacity(&self) -> Capacity {
        self.capacity
    }

    /// First byte after the last area.
    pub const fn end(&self) -> u32 {
        let a = &self.areas;
        let mut end = a.meta.end;
        if a.suppression.end > end {
            end = a.suppression.end;
        }
        if a.jobs.end > end {
            end = a.jobs.end;
        }
        if a.outbox.end > end {
            end = a.outbox.end;
        }
        end
    }
}
