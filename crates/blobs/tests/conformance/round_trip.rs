//! Bytes stored come back unchanged, under the SHA-256 of their bytes, once.

use complaints_blobs::{Limits, StoredBlob};

use crate::support::*;

crate::conformance!(
    evidence_is_read_back_unchanged_from_its_sha256_address,
    the_same_bytes_stored_twice_are_one_object_at_one_address,
    an_empty_upload_is_stored_as_the_empty_blob,
    an_upload_exactly_at_the_limit_is_stored,
);

const LETTER: &[u8] = b"Dear Sir or Madam,\n\nMy mother's pendant alarm was not answered \
on 3 November 2026 at 02:14. I enclose the call log.\n\nYours faithfully,\n";

async fn evidence_is_read_back_unchanged_from_its_sha256_address(h: Harness) {
    let expected = sha256_of(LETTER);

    let stored = h
        .store
        .put_stream(chunks_of(LETTER, 7), &Limits::default())
        .await
        .unwrap();

    assert_eq!(
        stored,
        StoredBlob {
            sha256: expected.clone(),
            size_bytes: LETTER.len() as u64,
        }
    );
    let (bytes, _) = read_all(h.store.get_stream(&expected).await.unwrap()).await;
    assert_eq!(bytes, LETTER);
    assert_eq!(h.store.size(&expected).await.unwrap(), LETTER.len() as u64);
    assert_eq!(
        h.keys().await,
        vec![format!("sha256/{}/{expected}", &expected[..2])]
    );
}

async fn the_same_bytes_stored_twice_are_one_object_at_one_address(h: Harness) {
    let first = h
        .store
        .put_stream(chunks_of(LETTER, 1024), &Limits::default())
        .await
        .unwrap();
    let second = h
        .store
        .put_stream(chunks_of(LETTER, 3), &Limits::default())
        .await
        .unwrap();

    assert_eq!(first, second);
    assert_eq!(
        h.keys().await,
        vec![format!("sha256/{}/{}", &first.sha256[..2], first.sha256)]
    );
}

async fn an_empty_upload_is_stored_as_the_empty_blob(h: Harness) {
    let stored = h
        .store
        .put_stream(chunks_of(b"", 1), &Limits::default())
        .await
        .unwrap();

    assert_eq!(
        stored.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(stored.size_bytes, 0);
    let (bytes, _) = read_all(h.store.get_stream(&stored.sha256).await.unwrap()).await;
    assert!(bytes.is_empty());
}

async fn an_upload_exactly_at_the_limit_is_stored(h: Harness) {
    let limits = Limits {
        max_bytes: LETTER.len() as u64,
        ..Limits::default()
    };

    let stored = h
        .store
        .put_stream(chunks_of(LETTER, 16), &limits)
        .await
        .unwrap();

    assert_eq!(stored.sha256, sha256_of(LETTER));
}
