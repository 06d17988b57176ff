//! Reading what is not there, and erasing what is.

use complaints_blobs::{BlobError, Limits};

use crate::support::*;

crate::conformance!(
    reading_an_unknown_sha256_is_not_found,
    a_deleted_blob_is_not_found_and_deleting_it_again_succeeds,
    erasing_one_blob_leaves_the_others,
    a_malformed_address_is_refused,
);

const RECORDING: &[u8] = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00";
const EMAIL: &[u8] =
    b"From: complainant@example.org\r\nSubject: missed visit\r\n\r\nNo carer came.\r\n";

async fn reading_an_unknown_sha256_is_not_found(h: Harness) {
    let unknown = sha256_of(b"never stored");

    let read = h.store.get_stream(&unknown).await.map(|_| ());
    let size = h.store.size(&unknown).await;

    assert!(matches!(read, Err(BlobError::NotFound)), "{read:?}");
    assert!(matches!(size, Err(BlobError::NotFound)), "{size:?}");
}

async fn a_deleted_blob_is_not_found_and_deleting_it_again_succeeds(h: Harness) {
    let stored = h
        .store
        .put_stream(chunks_of(RECORDING, 8), &Limits::default())
        .await
        .unwrap();

    h.store.delete(&stored.sha256).await.unwrap();
    h.store.delete(&stored.sha256).await.unwrap();

    let read = h.store.get_stream(&stored.sha256).await.map(|_| ());
    assert!(matches!(read, Err(BlobError::NotFound)), "{read:?}");
    assert_eq!(h.keys().await, Vec::<String>::new());
}

async fn erasing_one_blob_leaves_the_others(h: Harness) {
    let recording = h
        .store
        .put_stream(chunks_of(RECORDING, 8), &Limits::default())
        .await
        .unwrap();
    let email = h
        .store
        .put_stream(chunks_of(EMAIL, 8), &Limits::default())
        .await
        .unwrap();

    h.store.delete(&recording.sha256).await.unwrap();

    let (bytes, _) = read_all(h.store.get_stream(&email.sha256).await.unwrap()).await;
    assert_eq!(bytes, EMAIL);
    assert_eq!(
        h.keys().await,
        vec![format!("sha256/{}/{}", &email.sha256[..2], email.sha256)]
    );
}

async fn a_malformed_address_is_refused(h: Harness) {
    for address in [
        "../secrets",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    ] {
        let read = h.store.get_stream(address).await.map(|_| ());
        let delete = h.store.delete(address).await;
        assert!(matches!(read, Err(BlobError::InvalidAddress)), "{read:?}");
        assert!(
            matches!(delete, Err(BlobError::InvalidAddress)),
            "{delete:?}"
        );
    }
}
