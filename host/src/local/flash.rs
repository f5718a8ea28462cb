//! The agent's flash store in a file, for the agent running inside the host: a crash of
//! the host process (or of the machine) keeps its idempotency memory, its in-flight
//! journal and its outbox, exactly as a power cut does on the board.
//!
//! [`FileFlash`] is an `embedded-storage` NOR flash over a file, with the semantics of
//! common Cortex-M internal flash that [`FlashStore`] is written and tested against
//! (the same as `relais_agent::store::flash::RamFlash` and the QEMU board's file flash):
//! erase works on whole blocks of [`FILE_FLASH_BLOCK`] bytes and sets every bit; a program
//! operation writes whole [`FILE_FLASH_WORD`]-byte words and can only clear bits (a word
//! becomes `old & new`, so programming it twice is allowed: [`MultiwriteNorFlash`], which
//! [`FlashStore`] requires).
//!
//! **Durability.** Every write and erase is a `pwrite` followed by `fdatasync`
//! before it returns, so what the store reported done survives a `SIGKILL` of the
//! process and a crash of the machine (as far as the disk honours flushes). An operation
//! interrupted half-way leaves a prefix of it at worst, the failure model
//! sequential-storage is built for. Reads come from a copy of the file kept in RAM (the
//! store scans whole areas on lookups; half a megabyte costs nothing on a host).
//!
//! **One user.** The file is locked (`flock`, exclusive) while open: a second `relais`
//! process on the same store gets an error instead of corrupting it.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use relais_agent::store::StoreError;
use relais_agent::store::flash::{Capacity, FlashStore, Layout};

/// Erase block of a [`FileFlash`]: 4 KiB, one page of the host's page cache.
pub const FILE_FLASH_BLOCK: usize = 4096;
/// Program unit of a [`FileFlash`]: one 32-bit word, as on the boards.
pub const FILE_FLASH_WORD: usize = 4;

/// What the store of the agent inside the host keeps. A host has room to spare: ten
/// thousand opt-outs, the idempotency records of the last 1 024 jobs (finished ones are
/// evicted oldest first, open ones never), and 256 unacknowledged events of any size.
pub const STORE_CAPACITY: Capacity = Capacity {
    suppression: 10_000,
    jobs: 1024,
    outbox: 256,
};

/// The areas of the store in the file, packed after the header block.
pub const STORE_LAYOUT: Layout<FileFlash> =
    match Layout::packed(FILE_FLASH_BLOCK as u32, STORE_CAPACITY) {
        Ok(layout) => layout,
        Err(_) => panic!("the local store layout does not fit the file flash geometry"),
    };

/// Size of a store file: the header block and [`STORE_LAYOUT`] (568 KiB).
pub const STORE_SIZE: usize = STORE_LAYOUT.end() as usize;

/// The first bytes of a store file, before the capacities (the header block is
/// otherwise left erased; the store's areas follow it).
const MAGIC: &[u8; 16] = b"relais-store\0v1\0";

/// The header a store file of [`STORE_LAYOUT`] starts with: [`MAGIC`], then the
/// capacities (suppression `u32`, jobs `u16`, outbox `u16`, little-endian).
fn header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[..16].copy_from_slice(MAGIC);
    h[16..20].copy_from_slice(&STORE_CAPACITY.suppression.to_le_bytes());
    h[20..22].copy_from_slice(&STORE_CAPACITY.jobs.to_le_bytes());
    h[22..24].copy_from_slice(&STORE_CAPACITY.outbox.to_le_bytes());
    h
}

/// Checks the header of a store file, writing it in a file still fully erased (new,
/// or created by a run that stopped before writing it). `Err(Some(reason))`: not a
/// store of this layout; `Err(None)`: the header could not be written.
fn check_header(flash: &mut FileFlash) -> Result<(), Option<String>> {
    let want = header();
    let have = &flash.as_bytes()[..want.len()];
    if have == want {
        return Ok(());
    }
    if have.starts_with(&MAGIC[..12]) {
        return Err(Some(
            "made by another version of relais, with another layout".into(),
        ));
    }
    if flash.as_bytes().iter().all(|&b| b == 0xFF) {
        return flash.write(0, &want).map_err(|_| None);
    }
    Err(Some("not a relais device store (no header)".into()))
}

/// The agent's store in a file (see [`open_store`]).
pub type LocalStore = FlashStore<FileFlash>;

/// Why a [`FileFlash`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFlashError {
    /// Offset or length not aligned to the operation's unit.
    NotAligned,
    /// Beyond the end of the flash.
    OutOfBounds,
    /// The file could not be written or synced.
    Io(io::ErrorKind),
}

impl fmt::Display for FileFlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileFlashError::NotAligned => f.write_str("flash operation not aligned"),
            FileFlashError::OutOfBounds => f.write_str("flash operation out of bounds"),
            FileFlashError::Io(kind) => write!(f, "flash file: {kind}"),
        }
    }
}

impl std::error::Error for FileFlashError {}

impl NorFlashError for FileFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FileFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FileFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FileFlashError::Io(_) => NorFlashErrorKind::Other,
        }
    }
}

/// A NOR flash in a file; see the [module docs](self).
pub struct FileFlash {
    file: File,
    /// The file's contents (reads are served from here; writes go to both).
    mirror: Vec<u8>,
    path: PathBuf,
}

impl fmt::Debug for FileFlash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileFlash")
            .field("path", &self.path)
            .field("size", &self.mirror.len())
            .finish_non_exhaustive()
    }
}

impl FileFlash {
    /// Opens the flash in `path`, creating it erased (every byte `0xFF`) when there is no
    /// file. Fails with [`io::ErrorKind::InvalidData`] when the file is not `size` bytes
    /// long, and with [`io::ErrorKind::WouldBlock`] when another process has it open.
    /// `size` must be a non-zero multiple of [`FILE_FLASH_BLOCK`].
    pub fn open(path: &Path, size: usize) -> io::Result<FileFlash> {
        check_size(size)?;
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::create(path, size),
            Err(e) => Err(e),
            Ok(_) => Self::open_existing(path, size),
        }
    }

    /// Creates an erased flash of `size` bytes in `path`; fails if the file exists. The
    /// file appears complete or not at all (written aside, synced, then renamed).
    pub fn create(path: &Path, size: usize) -> io::Result<FileFlash> {
        check_size(size)?;
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = dir.join(format!(
            ".{}.new-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&temp)?;
            let erased = [0xFF_u8; FILE_FLASH_BLOCK];
            for _ in 0..size / FILE_FLASH_BLOCK {
                file.write_all(&erased)?;
            }
            file.sync_all()?;
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} already exists", path.display()),
                ));
            }
            std::fs::rename(&temp, path)?;
            // The rename itself must reach the disk too.
            File::open(&dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        Self::open_existing(path, size)
    }

    fn open_existing(path: &Path, size: usize) -> io::Result<FileFlash> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        lock(&file).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is in use by another process", path.display()),
                )
            } else {
                e
            }
        })?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        if meta.len() != size as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} holds {} bytes, a flash of {size} bytes was expected",
                    path.display(),
                    meta.len()
                ),
            ));
        }
        let mut mirror = Vec::with_capacity(size);
        file.read_to_end(&mut mirror)?;
        if mirror.len() != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} changed size while being read", path.display()),
            ));
        }
        Ok(FileFlash {
            file,
            mirror,
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The contents (as last written).
    pub fn as_bytes(&self) -> &[u8] {
        &self.mirror
    }

    /// The byte range `offset..offset+len`, checked against `unit` alignment and the size.
    fn range(
        &self,
        offset: u32,
        len: usize,
        unit: usize,
    ) -> Result<(usize, usize), FileFlashError> {
        let start = offset as usize;
        if start % unit != 0 || len % unit != 0 {
            return Err(FileFlashError::NotAligned);
        }
        match start.checked_add(len) {
            Some(end) if end <= self.mirror.len() => Ok((start, end)),
            _ => Err(FileFlashError::OutOfBounds),
        }
    }

    /// Writes `bytes` at `start` in the file and syncs, then updates the mirror. On
    /// failure the mirror is reloaded from the file for that range, so reads show what
    /// the file holds.
    fn commit(&mut self, start: usize, bytes: &[u8]) -> Result<(), FileFlashError> {
        let done = self
            .file
            .write_all_at(bytes, start as u64)
            .and_then(|()| self.file.sync_data());
        match done {
            Ok(()) => {
                self.mirror[start..start + bytes.len()].copy_from_slice(bytes);
                Ok(())
            }
            Err(e) => {
                let end = start + bytes.len();
                let _ = self
                    .file
                    .read_exact_at(&mut self.mirror[start..end], start as u64);
                Err(FileFlashError::Io(e.kind()))
            }
        }
    }
}

fn check_size(size: usize) -> io::Result<()> {
    if size == 0 || size % FILE_FLASH_BLOCK != 0 || u32::try_from(size).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("flash size {size} is not a multiple of {FILE_FLASH_BLOCK} below 4 GiB"),
        ));
    }
    Ok(())
}

/// Takes an exclusive advisory lock on `file`, without waiting.
fn lock(file: &File) -> io::Result<()> {
    // SAFETY: flock on a descriptor this function borrows for the call's duration.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl ErrorType for FileFlash {
    type Error = FileFlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FileFlashError> {
        let (start, end) = self.range(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.mirror[start..end]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.mirror.len()
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = FILE_FLASH_WORD;
    const ERASE_SIZE: usize = FILE_FLASH_BLOCK;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FileFlashError> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(FileFlashError::OutOfBounds)?;
        let (start, _) = self.range(from, len, FILE_FLASH_BLOCK)?;
        let erased = vec![0xFF_u8; len];
        self.commit(start, &erased)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FileFlashError> {
        let (start, end) = self.range(offset, bytes.len(), FILE_FLASH_WORD)?;
        // Programming only clears bits.
        let programmed: Vec<u8> = self.mirror[start..end]
            .iter()
            .zip(bytes)
            .map(|(old, new)| old & new)
            .collect();
        self.commit(start, &programmed)
    }
}

/// Programming a word twice gives `old & new`, as on the boards' flash.
impl MultiwriteNorFlash for FileFlash {}

/// How [`open_store`] found the store file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOpened {
    /// The file held a store: it was reopened (an interrupted operation finished or
    /// undone).
    Existing,
    /// There was no file: a new, empty store was created.
    Created,
    /// The file was not a readable store of this layout: it was moved aside and a new,
    /// empty store created. The agent starts without its idempotency memory or opt-outs.
    Replaced {
        /// Where the old file is now.
        moved_to: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
}

impl fmt::Display for StoreOpened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreOpened::Existing => f.write_str("device store reopened"),
            StoreOpened::Created => f.write_str("new device store created"),
            StoreOpened::Replaced { moved_to, reason } => write!(
                f,
                "the device store could not be used ({reason}); it was moved to {} and a new, \
                 empty store created: the device no longer remembers earlier jobs or opt-outs",
                moved_to.display()
            ),
        }
    }
}

/// Opens the agent's store in `path` ([`STORE_LAYOUT`] after a header block naming the
/// layout, [`STORE_SIZE`] bytes), creating it when there is no file. A file of another
/// size or header, or one that does not read as a store,
/// is renamed to `<path>.unreadable-<unix seconds>` and a new store created; the second
/// value says which happened (show [`StoreOpened::Replaced`] to the user). Errors (with a
/// message for the user): the file is in use by another process, cannot be read or
/// written, or is not a regular file. A read error is never answered by starting afresh.
pub fn open_store(path: &Path) -> Result<(LocalStore, StoreOpened), String> {
    let shown = path.display();
    let created = std::fs::symlink_metadata(path).is_err();
    let reason = match FileFlash::open(path, STORE_SIZE) {
        Ok(mut flash) => match check_header(&mut flash) {
            Ok(()) => match FlashStore::try_open(flash, STORE_LAYOUT) {
                Ok(store) => {
                    let how = if created {
                        StoreOpened::Created
                    } else {
                        StoreOpened::Existing
                    };
                    return Ok((store, how));
                }
                Err(e) if e.error == StoreError::Medium => {
                    return Err(format!("device store {shown}: {}", e.error));
                }
                // Dropped (and unlocked) before the file is moved.
                Err(e) => e.error.to_string(),
            },
            Err(Some(reason)) => reason,
            Err(None) => return Err(format!("device store {shown}: cannot write its header")),
        },
        Err(e) if e.kind() == io::ErrorKind::InvalidData => e.to_string(),
        Err(e) => return Err(format!("device store {shown}: {e}")),
    };
    let moved_to = aside(path)?;
    tracing::warn!(
        "device store {shown} unreadable ({reason}): moved to {}",
        moved_to.display()
    );
    let mut flash = FileFlash::create(path, STORE_SIZE)
        .map_err(|e| format!("device store {shown}: cannot create it: {e}"))?;
    check_header(&mut flash)
        .map_err(|_| format!("device store {shown}: cannot write its header"))?;
    let store = FlashStore::try_open(flash, STORE_LAYOUT)
        .map_err(|e| format!("device store {shown}: new store: {}", e.error))?;
    Ok((store, StoreOpened::Replaced { moved_to, reason }))
}

/// Renames `path` to a free `<path>.unreadable-<unix seconds>[-n]`.
fn aside(path: &Path) -> Result<PathBuf, String> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = format!("{}.unreadable-{secs}", path.display());
    for n in 0..100 {
        let candidate = if n == 0 {
            PathBuf::from(&base)
        } else {
            PathBuf::from(format!("{base}-{n}"))
        };
        if std::fs::symlink_metadata(&candidate).is_ok() {
            continue;
        }
        return std::fs::rename(path, &candidate)
            .map(|()| candidate)
            .map_err(|e| format!("device store {}: cannot move it aside: {e}", path.display()));
    }
    Err(format!(
        "device store {}: no free name to move it aside",
        path.display()
    ))
}
