//! Persistent flash for the agent's store under QEMU.
//!
//! QEMU's `lm3s6965evb` maps the chip's flash as read-only memory and does not model its
//! flash controller, so the store's flash lives in a file on the host, reached through
//! semihosting (`SYS_OPEN`/`SYS_SEEK`/`SYS_READ`/`SYS_WRITE`). Like real flash it keeps
//! its content when QEMU is killed and started again, which is what the power-cut tests
//! need; it costs no target RAM.
//!
//! NOR semantics are enforced here, as on the LM3S6965 (datasheet DS-LM3S6965 §8, "Flash
//! memory"): erase works on 1 KiB blocks and sets every bit; a program operation writes
//! whole 32-bit words and can only clear bits, so a word is programmed as
//! `old & new` — the same result the chip gives when a word is programmed twice.
//!
//! The file is `relais-flash.bin` in QEMU's working directory, created erased on first
//! use. A semihosting call that fails (host file missing, disk full) is reported as a
//! flash error; the store then reports a storage failure instead of losing data silently.

use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use semihosting::fs::{File, OpenOptions};
use semihosting::io::{Read, Seek, SeekFrom, Write};

/// Size of the emulated flash: 64 KiB, 64 blocks of 1 KiB.
pub const SIZE: usize = 64 * 1024;
/// Erase block (LM3S6965: 1 KiB).
pub const BLOCK: usize = 1024;
/// Program unit (LM3S6965: one 32-bit word).
pub const WORD: usize = 4;

/// Why a flash operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum FlashError {
    /// Offset or length not aligned to the operation's unit.
    NotAligned,
    /// Beyond the end of the flash.
    OutOfBounds,
    /// The host file could not be read or written.
    Host,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::Host => NorFlashErrorKind::Other,
        }
    }
}

/// The emulated flash, backed by a host file.
#[derive(Debug)]
pub struct HostFileFlash {
    file: File,
}

const PATH: &core::ffi::CStr = c"relais-flash.bin";

impl HostFileFlash {
    /// Opens the flash file, creating it erased (all `0xFF`) when it does not exist.
    ///
    /// Not inlined: its 1 KiB block of `0xFF` would otherwise stay in `main`'s stack
    /// frame, under the agent's loop, for good.
    #[inline(never)]
    pub fn open() -> Result<Self, FlashError> {
        if let Ok(file) = OpenOptions::new().read(true).write(true).open(PATH) {
            let mut flash = HostFileFlash { file };
            if flash.len() == Some(SIZE as u64) {
                return Ok(flash);
            }
        }
        // Missing or of the wrong size: start erased.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(PATH)
            .map_err(|_| FlashError::Host)?;
        let erased = [0xFF_u8; BLOCK];
        for _ in 0..SIZE / BLOCK {
            file.write_all(&erased).map_err(|_| FlashError::Host)?;
        }
        Ok(HostFileFlash { file })
    }

    fn len(&mut self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.len())
    }

    fn check(offset: u32, len: usize, unit: usize) -> Result<usize, FlashError> {
        let start = offset as usize;
        if !start.is_multiple_of(unit) || !len.is_multiple_of(unit) {
            return Err(FlashError::NotAligned);
        }
        match start.checked_add(len) {
            Some(end) if end <= SIZE => Ok(start),
            _ => Err(FlashError::OutOfBounds),
        }
    }

    fn read_at(&mut self, offset: usize, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.file
            .seek(SeekFrom::Start(offset as u64))
            .map_err(|_| FlashError::Host)?;
        self.file.read_exact(bytes).map_err(|_| FlashError::Host)
    }

    fn write_at(&mut self, offset: usize, bytes: &[u8]) -> Result<(), FlashError> {
        self.file
            .seek(SeekFrom::Start(offset as u64))
            .map_err(|_| FlashError::Host)?;
        self.file.write_all(bytes).map_err(|_| FlashError::Host)
    }
}

impl ErrorType for HostFileFlash {
    type Error = FlashError;
}

impl ReadNorFlash for HostFileFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        let start = Self::check(offset, bytes.len(), 1)?;
        self.read_at(start, bytes)
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl NorFlash for HostFileFlash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = BLOCK;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(FlashError::OutOfBounds)?;
        let start = Self::check(from, len, BLOCK)?;
        let erased = [0xFF_u8; BLOCK];
        for block in (start..start + len).step_by(BLOCK) {
            self.write_at(block, &erased)?;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let start = Self::check(offset, bytes.len(), WORD)?;
        // Program in chunks: read what is there, clear bits, write back.
        let mut chunk = [0u8; 64];
        let mut done = 0;
        while done < bytes.len() {
            let n = (bytes.len() - done).min(chunk.len());
            let old = &mut chunk[..n];
            self.read_at(start + done, old)?;
            for (o, new) in old.iter_mut().zip(&bytes[done..done + n]) {
                *o &= *new;
            }
            self.write_at(start + done, old)?;
            done += n;
        }
        Ok(())
    }
}

/// Programming a word twice gives `old & new`, as on the chip.
impl MultiwriteNorFlash for HostFileFlash {}
