//! Frames written by the real JavaScript encoder (cbor-x 1.6.9 with automerge-repo 2.5.6's
//! options, see `fixtures/generate.mjs`) decode to the messages automerge-repo meant.

use std::collections::BTreeMap;

use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata, RemoteHeads};

const CLIENT: &str = "client-7f3a9c";
const SERVER: &str = "cairn-server-1";
const CLIENT_STORAGE: &str = "3760df37-a4c6-4f66-9ecd-732039a9385d";
const SERVER_STORAGE: &str = "0c2d3cb6-8a52-4f2e-9d43-6c5f0b7e21aa";
const DOCUMENT: &str = "2z7Wk3cWJxWJkAbZ6sVxbQNkHkVe";

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/", $name, ".cbor")).as_slice()
    };
}

fn peer(id: &str) -> PeerId {
    PeerId(id.into())
}

/// The stand-in sync message generate.mjs puts in `data`.
fn sync_data() -> Vec<u8> {
    (0..300u32).map(|i| ((i * 37 + 11) & 0xff) as u8).collect()
}

/// `{cursor: 3, name: "Ana"}` as cbor-x encodes it for `DocHandle.broadcast`.
fn ephemeral_data() -> Vec<u8> {
    let mut data = vec![0xb9, 0x00, 0x02, 0x66];
    data.extend(b"cursor");
    data.extend([0x03, 0x64]);
    data.extend(b"name");
    data.push(0x63);
    data.extend(b"Ana");
    data
}

fn decode(frame: &[u8]) -> Message {
    // Every fixture uses cbor-x's 16-bit map header.
    assert_eq!(&frame[..2], &[0xb9, 0x00], "not a cbor-x map16 frame");
    match protocol::decode(frame) {
        Ok(message) => message,
        Err(error) => panic!("the JavaScript frame did not decode: {error}"),
    }
}

#[test]
fn join() {
    assert_eq!(
        decode(fixture!("join")),
        Message::Join {
            sender_id: peer(CLIENT),
            peer_metadata: PeerMetadata {
                storage_id: Some(CLIENT_STORAGE.into()),
                is_ephemeral: false,
            },
            supported_protocol_versions: vec!["1".into()],
        }
    );
}

#[test]
fn join_without_storage_sends_undefined() {
    let frame = fixture!("join-ephemeral");
    let storage_undefined = [b"storageId".as_slice(), &[0xf7]].concat();
    assert!(
        frame
            .windows(storage_undefined.len())
            .any(|w| w == storage_undefined)
    );
    assert_eq!(
        decode(frame),
        Message::Join {
            sender_id: peer(CLIENT),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: true
            },
            supported_protocol_versions: vec!["1".into()],
        }
    );
}

#[test]
fn peer_message() {
    assert_eq!(
        decode(fixture!("peer")),
        Message::Peer {
            sender_id: peer(SERVER),
            peer_metadata: PeerMetadata {
                storage_id: Some(SERVER_STORAGE.into()),
                is_ephemeral: false,
            },
            selected_protocol_version: "1".into(),
            target_id: peer(CLIENT),
        }
    );
}

#[test]
fn sync_and_request() {
    assert_eq!(
        decode(fixture!("sync")),
        Message::Sync {
            sender_id: peer(CLIENT),
            target_id: peer(SERVER),
            document_id: DOCUMENT.into(),
            data: sync_data(),
        }
    );
    assert_eq!(
        decode(fixture!("request")),
        Message::Request {
            sender_id: peer(CLIENT),
            target_id: peer(SERVER),
            document_id: DOCUMENT.into(),
            data: sync_data(),
        }
    );
}

#[test]
fn sync_with_data_in_tag_64() {
    let frame = fixture!("sync-tagged-data");
    assert!(
        frame.windows(2).any(|w| w == [0xd8, 0x40]),
        "cbor-x did not tag the Uint8Array"
    );
    assert_eq!(decode(frame), decode(fixture!("sync")));
}

#[test]
fn doc_unavailable() {
    assert_eq!(
        decode(fixture!("doc-unavailable")),
        Message::DocUnavailable {
            sender_id: peer(CLIENT),
            target_id: peer(SERVER),
            document_id: DOCUMENT.into(),
        }
    );
}

#[test]
fn ephemeral() {
    assert_eq!(
        decode(fixture!("ephemeral")),
        Message::Ephemeral {
            sender_id: peer(CLIENT),
            target_id: peer(SERVER),
            document_id: DOCUMENT.into(),
            count: 1,
            session_id: "k3j5h2g9x".into(),
            data: ephemeral_data(),
        }
    );
}

#[test]
fn ephemeral_count_past_32_bits_arrives_as_float64() {
    let frame = fixture!("ephemeral-large-count");
    let float_count = [b"count".as_slice(), &[0xfb]].concat();
    assert!(frame.windows(float_count.len()).any(|w| w == float_count));
    assert!(matches!(
        decode(frame),
        Message::Ephemeral {
            count: 9_007_199_254_740_991,
            ..
        }
    ));
}

#[test]
fn leave_and_error() {
    assert_eq!(
        decode(fixture!("leave")),
        Message::Leave {
            sender_id: peer(CLIENT)
        }
    );
    // The JavaScript server adapter also sends senderId and targetId with an error.
    assert_eq!(
        decode(fixture!("error")),
        Message::Error {
            message: "unsupported protocol version".into()
        }
    );
}

#[test]
fn remote_subscription_change() {
    assert_eq!(
        decode(fixture!("remote-subscription-change")),
        Message::RemoteSubscriptionChange {
            sender_id: peer(CLIENT),
            target_id: peer(SERVER),
            add: vec![SERVER_STORAGE.into()],
            remove: vec![],
        }
    );
}

#[test]
fn remote_heads_changed() {
    let heads = RemoteHeads {
        heads: vec!["5f2a1c0e9b8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29".into()],
        timestamp: 1_732_000_000_123.0,
    };
    assert_eq!(
        decode(fixture!("remote-heads-changed")),
        Message::RemoteHeadsChanged {
            sender_id: peer(CLIENT),
            target_id: peer(SERVER),
            document_id: DOCUMENT.into(),
            new_heads: BTreeMap::from([(SERVER_STORAGE.to_owned(), heads)]),
        }
    );
}

#[test]
fn unknown_type() {
    assert_eq!(
        decode(fixture!("unknown-type")),
        Message::Unknown {
            message_type: "future-message".into()
        }
    );
}

#[test]
fn every_fixture_survives_a_round_trip() {
    for frame in [
        fixture!("join"),
        fixture!("join-ephemeral"),
        fixture!("peer"),
        fixture!("sync"),
        fixture!("sync-tagged-data"),
        fixture!("request"),
        fixture!("doc-unavailable"),
        fixture!("ephemeral"),
        fixture!("ephemeral-large-count"),
        fixture!("leave"),
        fixture!("error"),
        fixture!("remote-subscription-change"),
        fixture!("remote-heads-changed"),
        fixture!("unknown-type"),
    ] {
        let message = decode(frame);
        assert_eq!(
            protocol::decode(&protocol::encode(&message)).unwrap(),
            message
        );
    }
}
