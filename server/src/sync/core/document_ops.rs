//! How many operations a whole-document chunk holds, read from its bytes without building it.
//!
//! automerge 0.6 builds a loaded document at about half a KiB per operation, and its document
//! format compresses text so well that a few KB can hold millions of operations. A plan's
//! operation limit is only a bound if a document chunk a member sends is measured before it is
//! loaded, so this reads the chunk's column layout and counts the values of its action column
//! (one per operation), inflating it as a stream when it is deflated: memory stays constant and
//! the count stops as soon as it passes the limit.
//!
//! The layout (automerge's binary format, document chunk): actors (count, then each
//! length-prefixed), heads (count, then 32 bytes each), change column metadata and op column
//! metadata (count, then pairs of column spec and byte length), then the change columns' data and
//! the op columns' data. A column spec is `id << 4 | deflated << 3 | type`; the action column is
//! id 4 with the unsigned-integer type (2), run-length encoded.

use std::io::Read;

/// The action column's id in a document's op columns.
const ACTION_COLUMN: u64 = 4;
/// The run-length encoded unsigned-integer column type.
const INTEGER_TYPE: u64 = 2;
const DEFLATED: u64 = 0b1000;

/// The chunk's bytes are not laid out as a document.
#[derive(Debug, PartialEq, Eq)]
pub struct NotADocument;

/// How many operations the document chunk `data` (the chunk's body, after its header) holds;
/// any count above `limit` is reported as `limit + 1` (counting stops there).
pub fn ops_in_document(data: &[u8], limit: u64) -> Result<u64, NotADocument> {
    let mut input = data;
    let actors = uleb(&mut input)?;
    for _ in 0..actors {
        let len = uleb(&mut input)?;
        skip(&mut input, len)?;
    }
    let heads = uleb(&mut input)?;
    skip(&mut input, heads.checked_mul(32).ok_or(NotADocument)?)?;
    let change_columns = columns(&mut input)?;
    let op_columns = columns(&mut input)?;
    let change_bytes = change_columns
        .iter()
        .try_fold(0u64, |sum, (_, len)| sum.checked_add(*len))
        .ok_or(NotADocument)?;
    skip(&mut input, change_bytes)?;
    let mut offset = 0u64;
    for (spec, len) in op_columns {
        if spec >> 4 == ACTION_COLUMN && spec & 0b111 == INTEGER_TYPE {
            let start = usize::try_from(offset).map_err(|_| NotADocument)?;
            let end = usize::try_from(offset.checked_add(len).ok_or(NotADocument)?)
                .map_err(|_| NotADocument)?;
            let column = input.get(start..end).ok_or(NotADocument)?;
            return if spec & DEFLATED != 0 {
                count_run_lengths(flate2::read::DeflateDecoder::new(column), limit)
            } else {
                count_run_lengths(column, limit)
            };
        }
        offset = offset.checked_add(len).ok_or(NotADocument)?;
    }
    // No action column: a document without operations.
    Ok(0)
}

fn columns(input: &mut &[u8]) -> Result<Vec<(u64, u64)>, NotADocument> {
    let count = uleb(input)?;
    // Each column takes at least two bytes of metadata: a count past that is not a document.
    if count > input.len() as u64 / 2 {
        return Err(NotADocument);
    }
    (0..count)
        .map(|_| Ok((uleb(input)?, uleb(input)?)))
        .collect()
}

fn uleb(input: &mut &[u8]) -> Result<u64, NotADocument> {
    leb128::read::unsigned(input).map_err(|_| NotADocument)
}

fn skip(input: &mut &[u8], len: u64) -> Result<(), NotADocument> {
    let len = usize::try_from(len).map_err(|_| NotADocument)?;
    *input = input.get(len..).ok_or(NotADocument)?;
    Ok(())
}

/// The number of values in a run-length encoded unsigned-integer column: runs of a signed
/// count then one value (a repeat), or a negative count then that many values (literals), or
/// zero then a count of nulls. Stops past `limit`.
fn count_run_lengths(column: impl Read, limit: u64) -> Result<u64, NotADocument> {
    let mut column = std::io::BufReader::new(column);
    let mut total = 0u64;
    loop {
        let count = match leb128::read::signed(&mut column) {
            Ok(count) => count,
            Err(leb128::read::Error::IoError(err))
                if err.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                return Ok(total);
            }
            Err(_) => return Err(NotADocument),
        };
        let values = match count {
            0 => leb128::read::unsigned(&mut column).map_err(|_| NotADocument)?,
            repeat if repeat > 0 => {
                leb128::read::unsigned(&mut column).map_err(|_| NotADocument)?;
                repeat.unsigned_abs()
            }
            literals => {
                let literals = literals.unsigned_abs();
                // Each literal is read (at least a byte each), so a long literal run is as
                // long in the column: it is counted as it is read, and stops past the limit.
                for _ in 0..literals {
                    leb128::read::unsigned(&mut column).map_err(|_| NotADocument)?;
                    total += 1;
                    if total > limit {
                        return Ok(limit.saturating_add(1));
                    }
                }
                0
            }
        };
        total = total.saturating_add(values);
        if total > limit {
            return Ok(limit.saturating_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

    use super::*;

    /// The body of the document chunk `save` wrote.
    fn body(saved: &[u8]) -> &[u8] {
        let mut rest = &saved[9..];
        let len = leb128::read::unsigned(&mut rest).unwrap() as usize;
        &rest[..len]
    }

    fn counted(doc: &mut AutoCommit) -> u64 {
        ops_in_document(body(&doc.save()), u64::MAX - 1).unwrap()
    }

    #[test]
    fn counts_what_automerge_loads() {
        let mut doc = AutoCommit::new();
        assert_eq!(counted(&mut doc), 0);
        doc.put(ROOT, "title", "Back to singing").unwrap();
        let text = doc.put_object(ROOT, "whatMatters", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, "I sing on Sundays").unwrap();
        doc.commit();
        doc.splice_text(&text, 2, 4, "").unwrap();
        let list = doc.put_object(ROOT, "goals", ObjType::List).unwrap();
        for i in 0..300 {
            let goal = doc.insert_object(&list, i, ObjType::Map).unwrap();
            doc.put(&goal, "id", format!("goal-{i}")).unwrap();
            doc.put(&goal, "done", i % 3 == 0).unwrap();
        }
        doc.commit();
        let loaded = automerge::Automerge::load(&doc.save()).unwrap();
        assert_eq!(counted(&mut doc), loaded.stats().num_ops);
    }

    #[test]
    fn a_long_text_that_compresses_to_little_is_counted_and_stops_at_the_limit() {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "essay", ObjType::Text).unwrap();
        let long: String = "the day after court "
            .chars()
            .cycle()
            .take(200_000)
            .collect();
        doc.splice_text(&text, 0, 0, &long).unwrap();
        doc.commit();
        let saved = doc.save();
        assert!(saved.len() < 10_000, "{} bytes", saved.len());
        assert_eq!(ops_in_document(body(&saved), u64::MAX - 1), Ok(200_001));
        assert_eq!(ops_in_document(body(&saved), 1_000), Ok(1_001));
        assert_eq!(doc.length(&text), 200_000);
    }

    #[test]
    fn bytes_that_are_not_a_document_are_refused() {
        assert_eq!(ops_in_document(&[], 10), Err(NotADocument));
        assert_eq!(ops_in_document(&[0xff; 12], 10), Err(NotADocument));
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "title", "x").unwrap();
        let saved = doc.save();
        let cut = body(&saved);
        assert_eq!(
            ops_in_document(&cut[..cut.len() / 2], 10),
            Err(NotADocument)
        );
    }
}
