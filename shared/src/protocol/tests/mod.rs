//! Unit tests of the protocol, one file per part of it, and the CBOR they build frames from:
//! written byte by byte, so that tests can send what cbor-x sends (16-bit map headers,
//! `undefined`) and what no well-behaved peer would.

use std::collections::BTreeMap;

use super::*;

mod bounds;
mod decoding;
mod encoding;
mod fuzz;
mod messages;
mod plain_way;
mod presence;

/// A CBOR head (major type and argument), written with the given number of argument bytes
/// (0 = in the initial byte) so tests can build non-minimal encodings on purpose.
fn head_sized(major: u8, arg: u64, size: usize) -> Vec<u8> {
    let major = major << 5;
    match size {
        0 => vec![major | arg as u8],
        1 => vec![major | 24, arg as u8],
        2 => [vec![major | 25], (arg as u16).to_be_bytes().to_vec()].concat(),
        4 => [vec![major | 26], (arg as u32).to_be_bytes().to_vec()].concat(),
        _ => [vec![major | 27], arg.to_be_bytes().to_vec()].concat(),
    }
}

fn head(major: u8, arg: u64) -> Vec<u8> {
    let size = match arg {
        0..24 => 0,
        24..0x100 => 1,
        0x100..0x1_0000 => 2,
        0x1_0000..0x1_0000_0000 => 4,
        _ => 8,
    };
    head_sized(major, arg, size)
}

fn t(text: &str) -> Vec<u8> {
    [head(3, text.len() as u64), text.as_bytes().to_vec()].concat()
}

fn b(bytes: &[u8]) -> Vec<u8> {
    [head(2, bytes.len() as u64), bytes.to_vec()].concat()
}

fn uint(value: u64) -> Vec<u8> {
    head(0, value)
}

fn f64_(value: f64) -> Vec<u8> {
    [vec![0xfb], value.to_be_bytes().to_vec()].concat()
}

const UNDEFINED: [u8; 1] = [0xf7];
const NULL: [u8; 1] = [0xf6];

/// A map the way cbor-x writes one: always a 16-bit length header.
fn map16(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = head_sized(5, entries.len() as u64, 2);
    for (key, value) in entries {
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
    out
}

fn kv(key: &str, value: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    (t(key), value)
}

fn sync_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        kv("type", t("sync")),
        kv("senderId", t("client")),
        kv("targetId", t("server")),
        kv("documentId", t("doc")),
        kv("data", b(&[1, 2, 3])),
    ]
}

fn peer(id: &str) -> PeerId {
    PeerId(id.into())
}

fn every_variant() -> Vec<Message> {
    let mut new_heads = BTreeMap::new();
    new_heads.insert(
        "storage-a".to_owned(),
        RemoteHeads {
            heads: vec!["aa".into(), "bb".into()],
            timestamp: 1_732_000_000_123.0,
        },
    );
    new_heads.insert(
        "storage-b".to_owned(),
        RemoteHeads {
            heads: vec![],
            timestamp: 1.5,
        },
    );
    vec![
        Message::Join {
            sender_id: peer("client"),
            peer_metadata: PeerMetadata {
                storage_id: Some("s1".into()),
                is_ephemeral: false,
            },
            supported_protocol_versions: vec!["1".into()],
        },
        Message::Join {
            sender_id: peer("client"),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
            },
            supported_protocol_versions: vec![],
        },
        Message::Peer {
            sender_id: peer("server"),
            peer_metadata: PeerMetadata {
                storage_id: Some("s2".into()),
                is_ephemeral: false,
            },
            selected_protocol_version: "1".into(),
            target_id: peer("client"),
        },
        Message::Leave {
            sender_id: peer("client"),
        },
        Message::Sync {
            sender_id: peer("client"),
            target_id: peer("server"),
            document_id: "doc".into(),
            data: (0..=255).collect(),
        },
        Message::Request {
            sender_id: peer("client"),
            target_id: peer("server"),
            document_id: "doc".into(),
            data: vec![],
        },
        Message::DocUnavailable {
            sender_id: peer("server"),
            target_id: peer("client"),
            document_id: "doc".into(),
        },
        Message::Ephemeral {
            sender_id: peer("client"),
            target_id: peer("server"),
            document_id: "doc".into(),
            count: u64::MAX,
            session_id: "session".into(),
            data: vec![0xa1, 0x61, 0x78, 0x01],
        },
        Message::Error {
            message: "bad things".into(),
        },
        Message::RemoteSubscriptionChange {
            sender_id: peer("client"),
            target_id: peer("server"),
            add: vec!["s1".into(), "s2".into()],
            remove: vec![],
        },
        Message::RemoteHeadsChanged {
            sender_id: peer("client"),
            target_id: peer("server"),
            document_id: "doc".into(),
            new_heads,
        },
        Message::Unknown {
            message_type: "something-new".into(),
        },
    ]
}
