//! Large evidence streams in and out in pieces, and clones of one store work side by side.

use std::convert::Infallible;

use bytes::Bytes;
use complaints_blobs::Limits;
use futures_util::stream::{self, StreamExt};
use sha2::{Digest, Sha256};

use crate::support::*;

crate::conformance!(
    eight_mebibytes_streamed_in_small_chunks_round_trip,
    clones_of_one_store_upload_side_by_side,
);

const CHUNK: usize = 16 * 1024;
const CHUNKS: usize = 512; // 8 MiB

/// Chunk `i` of the large recording, made when it is asked for.
fn chunk(i: usize) -> Bytes {
    Bytes::from(
        (0..CHUNK)
            .map(|j| ((i * 31 + j) % 253) as u8)
            .collect::<Vec<u8>>(),
    )
}

async fn eight_mebibytes_streamed_in_small_chunks_round_trip(h: Harness) {
    let mut expected = Sha256::new();
    for i in 0..CHUNKS {
        expected.update(chunk(i));
    }
    let expected = hex::encode(expected.finalize());
    // Made lazily, one chunk at a time: the whole never exists in the test.
    let recording = stream::iter(0..CHUNKS).map(|i| Ok::<_, Infallible>(chunk(i)));

    let stored = h
        .store
        .put_stream(recording, &Limits::default())
        .await
        .unwrap();

    assert_eq!(stored.sha256, expected);
    assert_eq!(stored.size_bytes, 8 * 1024 * 1024);
    let mut read = h.store.get_stream(&stored.sha256).await.unwrap();
    let mut hasher = Sha256::new();
    let (mut pieces, mut total) = (0, 0);
    while let Some(piece) = read.next().await {
        let piece = piece.unwrap();
        total += piece.len();
        pieces += 1;
        hasher.update(&piece);
    }
    assert_eq!(hex::encode(hasher.finalize()), expected);
    assert_eq!(total, 8 * 1024 * 1024);
    assert!(pieces > 1, "read back in {pieces} piece");
}

async fn clones_of_one_store_upload_side_by_side(h: Harness) {
    let uploads: Vec<_> = ["first scan", "second scan", "third scan"]
        .into_iter()
        .map(|text| {
            let store = h.store.clone();
            tokio::spawn(async move {
                store
                    .put_stream(chunks_of(text.as_bytes(), 4), &Limits::default())
                    .await
            })
        })
        .collect();
    let mut stored = Vec::new();
    for upload in uploads {
        stored.push(upload.await.unwrap().unwrap().sha256);
    }

    assert_eq!(
        stored,
        vec![
            sha256_of(b"first scan"),
            sha256_of(b"second scan"),
            sha256_of(b"third scan"),
        ]
    );
    assert_eq!(h.keys().await.len(), 3);
}
