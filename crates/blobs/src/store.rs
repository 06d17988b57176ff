//! The blob store's calls: put a stream of bytes at its content address, read, size and delete.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::address::{StoredBlob, content_key, temporary_key};
use crate::error::BlobError;
use crate::limits::Limits;

/// The bytes of one blob, as they are read from the store.
pub type BlobStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// Each multipart part (S3's smallest but the last's is 5 MiB).
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts in flight at once: with one being filled, at most three parts'
/// worth of an upload is in memory.
const PARTS_IN_FLIGHT: usize = 2;

/// The evidence blob store. Cheap to clone; clones share one backend.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
}

impl BlobStore {
    /// The store the URL names: `file:///path` or a plain path (the local
    /// filesystem, the directory created if missing), or `s3://bucket[/prefix]?...`
    /// (S3-compatible storage; see the crate documentation for the settings).
    pub fn from_url(url: &str) -> Result<BlobStore, BlobError> {
        Ok(BlobStore {
            store: crate::location::open(url)?,
        })
    }

    /// A store over an `object_store` backend built elsewhere.
    pub fn from_object_store(store: Arc<dyn ObjectStore>) -> BlobStore {
        BlobStore { store }
    }

    /// Stores the bytes of `chunks` at their content address and returns it.
    ///
    /// The bytes are hashed and written as they arrive, never gathered into
    /// one buffer: at most a few 5 MiB parts are held at once. They go under
    /// a temporary key and are moved to their address only once the stream
    /// has ended cleanly within `limits.max_bytes`; storing bytes that are
    /// already stored leaves the one object there is.
    ///
    /// Nothing is stored when this returns an error:
    /// [`BlobError::TooLarge`] as soon as the bytes pass the limit,
    /// [`BlobError::Incomplete`] when the stream yields an error,
    /// [`BlobError::Store`] when the backend fails. The media type is the
    /// caller's to check first ([`Limits::check_media_type`]).
    pub async fn put_stream<S, E>(
        &self,
        chunks: S,
        limits: &Limits,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        let temporary = temporary_key();
        let upload = self.store.put_multipart(&temporary).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let written = match write_all(&mut writer, chunks, limits).await {
            Ok(written) => written,
            Err(error) => {
                // Let parts already sent land first, so that the abort
                // removes them all and none arrives after it.
                let _ = writer.wait_for_capacity(0).await;
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%abort, key = %temporary, "aborting a refused evidence upload failed");
                }
                return Err(error);
            }
        };
        // A failure here leaves at most an incomplete multipart upload
        // (never an object), which S3 lifecycle rules expire.
        writer.finish().await?;
        let (sha256, size_bytes) = written;
        match self.settle(&temporary, &sha256).await {
            Ok(()) => Ok(StoredBlob { sha256, size_bytes }),
            Err(error) => {
                self.forget(&temporary).await;
                Err(error)
            }
        }
    }

    /// Moves a completed upload to its address, or drops it if the same
    /// bytes are already there.
    async fn settle(&self, temporary: &Path, sha256: &str) -> Result<(), BlobError> {
        let address = content_key(sha256)?;
        match self.store.head(&address).await {
            Ok(_) => {
                self.store.delete(temporary).await?;
                Ok(())
            }
            Err(object_store::Error::NotFound { .. }) => {
                // Two uploads of the same bytes racing here both move the
                // same bytes to the same key: still one object.
                self.store.rename(temporary, &address).await?;
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Removes a temporary object after a failure, as well as it can.
    async fn forget(&self, temporary: &Path) {
        match self.store.delete(temporary).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(%error, key = %temporary, "removing an unsettled evidence upload failed");
            }
        }
    }

    /// The bytes stored at `sha256`, streamed; [`BlobError::NotFound`] when
    /// there are none.
    pub async fn get_stream(&self, sha256: &str) -> Result<BlobStream, BlobError> {
        let address = content_key(sha256)?;
        let found = self.store.get(&address).await.map_err(not_found)?;
        Ok(found.into_stream().map_err(not_found).boxed())
    }

    /// How many bytes are stored at `sha256`; [`BlobError::NotFound`] when
    /// there are none.
    pub async fn size(&self, sha256: &str) -> Result<u64, BlobError> {
        let address = content_key(sha256)?;
        let meta = self.store.head(&address).await.map_err(not_found)?;
        Ok(meta.size)
    }

    /// Deletes the blob at `sha256`, for erasure. Idempotent: deleting what
    /// is not there succeeds.
    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        let address = content_key(sha256)?;
        match self.store.delete(&address).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// Writes every chunk into `writer`, hashing and counting; the hex SHA-256
/// and the size, or why the upload must be refused.
async fn write_all<S, E>(
    writer: &mut WriteMultipart,
    chunks: S,
    limits: &Limits,
) -> Result<(String, u64), BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    let mut chunks = std::pin::pin!(chunks);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| BlobError::Incomplete {
            source: error.into(),
        })?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limits.max_bytes {
            return Err(BlobError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        hasher.update(&chunk);
        writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        writer.put(chunk);
    }
    // Every full part has landed: a failure among them is still abortable.
    writer.wait_for_capacity(0).await?;
    Ok((hex::encode(hasher.finalize()), size))
}

fn not_found(error: object_store::Error) -> BlobError {
    match error {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        error => BlobError::Store(error),
    }
}
