//! [`Store`] on NOR flash, through sequential-storage's power-fail-safe map and queue.
//!
//! # Areas
//!
//! The board gives a [`Layout`]: four flash ranges, each its own sequential-storage
//! structure, and the capacities they must hold (checked against the flash geometry when
//! the layout is built):
//!
//! | area | structure | key → value | flash per entry (4-byte words) |
//! |---|---|---|---|
//! | meta | map | id → boot counter, acknowledged-event floor, in-flight journal, suppression summary, event epoch, pacing counters (id 16, written after every segment); and up to 3 keyword replies waiting ([`JobKey`] → number and text, tag 16) | 12–44 B; a reply ≤ 188 B |
//! | suppression | map | (number, scope) in 12 bytes → nothing | 20 B |
//! | jobs | map | [`JobKey`] → sequence, record count, evicted key, [`JobRecord`] | ≤ 72 B per write |
//! | outbox | queue | [`EventId`] and [`Event`] | 12 B (`Accepted`) to 688 B (full `Inbound`) |
//!
//! Every value is postcard, except the pacing counters and the replies (raw little-endian
//! bytes, no serde code for them). Values are written from the end of the item buffer, so
//! none is copied through the stack. [`Layout::packed`] lays the areas out back to back;
//! on 1 KiB blocks, 500 opt-outs, 64 job records and 32 events of the largest size take
//! 4 + 12 + 11 + 34 = 61 blocks (61 KiB). The outbox dominates: an inbound message of 640
//! bytes fills a block alone, and the capacity is guaranteed for events of that size.
//!
//! # RAM
//!
//! No caches: every lookup reads flash. Held in RAM: the flash handle, the layout (40 B),
//! one item buffer of [`EVENT_MAX`] + 5 bytes rounded to 32 (704 B), and ~60 B of counters
//! (suppression count and digest, job-record count and write sequence, event ids, the
//! in-flight mark). `size_of::<FlashStore<F>>()` is `size_of::<F>()` + 816 B, on
//! `thumbv7m-none-eabi` as on a 64-bit host (a test bounds it). Calls also use stack for
//! sequential-storage's futures and, in `next_event`, a decoded [`Event`] (about 700 B;
//! the agent sends events from [`Store::event_bytes`], which decodes nothing); the peak
//! is not measured.
//!
//! # Code size
//!
//! A `thumbv7m-none-eabi` probe calling every [`Store`] method (opt-level `s`, fat LTO)
//! has 34.2 KB of `.text` with this store against 4.6 KB with
//! [`MemStore`](super::MemStore): sequential-storage 12.7 KB (one map instance for all
//! three maps, and the queue), decoding an [`Event`] 3.4 KB, the rest this module's code
//! and postcard/serde for the stored types, which in the firmware is partly shared with the
//! link.
//!
//! # Atomicity
//!
//! Each sequential-storage item write is atomic (a CRC covers header and data; a torn item
//! is skipped), so each [`Store`] call is built around one *commit* write:
//!
//! - **Boot counter, journal**: one meta write each.
//! - **Events**: `push_event` is one queue item that carries its id; the next id after a
//!   reboot is one more than the newest item's, or than the acknowledged floor when the
//!   outbox is empty. `ack_events` first writes the floor (commit), then pops; items at or
//!   below the floor are invisible and popped at the next open if a cut came first.
//! - **Suppression**: the meta summary (count, digest) is written first together with the
//!   operation it describes (add, remove, clear); then the entry is stored, removed, or the
//!   area erased. [`FlashStore::open`] redoes the last operation when it did not finish
//!   (each redo is idempotent), or undoes an add that no longer fits.
//! - **Job records**: each write is one map item carrying a write sequence number and the
//!   number of records after it. When a new record evicts an old one, the new item also
//!   names the evicted key, which is then removed; the newest item found at open says how
//!   many records there are and finishes an interrupted removal. The sequence orders
//!   records by last write, as [`MemStore`](super::MemStore) orders them.
//!
//! Opening also lets sequential-storage repair each map area (a block left half erased by
//! a cut is erased again; its live items were copied before the erase began).
//!
//! After a power cut during a call, a reopened store holds the state before the call or
//! after it (tests cut power at every flash write of a realistic sequence and compare with
//! [`MemStore`](super::MemStore)). A call that fails with [`StoreError::Medium`] or
//! [`StoreError::Corrupt`] leaves the store to reload everything from flash before the next
//! call, as a reopen would.
//!
//! # Requirements and limits
//!
//! - The flash must allow a word to be programmed twice ([`MultiwriteNorFlash`]):
//!   sequential-storage marks removed items by clearing their CRC. Most Cortex-M internal
//!   flash does (STM32F1/F4, nRF52, LM3S); flash with per-word ECC (STM32L4/H7/G4) does not.
//! - Lookups scan: `opted_out` reads every suppression entry once (500 entries: 10 KB of
//!   flash reads); `job` and `put_job` scan the jobs area; `job_by_report` and evictions scan
//!   it once more per superseded candidate.
//! - Power-cut safety rests on sequential-storage's failure model: an interrupted program
//!   leaves a prefix of its bytes, an interrupted erase leaves the block erased from its
//!   start up to some point (what [`RamFlash`] simulates). Flash that erases in another
//!   order, or leaves weak bits, is outside what the tests show.
//! - Sequence numbers and event ids are `u32`: they do not wrap in a device's life.

mod io;
mod layout;
mod ram;

pub use layout::{Area, Areas, Capacity, EVENT_MAX, Layout, LayoutError};
pub use ram::{RAM_FLASH_WORD, RamFlash, RamFlashError, Tear};

use core::cell::RefCell;
use core::ops::Range;

use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlash};
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::{
    BootId, BrandId, Event, EventEpoch, EventId, JobKey, Scope, digest_entry,
};
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
use sequential_storage::queue::{QueueConfig, QueueStorage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::io::{Blocking, Slot, complete};
use self::layout::{BUFFER, MAP_VALUE};
use super::{InFlight, JobRecord, MAX_PENDING_REPLIES, PaceMark, PendingReply, Store, StoreError};
use crate::inbound::MAX_REPLY;
use relais_core::compliance::tz::UtcInstant;

/// Meta keys.
const BOOTS: u8 = 1;
const ACKED: u8 = 2;
const JOURNAL: u8 = 3;
const SUPPRESSION: u8 = 4;
const EPOCH: u8 = 5;
/// The pacing counters ([`PaceMark`]); ids from 16 up are this store's later additions.
const PACE: u8 = 16;
/// Bytes of the pacing counters in flash.
const PACE_BYTES: usize = 8 + 2 * 8;

type NoCache<K> = Cache<Uncached, Uncached, Uncached, K>;
type Map<'a, F> = MapStorage<Slot, Blocking<'a, F>, NoCache<Slot>>;
type Queue<'a, F> = QueueStorage<Blocking<'a, F>, NoCache<()>>;

/// The suppression summary and the last suppression operation, written before the
/// operation touches the suppression area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SuppressionState {
    count: u32,
    digest: u64,
    pending: Pending,
}

/// A suppression operation that may not have reached the suppression area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum Pending {
    #[default]
    None,
    Add(Msisdn, Scope),
    Remove(Msisdn, Scope),
    Clear,
}

/// One write of a job record.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct JobEntry {
    /// Write sequence number: the newest item of the area has the largest.
    seq: u32,
    /// Records remembered after this write.
    count: u16,
    /// The record this write evicted (removed right after it).
    evicted: Option<JobKey>,
    record: JobRecord,
}

/// The suppression key: number (below 10^15 < 2^50), digit count (4 bits) and scope tag
/// in 7 little-endian bytes, then the brand id (0 for [`Scope::All`]).
fn suppression_key(number: &Msisdn, scope: Scope) -> Slot {
    let (tag, brand) = match scope {
        Scope::Brand(BrandId(brand)) => (0u64, brand),
        Scope::All => (1u64, 0),
    };
    let head = number.value() | (number.len() as u64) << 50 | tag << 54;
    let mut key = [0; 11];
    key[..7].copy_from_slice(&head.to_le_bytes()[..7]);
    key[7..].copy_from_slice(&brand.to_le_bytes());
    Slot::Suppression(key)
}

/// The item buffer, word-aligned (some flash drivers need aligned sources).
#[derive(Clone)]
#[repr(align(4))]
struct Buffer([u8; BUFFER]);

/// What the store keeps in RAM besides the buffer; all of it is reloaded from flash.
#[derive(Clone, Copy, Debug, Default)]
struct State {
    suppression_count: u32,
    suppression_digest: u64,
    /// Job records remembered.
    jobs: u16,
    /// Sequence number of the next job write.
    next_seq: u32,
    /// Highest acknowledged event id (0: none yet).
    acked: u32,
    /// Id of the next event.
    next_event: u32,
    /// The event numbering this store adopted (0: none yet).
    epoch: u32,
    in_flight: Option<InFlight>,
    /// Keyword replies kept ([`Slot::Reply`] items in the meta area).
    replies: u8,
    /// A call failed part-way: reload from flash before the next one.
    stale: bool,
}

#[derive(Clone)]
struct Inner<F> {
    flash: F,
    layout: Layout<F>,
    buf: Buffer,
    state: State,
}

/// [`Store`] on a NOR flash `F`; see the [module documentation](self).
pub struct FlashStore<F> {
    inner: RefCell<Inner<F>>,
    capacity: Capacity,
}

/// [`FlashStore::try_open`] failed: why, and the flash back.
pub struct OpenError<F> {
    /// Why.
    pub error: StoreError,
    /// The flash, untouched since the failure (e.g. to [`FlashStore::format`] it).
    pub flash: F,
}

impl<F> core::fmt::Debug for OpenError<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<F> core::fmt::Debug for FlashStore<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s = f.debug_struct("FlashStore");
        s.field("capacity", &self.capacity);
        if let Ok(inner) = self.inner.try_borrow() {
            s.field("layout", &inner.layout)
                .field("state", &inner.state);
        }
        s.finish_non_exhaustive()
    }
}

/// Clones the whole store, flash included (a [`RamFlash`] snapshot in tests).
impl<F: Clone> Clone for FlashStore<F> {
    fn clone(&self) -> Self {
        FlashStore {
            inner: self.inner.clone(),
            capacity: self.capacity,
        }
    }
}

impl<F: NorFlash + MultiwriteNorFlash> FlashStore<F> {
    /// Opens the store in `flash` (an erased flash is an empty store), finishing or
    /// undoing whatever a power cut interrupted. [`StoreError::Medium`] when the flash is
    /// smaller than the layout.
    pub fn open(flash: F, layout: Layout<F>) -> Result<Self, StoreError> {
        Self::try_open(flash, layout).map_err(|e| e.error)
    }

    /// [`FlashStore::open`], giving the flash back on failure.
    pub fn try_open(flash: F, layout: Layout<F>) -> Result<Self, OpenError<F>> {
        if layout.end() as usize > flash.capacity() {
            return Err(OpenError {
                error: StoreError::Medium,
                flash,
            });
        }
        let capacity = layout.capacity();
        let mut inner = Inner {
            flash,
            layout,
            buf: Buffer([0; BUFFER]),
            state: State::default(),
        };
        match inner.load() {
            Ok(()) => Ok(FlashStore {
                inner: RefCell::new(inner),
                capacity,
            }),
            Err(error) => Err(OpenError {
                error,
                flash: inner.flash,
            }),
        }
    }

    /// Erases every area of `layout` and opens the empty store: everything stored is lost
    /// (suppression list included), so only for a flash that does not hold this store.
    pub fn format(mut flash: F, layout: Layout<F>) -> Result<Self, OpenError<F>> {
        let areas = layout.areas().clone();
        for area in [areas.meta, areas.suppression, areas.jobs, areas.outbox] {
            if flash.erase(area.start, area.end).is_err() {
                return Err(OpenError {
                    error: StoreError::Medium,
                    flash,
                });
            }
        }
        Self::try_open(flash, layout)
    }

    /// The flash, to reopen it or hand it to something else.
    pub fn into_flash(self) -> F {
        self.inner.into_inner().flash
    }

    /// The flash, for what shares it with the store (other areas) and for tests (a
    /// [`RamFlash`] power cut). Writing into the store's areas corrupts it.
    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.inner.get_mut().flash
    }

    /// The flash, to look at (e.g. a [`RamFlash`]'s operation count while an agent owns
    /// the store); `None` while a store call is under way.
    pub fn flash(&self) -> Option<core::cell::Ref<'_, F>> {
        let inner = self.inner.try_borrow().ok()?;
        Some(core::cell::Ref::map(inner, |i| &i.flash))
    }

    /// Runs `f` on the inner store, reloading it first when an earlier call failed and
    /// marking it for reload when this one fails in the medium.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Inner<F>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut inner = self
            .inner
            .try_borrow_mut()
            .map_err(|_| StoreError::Medium)?;
        inner.run(f)
    }

    fn with_mut<T>(
        &mut self,
        f: impl FnOnce(&mut Inner<F>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.inner.get_mut().run(f)
    }
}

/// Sees one map item (key and value bytes) during a scan.
type MapVisitor<'a> = dyn FnMut(Slot, &[u8]) -> Result<Step, StoreError> + 'a;
/// Sees one outbox item during a scan.
type QueueVisitor<'a> = dyn FnMut(&[u8]) -> Result<Step, StoreError> + 'a;

/// What a scan does after seeing an item.
enum Step {
    /// Goes on to the next item.
    Next,
    /// Stops.
    Stop,
    /// Pops the item (outbox only) and goes on.
    Pop,
}

impl<F: NorFlash + MultiwriteNorFlash> Inner<F> {
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.state.stale {
            self.load().inspect_err(|_| self.state.stale = true)?;
        }
        f(self).inspect_err(|e| {
            if *e != StoreError::Full {
                self.state.stale = true;
            }
        })
    }

    // --- sequential-storage, each operation called from one place (one copy of its code) ---

    fn area(&self, area: Area) -> Range<u32> {
        let areas = self.layout.areas();
        match area {
            Area::Meta => areas.meta.clone(),
            Area::Suppression => areas.suppression.clone(),
            Area::Jobs => areas.jobs.clone(),
            Area::Outbox => areas.outbox.clone(),
        }
    }

    fn map(&mut self, area: Area) -> Result<(Map<'_, F>, &mut [u8]), StoreError> {
        let config = MapConfig::try_new(self.area(area)).map_err(|_| StoreError::Medium)?;
        let map = MapStorage::new(Blocking(&mut self.flash), config, Cache::new_uncached());
        Ok((map, &mut self.buf.0))
    }

    /// The value stored under `key` in `area`.
    fn fetch(&mut self, area: Area, key: Slot) -> Result<Option<&[u8]>, StoreError> {
        let (mut map, buf) = self.map(area)?;
        complete(map.fetch_item::<&[u8]>(buf, &key))
    }

    /// The end of the item buffer, where a value to store is put ([`MAP_VALUE`] bytes);
    /// the rest is sequential-storage's working buffer (no stack buffer for values).
    fn tail(&mut self) -> &mut [u8] {
        let (_, tail) = self.buf.0.split_at_mut(BUFFER - MAP_VALUE);
        tail
    }

    /// Stores the first `len` bytes of [`Inner::tail`] under `key` in `area`.
    fn store_tail(&mut self, area: Area, key: Slot, len: usize) -> Result<(), StoreError> {
        let (mut map, buf) = self.map(area)?;
        let (work, tail) = buf.split_at_mut(BUFFER - MAP_VALUE);
        let value: &[u8] = tail.get(..len).ok_or(StoreError::Corrupt)?;
        complete(map.store_item(work, &key, &value))
    }

    fn remove(&mut self, area: Area, key: Slot) -> Result<(), StoreError> {
        let (mut map, buf) = self.map(area)?;
        complete(map.remove_item(buf, &key))
    }

    /// Shows `f` every item of `area`, superseded ones included (older before newer).
    fn scan(&mut self, area: Area, f: &mut MapVisitor<'_>) -> Result<(), StoreError> {
        let (mut map, buf) = self.map(area)?;
        let mut items = complete(map.fetch_all_items(&mut *buf))?;
        while let Some((key, value)) = complete(items.next::<&[u8]>(&mut *buf))? {
            if let Step::Stop = f(key, value)? {
                break;
            }
        }
        Ok(())
    }

    fn queue(&mut self) -> Result<(Queue<'_, F>, &mut [u8]), StoreError> {
        let config =
            QueueConfig::try_new(self.area(Area::Outbox)).map_err(|_| StoreError::Medium)?;
        let queue = QueueStorage::new(Blocking(&mut self.flash), config, Cache::new_uncached());
        Ok((queue, &mut self.buf.0))
    }

    /// Shows `f` the outbox items, oldest first.
    fn queue_scan(&mut self, f: &mut QueueVisitor<'_>) -> Result<(), StoreError> {
        let (mut queue, buf) = self.queue()?;
        let mut items = complete(queue.iter())?;
        while let Some(item) = complete(items.next(&mut *buf))? {
            match f(&item)? {
                Step::Next => {}
                Step::Stop => break,
                Step::Pop => {
                    complete(item.pop())?;
                }
            }
        }
        Ok(())
    }

    // --- typed access ---

    fn get<V: DeserializeOwned>(&mut self, area: Area, key: Slot) -> Result<Option<V>, StoreError> {
        self.fetch(area, key)?.map(decode).transpose()
    }

    fn put<V: Serialize>(&mut self, area: Area, key: Slot, value: &V) -> Result<(), StoreError> {
        let len = postcard::to_slice(value, self.tail())
            .map_err(|_| StoreError::Corrupt)?
            .len();
        self.store_tail(area, key, len)
    }

    fn meta_get<V: DeserializeOwned>(&mut self, id: u8) -> Result<Option<V>, StoreError> {
        self.get(Area::Meta, Slot::Meta(id))
    }

    fn meta_put<V: Serialize>(&mut self, id: u8, value: &V) -> Result<(), StoreError> {
        self.put(Area::Meta, Slot::Meta(id), value)
    }

    // --- loading and recovery ---

    /// Reads the state from flash, finishing or undoing an interrupted operation.
    fn load(&mut self) -> Result<(), StoreError> {
        for area in [Area::Meta, Area::Suppression, Area::Jobs] {
            self.repair(area)?;
        }
        self.state = State {
            acked: self.meta_get(ACKED)?.unwrap_or(0),
            epoch: self.meta_get(EPOCH)?.unwrap_or(0),
            in_flight: self.meta_get::<Option<InFlight>>(JOURNAL)?.flatten(),
            ..State::default()
        };
        self.load_suppression()?;
        self.load_jobs()?;
        self.load_replies()?;
        self.load_outbox()
    }

    fn load_suppression(&mut self) -> Result<(), StoreError> {
        let mut sup: SuppressionState = self.meta_get(SUPPRESSION)?.unwrap_or_default();
        match sup.pending {
            Pending::None => {}
            Pending::Add(number, scope) => {
                let key = suppression_key(&number, scope);
                if !self.suppression_has(key)? {
                    match self.store_tail(Area::Suppression, key, 0) {
                        Ok(()) => {}
                        Err(StoreError::Full) => {
                            sup = SuppressionState {
                                count: sup.count.saturating_sub(1),
                                digest: sup.digest.wrapping_sub(digest_entry(&number, scope)),
                                pending: Pending::None,
                            };
                            self.meta_put(SUPPRESSION, &sup)?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Pending::Remove(number, scope) => {
                let key = suppression_key(&number, scope);
                if self.suppression_has(key)? {
                    self.remove(Area::Suppression, key)?;
                }
            }
            Pending::Clear => {
                if !self.area_erased(Area::Suppression)? {
                    self.erase(Area::Suppression)?;
                }
            }
        }
        self.state.suppression_count = sup.count;
        self.state.suppression_digest = sup.digest;
        Ok(())
    }

    fn load_jobs(&mut self) -> Result<(), StoreError> {
        let mut newest: Option<JobEntry> = None;
        self.jobs_scan(&mut |_, entry| {
            if newest.as_ref().is_none_or(|n| entry.seq > n.seq) {
                newest = Some(entry);
            }
        })?;
        let Some(newest) = newest else {
            return Ok(());
        };
        self.state.jobs = newest.count;
        self.state.next_seq = newest.seq.wrapping_add(1);
        if let Some(victim) = newest.evicted
            && self.job_entry(victim)?.is_some()
        {
            self.remove(Area::Jobs, Slot::Job(victim.0))?;
        }
        Ok(())
    }

    fn load_outbox(&mut self) -> Result<(), StoreError> {
        let mut last = self.state.acked;
        self.queue_scan(&mut |item| {
            last = last.max(event_id(item)?);
            Ok(Step::Next)
        })?;
        self.state.next_event = last.wrapping_add(1);
        self.pop_acked()
    }

    /// Lets sequential-storage repair what an interrupted operation left in a map area (a
    /// block left half erased). Its scans do not repair; its removal does, when it meets
    /// damage, so a removal of a key that no area holds walks every block and repairs.
    fn repair(&mut self, area: Area) -> Result<(), StoreError> {
        self.remove(area, Slot::Meta(0))
    }

    fn area_erased(&mut self, area: Area) -> Result<bool, StoreError> {
        let Range { mut start, end } = self.area(area);
        while start < end {
            let n = ((end - start) as usize).min(BUFFER);
            let chunk = &mut self.buf.0[..n];
            self.flash
                .read(start, chunk)
                .map_err(|_| StoreError::Medium)?;
            if chunk.iter().any(|b| *b != 0xFF) {
                return Ok(false);
            }
            start += n as u32;
        }
        Ok(true)
    }

    fn erase(&mut self, area: Area) -> Result<(), StoreError> {
        let Range { start, end } = self.area(area);
        self.flash.erase(start, end).map_err(|_| StoreError::Medium)
    }

    // --- suppression ---

    fn suppression_has(&mut self, key: Slot) -> Result<bool, StoreError> {
        Ok(self.fetch(Area::Suppression, key)?.is_some())
    }

    /// Writes the summary after `pending` (the commit point of a suppression operation).
    fn suppression_commit(
        &mut self,
        count: u32,
        digest: u64,
        pending: Pending,
    ) -> Result<(), StoreError> {
        let state = SuppressionState {
            count,
            digest,
            pending,
        };
        self.meta_put(SUPPRESSION, &state)?;
        self.state.suppression_count = count;
        self.state.suppression_digest = digest;
        Ok(())
    }

    fn suppress(&mut self, number: &Msisdn, scope: Scope, capacity: u32) -> Result<(), StoreError> {
        let key = suppression_key(number, scope);
        if self.suppression_has(key)? {
            return Ok(());
        }
        let (count, digest) = (self.state.suppression_count, self.state.suppression_digest);
        if count >= capacity {
            return Err(StoreError::Full);
        }
        let entry = digest_entry(number, scope);
        self.suppression_commit(
            count + 1,
            digest.wrapping_add(entry),
            Pending::Add(*number, scope),
        )?;
        match self.store_tail(Area::Suppression, key, 0) {
            Err(StoreError::Full) => {
                // The layout guarantees the room, so this is a last resort: undo.
                self.suppression_commit(count, digest, Pending::None)?;
                Err(StoreError::Full)
            }
            other => other,
        }
    }

    fn unsuppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError> {
        let key = suppression_key(number, scope);
        if !self.suppression_has(key)? {
            return Ok(());
        }
        let (count, digest) = (self.state.suppression_count, self.state.suppression_digest);
        self.suppression_commit(
            count.saturating_sub(1),
            digest.wrapping_sub(digest_entry(number, scope)),
            Pending::Remove(*number, scope),
        )?;
        self.remove(Area::Suppression, key)
    }

    fn clear_suppression(&mut self) -> Result<(), StoreError> {
        if self.state.suppression_count == 0 {
            return Ok(());
        }
        self.suppression_commit(0, 0, Pending::Clear)?;
        self.erase(Area::Suppression)
    }

    fn opted_out(&mut self, number: &Msisdn, brand: BrandId) -> Result<Option<Scope>, StoreError> {
        let all = suppression_key(number, Scope::All);
        let one = suppression_key(number, Scope::Brand(brand));
        // Entries are never rewritten, only removed: one pass sees each once.
        let mut found = None;
        self.scan(Area::Suppression, &mut |key, _| {
            if key == all {
                found = Some(Scope::All);
                return Ok(Step::Stop);
            }
            if key == one {
                found = Some(Scope::Brand(brand));
            }
            Ok(Step::Next)
        })?;
        Ok(found)
    }

    // --- job records ---

    fn job_entry(&mut self, key: JobKey) -> Result<Option<JobEntry>, StoreError> {
        self.get(Area::Jobs, Slot::Job(key.0))
    }

    /// Calls `f` on every job item, superseded writes included (older before newer).
    fn jobs_scan(&mut self, f: &mut dyn FnMut(JobKey, JobEntry)) -> Result<(), StoreError> {
        self.scan(Area::Jobs, &mut |key, value| {
            let Slot::Job(key) = key else {
                return Err(StoreError::Corrupt);
            };
            f(JobKey(key), decode(value)?);
            Ok(Step::Next)
        })
    }

    /// The current record (not a superseded write) that `better` prefers, among the
    /// writes that `wanted` accepts. `better(a, b)` compares sequence numbers.
    fn pick_current(
        &mut self,
        wanted: &dyn Fn(&JobRecord) -> bool,
        better: fn(u32, u32) -> bool,
    ) -> Result<Option<(JobKey, JobEntry)>, StoreError> {
        // Writes at or beyond `seen` (in `better`'s order) turned out superseded.
        let mut seen: Option<u32> = None;
        loop {
            let mut best: Option<(JobKey, u32)> = None;
            self.jobs_scan(&mut |key, entry| {
                if wanted(&entry.record)
                    && seen.is_none_or(|s| better(s, entry.seq))
                    && best.is_none_or(|(_, b)| better(entry.seq, b))
                {
                    best = Some((key, entry.seq));
                }
            })?;
            let Some((key, seq)) = best else {
                return Ok(None);
            };
            if let Some(entry) = self.job_entry(key)?
                && entry.seq == seq
            {
                return Ok(Some((key, entry)));
            }
            // A superseded write: its key has a newer one. Look past it.
            seen = Some(seq);
        }
    }

    fn put_job(
        &mut self,
        key: JobKey,
        record: &JobRecord,
        capacity: u16,
    ) -> Result<(), StoreError> {
        let known = self.job_entry(key)?.is_some();
        let jobs = self.state.jobs;
        let (count, evicted) = if known {
            (jobs, None)
        } else if jobs < capacity {
            (jobs + 1, None)
        } else {
            // The least recently written settled record; else the least recently written
            // finished one (a delivery report that still comes for it will find no job).
            // Open records stay.
            let older = |a: u32, b: u32| a < b;
            let victim = match self.pick_current(&settled, older)? {
                Some((victim, _)) => victim,
                None => {
                    self.pick_current(&|r| r.state.is_finished(), older)?
                        .ok_or(StoreError::Full)?
                        .0
                }
            };
            (jobs, Some(victim))
        };
        let seq = self.state.next_seq;
        let entry = JobEntry {
            seq,
            count,
            evicted,
            record: record.clone(),
        };
        self.put(Area::Jobs, Slot::Job(key.0), &entry)?;
        self.state.next_seq = seq.wrapping_add(1);
        self.state.jobs = count;
        match evicted {
            Some(victim) => self.remove(Area::Jobs, Slot::Job(victim.0)),
            None => Ok(()),
        }
    }

    fn job_by_report(
        &mut self,
        mr: u8,
        accept: &dyn Fn(&JobRecord) -> bool,
    ) -> Result<Option<(JobKey, JobRecord, u8)>, StoreError> {
        let wanted = |r: &JobRecord| r.mrs.contains(&mr) && accept(r);
        let Some((key, entry)) = self.pick_current(&wanted, |a, b| a > b)? else {
            return Ok(None);
        };
        let part = entry.record.mrs.iter().position(|m| *m == mr).unwrap_or(0);
        Ok(Some((key, entry.record, part as u8 + 1)))
    }

    // --- journal ---

    fn set_in_flight(&mut self, segment: Option<InFlight>) -> Result<(), StoreError> {
        if self.state.in_flight == segment {
            return Ok(());
        }
        self.meta_put(JOURNAL, &segment)?;
        self.state.in_flight = segment;
        Ok(())
    }

    // --- keyword replies ---

    /// Calls `f` on every reply item, oldest first (each is written once and removed
    /// once, so the meta area holds no superseded copy of one).
    fn replies_scan(&mut self, f: &mut dyn FnMut(JobKey, &[u8])) -> Result<(), StoreError> {
        self.scan(Area::Meta, &mut |key, value| {
            if let Slot::Reply(key) = key {
                f(JobKey(key), value);
            }
            Ok(Step::Next)
        })
    }

    fn load_replies(&mut self) -> Result<(), StoreError> {
        let mut count = 0u8;
        self.replies_scan(&mut |_, _| count = count.saturating_add(1))?;
        self.state.replies = count;
        Ok(())
    }

    fn put_reply(&mut self, key: JobKey, to: &Msisdn, text: &str) -> Result<(), StoreError> {
        if self.fetch(Area::Meta, Slot::Reply(key.0))?.is_some() {
            return Ok(());
        }
        if usize::from(self.state.replies) >= MAX_PENDING_REPLIES {
            return Err(StoreError::Full);
        }
        // Raw bytes, not postcard (no serde code for them): the number's value
        // (8 bytes, little-endian) and digit count, then the text.
        let len = 9 + text.len();
        let tail = self.tail();
        let Some(out) = tail.get_mut(..len).filter(|_| text.len() <= MAX_REPLY) else {
            return Err(StoreError::Full);
        };
        out[..8].copy_from_slice(&to.value().to_le_bytes());
        out[8] = to.len() as u8;
        out[9..].copy_from_slice(text.as_bytes());
        self.store_tail(Area::Meta, Slot::Reply(key.0), len)?;
        self.state.replies += 1;
        Ok(())
    }

    // --- pace ---

    /// The pacing counters, as raw little-endian bytes (no serde code for them): `at`
    /// (8), minute and hour (2 each), the day's six groups (2 each).
    fn pace(&mut self) -> Result<Option<PaceMark>, StoreError> {
        let Some(bytes) = self.fetch(Area::Meta, Slot::Meta(PACE))? else {
            return Ok(None);
        };
        let mut words = [0u16; 8];
        let (at, rest) = bytes.split_first_chunk::<8>().ok_or(StoreError::Corrupt)?;
        for (w, b) in words.iter_mut().zip(rest.chunks_exact(2)) {
            *w = u16::from_le_bytes([b[0], b[1]]);
        }
        let [minute, hour, day @ ..] = words;
        Ok(Some(PaceMark {
            at: UtcInstant(i64::from_le_bytes(*at)),
            minute,
            hour,
            day,
        }))
    }

    fn put_pace(&mut self, mark: &PaceMark) -> Result<(), StoreError> {
        let [d0, d1, d2, d3, d4, d5] = mark.day;
        let words = [mark.minute, mark.hour, d0, d1, d2, d3, d4, d5];
        let tail = self.tail();
        let (at, rest) = tail
            .split_first_chunk_mut::<8>()
            .ok_or(StoreError::Corrupt)?;
        *at = mark.at.0.to_le_bytes();
        for (b, w) in rest.chunks_exact_mut(2).zip(words) {
            b.copy_from_slice(&w.to_le_bytes());
        }
        self.store_tail(Area::Meta, Slot::Meta(PACE), PACE_BYTES)
    }

    fn remove_reply(&mut self, key: JobKey) -> Result<(), StoreError> {
        if self.fetch(Area::Meta, Slot::Reply(key.0))?.is_none() {
            return Ok(());
        }
        self.remove(Area::Meta, Slot::Reply(key.0))?;
        self.state.replies = self.state.replies.saturating_sub(1);
        Ok(())
    }

    // --- outbox ---

    fn outbox_len(&self) -> u32 {
        self.state
            .next_event
            .wrapping_sub(1)
            .wrapping_sub(self.state.acked)
    }

    fn push_event(&mut self, event: &Event, capacity: u16) -> Result<EventId, StoreError> {
        if self.outbox_len() >= u32::from(capacity) {
            return Err(StoreError::Full);
        }
        let id = self.state.next_event;
        let (mut queue, buf) = self.queue()?;
        let item = postcard::to_slice(&(id, event), buf).map_err(|_| StoreError::Full)?;
        complete(queue.push(item, false))?;
        self.state.next_event = id.wrapping_add(1);
        Ok(EventId(id))
    }

    fn next_event(
        &mut self,
        after: Option<EventId>,
    ) -> Result<Option<(EventId, Event)>, StoreError> {
        let floor = self.state.acked.max(after.map_or(0, |a| a.0));
        let mut found = None;
        self.queue_scan(&mut |item| {
            let (id, event) =
                postcard::take_from_bytes::<u32>(item).map_err(|_| StoreError::Corrupt)?;
            if id <= floor {
                return Ok(Step::Next);
            }
            found = Some((EventId(id), decode(event)?));
            Ok(Step::Stop)
        })?;
        Ok(found)
    }

    fn ack_events(&mut self, upto: EventId) -> Result<(), StoreError> {
        let upto = upto.0.min(self.state.next_event.wrapping_sub(1));
        if upto <= self.state.acked {
            return Ok(());
        }
        self.meta_put(ACKED, &upto)?;
        self.state.acked = upto;
        self.pop_acked()
    }

    /// Pops the items at or below the acknowledged floor (all at the front).
    fn pop_acked(&mut self) -> Result<(), StoreError> {
        let acked = self.state.acked;
        self.queue_scan(&mut |item| {
            Ok(if event_id(item)? <= acked {
                Step::Pop
            } else {
                Step::Stop
            })
        })
    }
}

/// A kept reply read back from flash (see [`Inner::put_reply`]).
fn decode_reply(bytes: &[u8]) -> Option<PendingReply> {
    let (value, rest) = bytes.split_first_chunk::<8>()?;
    let (&len, text) = rest.split_first()?;
    Some(PendingReply {
        to: Msisdn::from_parts(u64::from_le_bytes(*value), usize::from(len))?,
        text: heapless::String::try_from(core::str::from_utf8(text).ok()?).ok()?,
    })
}

/// A postcard value read back from flash.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|_| StoreError::Corrupt)
}

/// The id at the front of an outbox item.
fn event_id(item: &[u8]) -> Result<u32, StoreError> {
    postcard::take_from_bytes::<u32>(item)
        .map(|(id, _)| id)
        .map_err(|_| StoreError::Corrupt)
}

/// A finished record with nothing more to learn: no delivery report pending.
fn settled(r: &JobRecord) -> bool {
    r.state.is_finished() && (!r.report || r.delivery_reported || r.mrs.is_empty())
}

impl<F: NorFlash + MultiwriteNorFlash> Store for FlashStore<F> {
    fn next_boot(&mut self) -> Result<BootId, StoreError> {
        self.with_mut(|s| {
            let boots = s.meta_get::<u32>(BOOTS)?.unwrap_or(0).wrapping_add(1);
            s.meta_put(BOOTS, &boots)?;
            Ok(BootId(boots))
        })
    }

    fn epoch(&self) -> Result<EventEpoch, StoreError> {
        self.with(|s| Ok(EventEpoch(s.state.epoch)))
    }

    fn adopt_epoch(&mut self, epoch: EventEpoch) -> Result<EventEpoch, StoreError> {
        self.with_mut(|s| {
            if s.state.epoch == 0 && epoch != EventEpoch::NONE {
                s.meta_put(EPOCH, &epoch.0)?;
                s.state.epoch = epoch.0;
            }
            Ok(EventEpoch(s.state.epoch))
        })
    }

    fn suppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError> {
        let capacity = self.capacity.suppression;
        self.with_mut(|s| s.suppress(number, scope, capacity))
    }

    fn unsuppress(&mut self, number: &Msisdn, scope: Scope) -> Result<(), StoreError> {
        self.with_mut(|s| s.unsuppress(number, scope))
    }

    fn clear_suppression(&mut self) -> Result<(), StoreError> {
        self.with_mut(|s| s.clear_suppression())
    }

    fn opted_out(&self, number: &Msisdn, brand: BrandId) -> Result<Option<Scope>, StoreError> {
        self.with(|s| s.opted_out(number, brand))
    }

    fn suppression_summary(&self) -> Result<(u32, u64), StoreError> {
        self.with(|s| Ok((s.state.suppression_count, s.state.suppression_digest)))
    }

    fn suppression_capacity(&self) -> u32 {
        self.capacity.suppression
    }

    fn job(&self, key: JobKey) -> Result<Option<JobRecord>, StoreError> {
        self.with(|s| Ok(s.job_entry(key)?.map(|e| e.record)))
    }

    fn put_job(&mut self, key: JobKey, record: &JobRecord) -> Result<(), StoreError> {
        let capacity = self.capacity.jobs;
        self.with_mut(|s| s.put_job(key, record, capacity))
    }

    fn job_by_report(
        &self,
        mr: u8,
        accept: &dyn Fn(&JobRecord) -> bool,
    ) -> Result<Option<(JobKey, JobRecord, u8)>, StoreError> {
        self.with(|s| s.job_by_report(mr, accept))
    }

    fn begin_send(&mut self, segment: InFlight) -> Result<(), StoreError> {
        self.with_mut(|s| s.set_in_flight(Some(segment)))
    }

    fn end_send(&mut self) -> Result<(), StoreError> {
        self.with_mut(|s| s.set_in_flight(None))
    }

    fn in_flight(&self) -> Result<Option<InFlight>, StoreError> {
        self.with(|s| Ok(s.state.in_flight))
    }

    fn push_event(&mut self, event: &Event) -> Result<EventId, StoreError> {
        let capacity = self.capacity.outbox;
        self.with_mut(|s| s.push_event(event, capacity))
    }

    fn next_event(&self, after: Option<EventId>) -> Result<Option<(EventId, Event)>, StoreError> {
        self.with(|s| s.next_event(after))
    }

    fn event_bytes(&self, id: EventId, f: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        self.with(|s| {
            let mut found = false;
            if id.0 <= s.state.acked {
                return Ok(false);
            }
            s.queue_scan(&mut |item| {
                let this = event_id(item)?;
                if this == id.0 {
                    f(item);
                    found = true;
                }
                Ok(if this >= id.0 { Step::Stop } else { Step::Next })
            })?;
            Ok(found)
        })
    }

    fn ack_events(&mut self, upto: EventId) -> Result<(), StoreError> {
        self.with_mut(|s| s.ack_events(upto))
    }

    fn outbox_len(&self) -> Result<usize, StoreError> {
        self.with(|s| Ok(s.outbox_len() as usize))
    }

    fn next_event_id(&self) -> Result<EventId, StoreError> {
        self.with(|s| Ok(EventId(s.state.next_event)))
    }

    fn outbox_capacity(&self) -> Option<usize> {
        Some(usize::from(self.capacity.outbox))
    }

    fn pace(&self) -> Result<Option<PaceMark>, StoreError> {
        self.with(|s| s.pace())
    }

    fn put_pace(&mut self, mark: &PaceMark) -> Result<(), StoreError> {
        self.with_mut(|s| s.put_pace(mark))
    }

    fn put_reply(&mut self, key: JobKey, to: &Msisdn, text: &str) -> Result<(), StoreError> {
        self.with_mut(|s| s.put_reply(key, to, text))
    }

    fn remove_reply(&mut self, key: JobKey) -> Result<(), StoreError> {
        self.with_mut(|s| s.remove_reply(key))
    }

    fn replies(&self, f: &mut dyn FnMut(JobKey, PendingReply)) -> Result<(), StoreError> {
        self.with(|s| {
            let mut bad = false;
            s.replies_scan(&mut |key, value| match decode_reply(value) {
                Some(reply) => f(key, reply),
                None => bad = true,
            })?;
            if bad {
                Err(StoreError::Corrupt)
            } else {
                Ok(())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::layout::{JOB_ENTRY_MAX, META_ITEM, REPLY_ENTRY_MAX};
    use super::*;
    use crate::store::JobState;
    use heapless::{String, Vec};
    use relais_core::compliance::tz::UtcInstant;
    use relais_core::link::msg::{
        Delivery, KeywordKind, MAX_ADDRESS, MAX_TEXT, Refusal, RefusalCode, SendFailure,
    };

    fn full<const N: usize>(c: char) -> String<N> {
        let mut s = String::new();
        while s.push(c).is_ok() {}
        s
    }

    fn encoded_len<T: Serialize>(value: &T) -> usize {
        let mut buf = [0u8; 2048];
        postcard::to_slice(value, &mut buf).unwrap().len()
    }

    fn biggest_events() -> std::vec::Vec<Event> {
        let key = JobKey(u64::MAX);
        let at = UtcInstant(i64::MIN);
        let rule = full::<40>('x');
        let far = Msisdn::parse("+999999999999999").unwrap();
        std::vec![
            Event::Accepted(key),
            Event::Duplicate(key),
            Event::Refused {
                key,
                refusal: Refusal {
                    code: RefusalCode::BadIdentity,
                    rule: rule.clone(),
                },
            },
            Event::Deferred {
                key,
                until: at,
                rule,
            },
            Event::SegmentSent {
                key,
                part: u8::MAX,
                parts: u8::MAX,
                mr: u8::MAX,
            },
            Event::Sent {
                key,
                parts: u8::MAX,
            },
            Event::Failed {
                key,
                part: u8::MAX,
                error: SendFailure::Cme(u16::MAX),
                permanent: true,
            },
            Event::Unknown { key, part: u8::MAX },
            Event::Delivery {
                key,
                status: Delivery::Expired,
                st: u8::MAX,
                at,
            },
            Event::Inbound {
                from: full::<MAX_ADDRESS>('9'),
                text: full::<MAX_TEXT>('x'),
                at,
                truncated: true,
            },
            Event::Keyword {
                from: far,
                kind: KeywordKind::PossibleOptOut,
                keyword: full('x'),
                tier: u8::MAX,
                scope: Some(Scope::Brand(BrandId(u32::MAX))),
                confirmed: true,
            },
            Event::UnmatchedReport {
                to: full::<MAX_ADDRESS>('9'),
                mr: u8::MAX,
                st: u8::MAX,
                submitted: at,
                at,
            },
            Event::Released {
                key,
                until: at,
                rule: full('x'),
            },
        ]
    }

    #[test]
    fn event_bound_holds_for_every_variant() {
        let lens: std::vec::Vec<usize> = biggest_events().iter().map(encoded_len).collect();
        assert!(lens.iter().all(|n| *n <= EVENT_MAX), "{lens:?}");
        assert_eq!(lens.iter().max(), Some(&EVENT_MAX));
        // With its id, the largest item fits the buffer.
        assert!(encoded_len(&(u32::MAX, &biggest_events()[9])) <= BUFFER);
    }

    #[test]
    fn job_and_meta_bounds_hold() {
        let mut record = JobRecord::new(u8::MAX, true);
        record.state = JobState::Cancelled;
        record.parts = u8::MAX;
        record.mrs = Vec::from_slice(&[u8::MAX; crate::store::MAX_PARTS]).unwrap();
        record.delivered = u16::MAX;
        record.delivery_reported = true;
        record.to = u64::MAX;
        record.sent_at = u32::MAX;
        let entry = JobEntry {
            seq: u32::MAX,
            count: u16::MAX,
            evicted: Some(JobKey(u64::MAX)),
            record,
        };
        assert_eq!(encoded_len(&entry), JOB_ENTRY_MAX);
        let far = Msisdn::parse("+999999999999999").unwrap();
        let sup = SuppressionState {
            count: u32::MAX,
            digest: u64::MAX,
            pending: Pending::Add(far, Scope::Brand(BrandId(u32::MAX))),
        };
        assert_eq!(2 + encoded_len(&sup), META_ITEM);
        let journal = Some(InFlight {
            key: JobKey(u64::MAX),
            part: u8::MAX,
        });
        assert!(2 + encoded_len(&journal) <= META_ITEM);
        // The pacing counters and a reply, raw.
        const { assert!(2 + PACE_BYTES <= META_ITEM) };
        let mut inner = FlashStore::open(
            RamFlash::<{ 16 * 1024 }>::new(),
            Layout::packed(
                0,
                super::Capacity {
                    suppression: 4,
                    jobs: 4,
                    outbox: 4,
                },
            )
            .unwrap(),
        )
        .unwrap();
        let text: String<MAX_REPLY> = full('x');
        inner.put_reply(JobKey(u64::MAX), &far, &text).unwrap();
        let mut lens = std::vec::Vec::new();
        inner
            .inner
            .get_mut()
            .replies_scan(&mut |_, value| lens.push(value.len()))
            .unwrap();
        assert_eq!(lens, [REPLY_ENTRY_MAX]);
        let mark = PaceMark {
            at: UtcInstant(i64::MIN),
            minute: u16::MAX,
            hour: 1,
            day: [2, 3, 4, 5, 6, u16::MAX],
        };
        inner.put_pace(&mark).unwrap();
        assert_eq!(inner.pace().unwrap(), Some(mark));
    }

    #[test]
    fn suppression_keys_differ_by_number_length_and_scope() {
        let a = Msisdn::parse("+33612345678").unwrap();
        let short = Msisdn::parse("+3361234567").unwrap();
        let padded = Msisdn::from_parts(a.value(), a.len() + 1);
        let keys = [
            suppression_key(&a, Scope::All),
            suppression_key(&a, Scope::Brand(BrandId(0))),
            suppression_key(&a, Scope::Brand(BrandId(1))),
            suppression_key(&short, Scope::All),
        ];
        // Same digits as a 12-digit number would not parse; the length is in the key anyway.
        assert!(padded.is_none());
        for (i, x) in keys.iter().enumerate() {
            for y in &keys[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    /// A flash handle of no size, to measure what the store itself costs.
    struct NoFlash;

    impl embedded_storage::nor_flash::ErrorType for NoFlash {
        type Error = embedded_storage::nor_flash::NorFlashErrorKind;
    }

    impl embedded_storage::nor_flash::ReadNorFlash for NoFlash {
        const READ_SIZE: usize = 1;
        fn read(&mut self, _: u32, _: &mut [u8]) -> Result<(), Self::Error> {
            Ok(())
        }
        fn capacity(&self) -> usize {
            0
        }
    }

    impl NorFlash for NoFlash {
        const WRITE_SIZE: usize = 4;
        const ERASE_SIZE: usize = 1024;
        fn erase(&mut self, _: u32, _: u32) -> Result<(), Self::Error> {
            Ok(())
        }
        fn write(&mut self, _: u32, _: &[u8]) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    impl MultiwriteNorFlash for NoFlash {}

    #[test]
    fn ram_cost_is_the_buffer_and_a_few_counters() {
        let size = core::mem::size_of::<FlashStore<NoFlash>>();
        std::println!("size_of::<FlashStore<NoFlash>>() = {size}");
        // 704 B of buffer; the rest is the layout and counters (64-bit host).
        assert!(BUFFER == 704 && size <= BUFFER + 160, "{size}");
    }
}
