//! How `encode` writes frames: plain definite CBOR, numbers as cbor-x writes them.

use ciborium::Value;

use super::*;
use crate::protocol::encode::{MAX_SAFE_INTEGER, Out};

#[test]
fn encoding_is_plain_definite_cbor() {
    let frame = encode(&Message::Ephemeral {
        sender_id: peer("c"),
        target_id: peer("s"),
        document_id: "d".into(),
        count: 1 << 40,
        session_id: "x".into(),
        data: vec![9; 30],
    });
    // A definite map of 7 entries with the minimal header.
    assert_eq!(frame[0], 0xa7);
    // `data` as a plain byte string, untagged.
    let data = [t("data"), b(&[9; 30])].concat();
    assert!(frame.windows(data.len()).any(|w| w == data.as_slice()));
    // No null or undefined anywhere, and no indefinite lengths.
    let join = encode(&Message::Join {
        sender_id: peer("c"),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: vec!["1".into()],
    });
    let expected = [
        vec![0xa4],
        t("type"),
        t("join"),
        t("senderId"),
        t("c"),
        t("peerMetadata"),
        vec![0xa1],
        t("isEphemeral"),
        vec![0xf4],
        t("supportedProtocolVersions"),
        vec![0x81],
        t("1"),
    ]
    .concat();
    assert_eq!(join, expected);
}

#[test]
fn numbers_are_encoded_as_javascript_reads_them() {
    let count_of = |count: u64| {
        let frame = encode(&Message::Ephemeral {
            sender_id: peer("c"),
            target_id: peer("s"),
            document_id: "d".into(),
            count,
            session_id: "x".into(),
            data: vec![1],
        });
        let value: Value = ciborium::from_reader(frame.as_slice()).unwrap();
        let Value::Map(entries) = value else {
            panic!("not a map")
        };
        entries
            .into_iter()
            .find(|(k, _)| k == &Value::Text("count".into()))
            .unwrap()
            .1
    };
    // Small counts are CBOR unsigned integers, with the minimal header.
    assert_eq!(count_of(0), Value::Integer(0u8.into()));
    assert_eq!(
        count_of(u64::from(u32::MAX)),
        Value::Integer(u32::MAX.into())
    );
    // From 2^32 to 2^53 - 1 a float, as cbor-x writes them: cbor-x would read a 64-bit
    // CBOR integer as a BigInt.
    assert_eq!(count_of(1 << 32), Value::Float(4_294_967_296.0));
    assert_eq!(
        count_of(MAX_SAFE_INTEGER),
        Value::Float(9_007_199_254_740_991.0)
    );
    // Past what a JavaScript number holds exactly: an integer, exact for other peers.
    assert_eq!(count_of(1 << 53), Value::Integer((1u64 << 53).into()));
    assert_eq!(count_of(u64::MAX), Value::Integer(u64::MAX.into()));
    for count in [
        0,
        23,
        24,
        255,
        256,
        65_535,
        1 << 32,
        MAX_SAFE_INTEGER,
        1 << 53,
        u64::MAX,
    ] {
        let message = Message::Ephemeral {
            sender_id: peer("c"),
            target_id: peer("s"),
            document_id: "d".into(),
            count,
            session_id: "x".into(),
            data: vec![1],
        };
        assert_eq!(decode(&encode(&message)), Ok(message));
    }
    let number = |number: f64| {
        let mut frame = Vec::new();
        Out::new(&mut frame).number(number);
        ciborium::from_reader::<Value, _>(frame.as_slice()).unwrap()
    };
    assert_eq!(
        number(1_732_000_000_123.0),
        Value::Float(1_732_000_000_123.0)
    );
    assert_eq!(number(7.0), Value::Integer(7u8.into()));
    assert_eq!(number(-1.0), Value::Float(-1.0));
    assert_eq!(number(0.5), Value::Float(0.5));
}

#[test]
fn error_and_unknown_encode_without_sender() {
    let frame = encode(&Message::Error {
        message: "m".into(),
    });
    assert_eq!(
        frame,
        [vec![0xa2], t("type"), t("error"), t("message"), t("m")].concat()
    );
    let frame = encode(&Message::Unknown {
        message_type: "x".into(),
    });
    assert_eq!(frame, [vec![0xa1], t("type"), t("x")].concat());
}
