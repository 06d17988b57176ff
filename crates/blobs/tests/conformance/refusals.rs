//! Uploads that are refused or cut off leave nothing behind.

use bytes::Bytes;
use complaints_blobs::{BlobError, Limits};
use futures_util::stream::{self, StreamExt};

use crate::support::*;

crate::conformance!(
    an_upload_over_the_limit_is_too_large_and_nothing_is_stored,
    an_upload_refused_after_whole_parts_were_sent_leaves_nothing_behind,
    an_upload_cut_off_mid_way_is_incomplete_and_nothing_is_stored,
    an_upload_cut_off_after_whole_parts_were_sent_leaves_nothing_behind,
    a_refused_media_type_is_named_and_nothing_is_stored,
);

const MIB: usize = 1024 * 1024;

async fn an_upload_over_the_limit_is_too_large_and_nothing_is_stored(h: Harness) {
    let limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };

    let refused = h
        .store
        .put_stream(chunks_of(b"eleven byte", 4), &limits)
        .await;

    assert!(
        matches!(refused, Err(BlobError::TooLarge { limit: 10 })),
        "{refused:?}"
    );
    h.assert_nothing_stored().await;
}

async fn an_upload_refused_after_whole_parts_were_sent_leaves_nothing_behind(h: Harness) {
    let limits = Limits {
        max_bytes: (6 * MIB) as u64,
        ..Limits::default()
    };

    let refused = h
        .store
        .put_stream(chunks_of(&filler(7 * MIB), 64 * 1024), &limits)
        .await;

    assert!(
        matches!(refused, Err(BlobError::TooLarge { limit }) if limit == (6 * MIB) as u64),
        "{refused:?}"
    );
    h.assert_nothing_stored().await;
}

/// `good` bytes in small chunks, then the connection breaks.
fn cut_off_after(
    good: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    chunks_of(&good, 64 * 1024)
        .map(|chunk| Ok(chunk.unwrap_or_else(|never| match never {})))
        .chain(stream::iter([Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the caller went away",
        ))]))
        .chain(
            chunks_of(b"never read", 4)
                .map(|chunk| Ok(chunk.unwrap_or_else(|never| match never {}))),
        )
}

async fn an_upload_cut_off_mid_way_is_incomplete_and_nothing_is_stored(h: Harness) {
    let refused = h
        .store
        .put_stream(
            cut_off_after(b"the first half of a scanned letter".to_vec()),
            &Limits::default(),
        )
        .await;

    match refused {
        Err(BlobError::Incomplete { source }) => {
            assert_eq!(source.to_string(), "the caller went away");
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
    h.assert_nothing_stored().await;
}

async fn an_upload_cut_off_after_whole_parts_were_sent_leaves_nothing_behind(h: Harness) {
    let refused = h
        .store
        .put_stream(cut_off_after(filler(11 * MIB)), &Limits::default())
        .await;

    assert!(
        matches!(refused, Err(BlobError::Incomplete { .. })),
        "{refused:?}"
    );
    h.assert_nothing_stored().await;
}

async fn a_refused_media_type_is_named_and_nothing_is_stored(h: Harness) {
    let limits = Limits::default();

    let refused = limits.check_media_type("application/x-msdownload");

    match refused {
        Err(error @ BlobError::RefusedMediaType { .. }) => {
            assert_eq!(
                error.to_string(),
                "evidence of media type \"application/x-msdownload\" is not accepted"
            );
        }
        other => panic!("expected RefusedMediaType, got {other:?}"),
    }
    assert!(limits.check_media_type("application/pdf").is_ok());
    h.assert_nothing_stored().await;
}
