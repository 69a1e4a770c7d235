//! The fast path (`plain_sync`) agrees with the general way of `decode`.

use super::*;
use crate::protocol::decode::decode_any;
use crate::protocol::plain_sync::plain_sync;

#[test]
fn javascript_sync_frames_take_the_plain_way() {
    for frame in [
        include_bytes!("../../../tests/fixtures/sync.cbor").as_slice(),
        include_bytes!("../../../tests/fixtures/sync-tagged-data.cbor"),
        include_bytes!("../../../tests/fixtures/request.cbor"),
    ] {
        let plain = plain_sync(frame).expect("a cbor-x sync frame is read the plain way");
        assert_eq!(Ok(plain), decode_any(frame));
    }
    for message in every_variant() {
        let frame = encode(&message);
        let is_sync = matches!(message, Message::Sync { .. } | Message::Request { .. });
        assert_eq!(plain_sync(&frame).is_some(), is_sync, "{message:?}");
    }
}

/// One value of a frame's top-level map, of the kinds clients send and some they should not.
fn any_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    prop_oneof![
        prop::sample::select(vec!["sync", "request", "ephemeral", "peer-1", "", "é"]).prop_map(t),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(|bytes| b(&bytes)),
        (
            prop::sample::select(vec![2u64, 64, 68]),
            prop::collection::vec(any::<u8>(), 0..4)
        )
            .prop_map(|(tag, bytes)| [head(6, tag), b(&bytes)].concat()),
        Just(NULL.to_vec()),
        Just(UNDEFINED.to_vec()),
        Just(vec![0xf5]),
        Just(vec![0xf0]),
        any::<u32>().prop_map(|n| uint(n.into())),
        Just(f64_(1.5)),
        Just([head(4, 1), t("x")].concat()),
        Just(head(5, 0)),
        Just(vec![0x7f, 0x61, b'a', 0xff]),
        Just(vec![0x62, 0xff, 0xfe]),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

    /// Whatever frame the plain way reads, the general way reads the same message from it.
    #[test]
    fn the_plain_way_agrees_with_the_general_one(
        entries in proptest::collection::vec(
            (
                proptest::sample::select(
                    vec!["type", "senderId", "targetId", "documentId", "data", "count", "x"],
                ),
                any_value(),
            ),
            0..8,
        ),
        start_from_sync in proptest::bool::ANY,
        cut in proptest::option::of(0usize..64),
        flip in proptest::option::of((0usize..64, 0u8..8)),
    ) {
        let mut all = if start_from_sync { sync_entries() } else { Vec::new() };
        all.extend(entries.into_iter().map(|(key, value)| kv(key, value)));
        let mut frame = map16(&all);
        if let Some((at, bit)) = flip {
            let at = at % frame.len();
            frame[at] ^= 1 << bit;
        }
        if let Some(cut) = cut {
            frame.truncate(frame.len().saturating_sub(cut % 4));
        }
        if let Some(plain) = plain_sync(&frame) {
            proptest::prop_assert_eq!(Ok(plain), decode_any(&frame));
        }
    }
}
