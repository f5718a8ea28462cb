//! Glue between a blocking [`embedded_storage`] flash and sequential-storage's async API.
//!
//! sequential-storage is written against `embedded-storage-async`. Over a blocking flash
//! its futures never wait: each flash call completes inside the poll, so one poll with a
//! no-op waker runs an operation to its end ([`complete`]). No executor, no allocation.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embedded_storage::nor_flash as blocking;
use embedded_storage_async::nor_flash as nb_async;
use sequential_storage::map::{Key, SerializationError};

use crate::store::StoreError;

/// A blocking flash seen through the async traits.
pub(super) struct Blocking<'a, F>(pub &'a mut F);

impl<F: blocking::ErrorType> nb_async::ErrorType for Blocking<'_, F> {
    type Error = F::Error;
}

impl<F: blocking::ReadNorFlash> nb_async::ReadNorFlash for Blocking<'_, F> {
    const READ_SIZE: usize = F::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), F::Error> {
        self.0.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<F: blocking::NorFlash> nb_async::NorFlash for Blocking<'_, F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), F::Error> {
        self.0.erase(from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), F::Error> {
        self.0.write(offset, bytes)
    }
}

impl<F: blocking::MultiwriteNorFlash> nb_async::MultiwriteNorFlash for Blocking<'_, F> {}

/// Runs a sequential-storage operation over a [`Blocking`] flash to its end.
///
/// A future that is not ready after one poll would be waiting for something that never
/// comes here; it is dropped and reported as a medium error rather than spun on.
pub(super) fn complete<T, E>(
    operation: impl Future<Output = Result<T, sequential_storage::Error<E>>>,
) -> Result<T, StoreError> {
    let mut operation = pin!(operation);
    match operation
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result.map_err(store_error),
        Poll::Pending => Err(StoreError::Medium),
    }
}

/// The store's reading of a sequential-storage error.
fn store_error<E>(e: sequential_storage::Error<E>) -> StoreError {
    use sequential_storage::Error;
    match e {
        Error::Storage { .. } => StoreError::Medium,
        // The layout guarantees room for every capacity, so this is a last resort.
        Error::FullStorage | Error::ItemTooBig => StoreError::Full,
        // Bytes that do not decode as ours, or an item larger than any we write.
        Error::Corrupted { .. }
        | Error::SerializationError(_)
        | Error::BufferTooSmall(_)
        | Error::BufferTooBig
        | Error::LogicBug { .. } => StoreError::Corrupt,
        _ => StoreError::Medium,
    }
}

/// The key of every map item, one type for all areas so that sequential-storage's map code
/// is compiled once: a tag byte, then the key proper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// A meta entry (2 bytes).
    Meta(u8),
    /// A job record (9 bytes).
    Job(u64),
    /// An opt-out: number, digit count and scope in 7 bytes, then the brand (12 bytes).
    Suppression([u8; 11]),
    /// A keyword reply waiting to be sent, by its job key (9 bytes; meta area).
    Reply(u64),
}

impl Slot {
    const META: u8 = 0;
    const JOB: u8 = 1;
    const SUPPRESSION: u8 = 2;
    /// Tags from 16 up are later additions.
    const REPLY: u8 = 16;

    /// Encoded length for a tag.
    fn len(tag: u8) -> Result<usize, SerializationError> {
        match tag {
            Self::META => Ok(2),
            Self::JOB => Ok(9),
            Self::SUPPRESSION => Ok(12),
            Self::REPLY => Ok(9),
            _ => Err(SerializationError::InvalidFormat),
        }
    }
}

impl Key for Slot {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        let (tag, body): (u8, &[u8]) = match self {
            Slot::Meta(id) => (Self::META, core::slice::from_ref(id)),
            Slot::Job(key) => (Self::JOB, &key.to_le_bytes()),
            Slot::Suppression(key) => (Self::SUPPRESSION, key),
            Slot::Reply(key) => (Self::REPLY, &key.to_le_bytes()),
        };
        let out = buffer
            .get_mut(..1 + body.len())
            .ok_or(SerializationError::BufferTooSmall)?;
        out[0] = tag;
        out[1..].copy_from_slice(body);
        Ok(out.len())
    }

    fn deserialize_from(buffer: &[u8]) -> Result<(Self, usize), SerializationError> {
        let len = Self::get_len(buffer)?;
        let body = buffer
            .get(1..len)
            .ok_or(SerializationError::BufferTooSmall)?;
        let slot = match buffer[0] {
            Self::META => Slot::Meta(body[0]),
            Self::JOB => Slot::Job(u64::from_le_bytes(
                body.try_into()
                    .map_err(|_| SerializationError::InvalidFormat)?,
            )),
            Self::REPLY => Slot::Reply(u64::from_le_bytes(
                body.try_into()
                    .map_err(|_| SerializationError::InvalidFormat)?,
            )),
            _ => Slot::Suppression(
                body.try_into()
                    .map_err(|_| SerializationError::InvalidFormat)?,
            ),
        };
        Ok((slot, len))
    }

    fn get_len(buffer: &[u8]) -> Result<usize, SerializationError> {
        Self::len(*buffer.first().ok_or(SerializationError::BufferTooSmall)?)
    }
}
