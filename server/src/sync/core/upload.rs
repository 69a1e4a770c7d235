//! Checking an HTTP upload (`POST /api/v1/plans/{id}/changes`) before it is applied: the whole
//! body must be well-formed Automerge chunks.
//!
//! Not with `Automerge::load_with_options`: automerge 0.6 logs every error that function returns
//! at ERROR level (`#[instrument(err)]`), and to a load on its own an incremental upload (changes
//! that depend on ones the server already holds) is "missing dependencies". Every ordinary
//! upload logged an automerge ERROR line, so any member could flood the error log. Changes are
//! parsed as changes instead (`Change::try_from`, which logs nothing); a document chunk is still
//! read by a load, whose errors are the uploader's bad input, answered as such, not the server's.

use automerge::{Automerge, Change, LoadOptions, OnPartialLoad};

use super::changes::{CHUNK_TYPE_DOCUMENT, split_chunks};

/// Change chunk types (automerge's storage format).
const CHANGE: u8 = 1;
const COMPRESSED_CHANGE: u8 = 2;

/// Whether `bytes` is nothing but whole, well-formed chunks (changes, compressed changes or
/// documents) whose checksums hold. Changes may depend on changes not in `bytes`.
pub(super) fn well_formed(bytes: &[u8]) -> bool {
    let Ok(chunks) = split_chunks(bytes) else {
        return false;
    };
    chunks.into_iter().all(|(kind, chunk)| match kind {
        CHANGE | COMPRESSED_CHANGE => match Change::try_from(chunk) {
            // The checksum is the start of the (uncompressed) change's hash.
            Ok(change) => change.hash().0[..4] == chunk[4..8],
            Err(_) => false,
        },
        CHUNK_TYPE_DOCUMENT => {
            // A whole document: its load says nothing to the log either way (a damaged one
            // is the uploader's bad input, refused as unreadable).
            let load = || {
                Automerge::load_with_options(
                    chunk,
                    LoadOptions::new().on_partial_load(OnPartialLoad::Error),
                )
            };
            tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::new(), load)
                .is_ok()
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    fn edited() -> (AutoCommit, Vec<u8>) {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "title", "first").expect("put");
        doc.commit();
        let before = doc.get_heads();
        doc.put(ROOT, "title", "second").expect("put");
        doc.commit();
        doc.put(ROOT, "whatMatters", "third").expect("put");
        doc.commit();
        let changes = doc
            .get_changes(&before)
            .iter()
            .flat_map(|change| change.raw_bytes().to_vec())
            .collect();
        (doc, changes)
    }

    #[test]
    fn incremental_changes_whole_documents_and_nothing_are_well_formed() {
        let (mut doc, changes) = edited();
        assert!(well_formed(&changes), "changes depending on others");
        assert!(well_formed(&doc.save()));
        let mut both = doc.save();
        both.extend(&changes);
        assert!(well_formed(&both));
        let mut long = AutoCommit::new();
        long.put(ROOT, "whatMatters", "a long while ".repeat(400))
            .expect("put");
        long.commit();
        let mut change = long.get_changes(&[])[0].clone();
        let compressed = change.bytes().to_vec();
        assert_eq!(compressed[8], COMPRESSED_CHANGE);
        assert!(well_formed(&compressed));
        assert!(well_formed(&[]));
    }

    #[test]
    fn damaged_or_cut_uploads_are_not() {
        let (mut doc, changes) = edited();
        assert!(!well_formed(&changes[..changes.len() - 1]), "cut short");
        let mut extra = changes.clone();
        extra.push(0);
        assert!(!well_formed(&extra), "trailing garbage");
        let mut flipped = changes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(!well_formed(&flipped), "damaged data");
        let mut checksum = changes.clone();
        checksum[5] ^= 0xff;
        assert!(!well_formed(&checksum), "wrong checksum");
        let mut saved = doc.save();
        let middle = saved.len() / 2;
        saved[middle] ^= 0xff;
        assert!(!well_formed(&saved), "damaged document");
        assert!(!well_formed(&[0u8; 64]), "not automerge at all");
        assert!(!well_formed(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 0xff]));
    }
}
