//! A NOR flash in RAM that loses power when told to: for host tests of anything that
//! persists state, and for boards without a flash driver yet.
//!
//! NOR semantics as on common Cortex-M internal flash: erase works on whole blocks of
//! `PAGE` bytes and sets every bit; a program operation writes whole 32-bit words and can
//! only clear bits (the word becomes `old & new`, so programming a word twice is allowed:
//! [`MultiwriteNorFlash`]). Reads have no alignment constraint.
//!
//! **Power cuts.** Every write and erase is numbered from 0 ([`RamFlash::ops`]).
//! [`RamFlash::cut_at`] arms a cut at one operation number: that operation reaches the
//! flash only partly, as [`Tear`] says (some words written and the next one torn, or an
//! erase left half done, in address order — the failure model sequential-storage is
//! designed and fuzzed against), and fails; every later operation, reads included, fails
//! until [`RamFlash::repower`], which keeps the contents. Running a scenario once to count
//! its operations and again with a cut at each of them enumerates every cut point.

use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Program unit of [`RamFlash`]: one 32-bit word.
pub const RAM_FLASH_WORD: usize = 4;

/// How much of the operation that the power cut interrupts reaches the flash. Bytes are
/// applied in address order; a byte is either fully applied or untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tear {
    /// Nothing of it.
    Nothing,
    /// The first half of its words, then one byte of the next word (a torn word; for an
    /// erase, a block left half erased).
    Half,
    /// Every byte but the last (the last word is torn).
    AllButLastByte,
    /// The first `n` bytes (at most the whole operation).
    Bytes(usize),
}

impl Tear {
    /// Bytes applied of an operation of `len` bytes.
    fn applied(self, len: usize) -> usize {
        match self {
            Tear::Nothing => 0,
            Tear::Half => (len / 2 / RAM_FLASH_WORD * RAM_FLASH_WORD + 1).min(len),
            Tear::AllButLastByte => len.saturating_sub(1),
            Tear::Bytes(n) => n.min(len),
        }
    }
}

/// Why a [`RamFlash`] operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RamFlashError {
    /// Offset or length not aligned to the operation's unit.
    NotAligned,
    /// Beyond the end of the flash.
    OutOfBounds,
    /// The power was cut (during this operation or before it, and not restored since).
    PowerCut,
}

impl core::fmt::Display for RamFlashError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RamFlashError::NotAligned => "flash operation not aligned",
            RamFlashError::OutOfBounds => "flash operation out of bounds",
            RamFlashError::PowerCut => "flash power cut",
        })
    }
}

impl core::error::Error for RamFlashError {}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RamFlashError::PowerCut => NorFlashErrorKind::Other,
        }
    }
}

/// `SIZE` bytes of NOR flash in RAM, erase blocks of `PAGE` bytes (1 KiB by default, like
/// the LM3S6965), 4-byte program words, with power cuts on demand.
pub struct RamFlash<const SIZE: usize, const PAGE: usize = 1024> {
    bytes: [u8; SIZE],
    writes: u32,
    erases: u32,
    cut: Option<(u32, Tear)>,
    powered: bool,
}

impl<const SIZE: usize, const PAGE: usize> core::fmt::Debug for RamFlash<SIZE, PAGE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RamFlash")
            .field("size", &SIZE)
            .field("page", &PAGE)
            .field("writes", &self.writes)
            .field("erases", &self.erases)
            .field("cut", &self.cut)
            .field("powered", &self.powered)
            .finish_non_exhaustive()
    }
}

/// A snapshot: contents, counters, armed cut and power state.
impl<const SIZE: usize, const PAGE: usize> Clone for RamFlash<SIZE, PAGE> {
    fn clone(&self) -> Self {
        // Copied through a slice: a derived clone moves the array as one value, which
        // makes LLVM overflow its stack at 64 KiB.
        let mut copy = Self::new();
        copy.bytes.copy_from_slice(&self.bytes);
        copy.writes = self.writes;
        copy.erases = self.erases;
        copy.cut = self.cut;
        copy.powered = self.powered;
        copy
    }
}

impl<const SIZE: usize, const PAGE: usize> Default for RamFlash<SIZE, PAGE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize, const PAGE: usize> RamFlash<SIZE, PAGE> {
    /// An erased flash (every byte `0xFF`), powered, no cut armed.
    pub const fn new() -> Self {
        const {
            assert!(PAGE > 0 && PAGE % RAM_FLASH_WORD == 0);
            assert!(SIZE % PAGE == 0);
            assert!(SIZE <= u32::MAX as usize);
        }
        RamFlash {
            bytes: [0xFF; SIZE],
            writes: 0,
            erases: 0,
            cut: None,
            powered: true,
        }
    }

    /// Write and erase operations started so far (the number the next one gets).
    pub fn ops(&self) -> u32 {
        self.writes + self.erases
    }

    /// Program operations started so far.
    pub fn writes(&self) -> u32 {
        self.writes
    }

    /// Erase operations started so far (each may cover several blocks).
    pub fn erases(&self) -> u32 {
        self.erases
    }

    /// Arms a power cut at operation number `op` (see [`RamFlash::ops`]); `tear` says how
    /// much of it reaches the flash. Replaces a cut armed before.
    pub fn cut_at(&mut self, op: u32, tear: Tear) {
        self.cut = Some((op, tear));
    }

    /// Removes an armed cut that has not happened.
    pub fn disarm(&mut self) {
        self.cut = None;
    }

    /// True between a power cut and [`RamFlash::repower`].
    pub fn is_cut(&self) -> bool {
        !self.powered
    }

    /// Restores power after a cut, keeping the contents (and disarms any cut).
    pub fn repower(&mut self) {
        self.powered = true;
        self.cut = None;
    }

    /// The contents.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn range(
        offset: u32,
        len: usize,
        unit: usize,
    ) -> Result<core::ops::Range<usize>, RamFlashError> {
        let start = offset as usize;
        if start % unit != 0 || len % unit != 0 {
            return Err(RamFlashError::NotAligned);
        }
        match start.checked_add(len) {
            Some(end) if end <= SIZE => Ok(start..end),
            _ => Err(RamFlashError::OutOfBounds),
        }
    }

    /// Starts operation number `ops()`: how many of its `len` bytes to apply, and whether
    /// the power goes with it.
    fn begin(&mut self, len: usize) -> Result<(usize, bool), RamFlashError> {
        if !self.powered {
            return Err(RamFlashError::PowerCut);
        }
        match self.cut {
            Some((op, tear)) if op == self.ops() => {
                self.powered = false;
                self.cut = None;
                Ok((tear.applied(len), true))
            }
            _ => Ok((len, false)),
        }
    }
}

impl<const SIZE: usize, const PAGE: usize> ErrorType for RamFlash<SIZE, PAGE> {
    type Error = RamFlashError;
}

impl<const SIZE: usize, const PAGE: usize> ReadNorFlash for RamFlash<SIZE, PAGE> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        if !self.powered {
            return Err(RamFlashError::PowerCut);
        }
        let range = Self::range(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize, const PAGE: usize> NorFlash for RamFlash<SIZE, PAGE> {
    const WRITE_SIZE: usize = RAM_FLASH_WORD;
    const ERASE_SIZE: usize = PAGE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(RamFlashError::OutOfBounds)?;
        let range = Self::range(from, len, PAGE)?;
        let (applied, cut) = self.begin(len)?;
        self.erases += 1;
        self.bytes[range.start..range.start + applied].fill(0xFF);
        if cut {
            return Err(RamFlashError::PowerCut);
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        let range = Self::range(offset, bytes.len(), RAM_FLASH_WORD)?;
        let (applied, cut) = self.begin(bytes.len())?;
        self.writes += 1;
        for (cell, new) in self.bytes[range].iter_mut().zip(&bytes[..applied]) {
            *cell &= *new;
        }
        if cut {
            return Err(RamFlashError::PowerCut);
        }
        Ok(())
    }
}

/// Programming a word twice gives `old & new`, as on the chips this models.
impl<const SIZE: usize, const PAGE: usize> MultiwriteNorFlash for RamFlash<SIZE, PAGE> {}

#[cfg(test)]
mod tests {
    use super::*;

    type Small = RamFlash<2048, 1024>;

    #[test]
    fn erase_sets_and_write_clears() {
        let mut f = Small::new();
        f.write(4, &[0xF0, 0x0F, 0xAA, 0x55]).unwrap();
        f.write(4, &[0x3C, 0xFF, 0xFF, 0x00]).unwrap();
        assert_eq!(&f.as_bytes()[4..8], &[0x30, 0x0F, 0xAA, 0x00]);
        f.erase(0, 1024).unwrap();
        assert!(f.as_bytes()[..1024].iter().all(|b| *b == 0xFF));
        assert_eq!((f.writes(), f.erases(), f.ops()), (2, 1, 3));
    }

    #[test]
    fn alignment_and_bounds_are_checked() {
        let mut f = Small::new();
        assert_eq!(f.write(2, &[0; 4]), Err(RamFlashError::NotAligned));
        assert_eq!(f.write(0, &[0; 3]), Err(RamFlashError::NotAligned));
        assert_eq!(f.erase(512, 1024), Err(RamFlashError::NotAligned));
        assert_eq!(f.erase(1024, 3072), Err(RamFlashError::OutOfBounds));
        assert_eq!(f.write(2048, &[0; 4]), Err(RamFlashError::OutOfBounds));
        let mut b = [0; 3];
        assert_eq!(f.read(2046, &mut b), Err(RamFlashError::OutOfBounds));
        // Rejected operations are not counted.
        assert_eq!(f.ops(), 0);
    }

    #[test]
    fn a_cut_tears_the_operation_and_stops_everything_until_repowered() {
        let mut f = Small::new();
        f.write(0, &[0; 8]).unwrap();
        f.cut_at(1, Tear::Half);
        assert_eq!(f.write(8, &[0; 8]), Err(RamFlashError::PowerCut));
        // Half of two words is one word, then one byte of the next.
        assert_eq!(&f.as_bytes()[8..16], &[0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF]);
        assert!(f.is_cut());
        let mut b = [0; 4];
        assert_eq!(f.read(0, &mut b), Err(RamFlashError::PowerCut));
        assert_eq!(f.erase(0, 1024), Err(RamFlashError::PowerCut));
        f.repower();
        f.read(0, &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        assert_eq!(f.ops(), 2);
    }

    #[test]
    fn a_cut_erase_is_left_half_done() {
        let mut f = Small::new();
        f.write(0, &[0; 1024]).unwrap();
        f.cut_at(1, Tear::Half);
        assert_eq!(f.erase(0, 1024), Err(RamFlashError::PowerCut));
        assert!(f.as_bytes()[..513].iter().all(|b| *b == 0xFF));
        assert!(f.as_bytes()[513..1024].iter().all(|b| *b == 0));
    }

    #[test]
    fn tears_clamp_to_the_operation() {
        assert_eq!(Tear::Nothing.applied(8), 0);
        assert_eq!(Tear::Half.applied(4), 1);
        assert_eq!(Tear::Half.applied(8), 5);
        assert_eq!(Tear::AllButLastByte.applied(8), 7);
        assert_eq!(Tear::Bytes(100).applied(8), 8);
    }
}
