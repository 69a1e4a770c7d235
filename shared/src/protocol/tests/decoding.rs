//! What `decode` accepts from JavaScript peers, and how it refuses the rest.

use super::*;

#[test]
fn sixteen_bit_map_headers_and_unknown_keys() {
    let frame = map16(&[
        kv("type", t("leave")),
        kv("senderId", t("client")),
        kv("somethingNew", map16(&[kv("deep", t("x"))])),
        (uint(7), t("integer keys are ignored too")),
    ]);
    assert_eq!(&frame[..3], &[0xb9, 0x00, 0x04]);
    assert_eq!(
        decode(&frame),
        Ok(Message::Leave {
            sender_id: peer("client")
        })
    );
    // A 32-bit and a 64-bit length header for the same map.
    for size in [4, 8] {
        let mut frame = head_sized(5, 2, size);
        frame.extend([t("type"), t("leave"), t("senderId"), t("c")].concat());
        assert_eq!(
            decode(&frame),
            Ok(Message::Leave {
                sender_id: peer("c")
            })
        );
    }
}

#[test]
fn undefined_and_null_are_absent() {
    let frame = map16(&[
        kv("type", t("join")),
        kv("senderId", t("client")),
        kv(
            "peerMetadata",
            map16(&[
                kv("storageId", UNDEFINED.to_vec()),
                kv("isEphemeral", vec![0xf5]),
            ]),
        ),
        kv("supportedProtocolVersions", [head(4, 1), t("1")].concat()),
        kv("targetId", UNDEFINED.to_vec()),
    ]);
    assert_eq!(
        decode(&frame),
        Ok(Message::Join {
            sender_id: peer("client"),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: true
            },
            supported_protocol_versions: vec!["1".into()],
        })
    );
    // Metadata absent, undefined or null, or with isEphemeral absent: defaults.
    for metadata in [
        None,
        Some(UNDEFINED.to_vec()),
        Some(NULL.to_vec()),
        Some(map16(&[])),
    ] {
        let mut entries = vec![
            kv("type", t("join")),
            kv("senderId", t("client")),
            kv("supportedProtocolVersions", [head(4, 1), t("1")].concat()),
        ];
        entries.extend(metadata.map(|m| kv("peerMetadata", m)));
        let Ok(Message::Join { peer_metadata, .. }) = decode(&map16(&entries)) else {
            panic!("join did not decode");
        };
        assert_eq!(peer_metadata, PeerMetadata::default());
    }
    // A required field that is undefined or null is missing.
    for absent in [UNDEFINED, NULL] {
        let mut entries = sync_entries();
        entries[4].1 = absent.to_vec();
        assert_eq!(
            decode(&map16(&entries)),
            Err(DecodeError::MissingField {
                message_type: "sync",
                field: "data"
            })
        );
    }
    // An undefined `type` is no type.
    assert_eq!(
        decode(&map16(&[kv("type", UNDEFINED.to_vec())])),
        Err(DecodeError::MissingType)
    );
}

#[test]
fn readme_name_metadata_is_accepted() {
    let frame = map16(&[
        kv("type", t("peer")),
        kv("senderId", t("server")),
        kv("selectedProtocolVersion", t("1")),
        kv("targetId", t("client")),
        kv(
            "metadata",
            map16(&[kv("storageId", t("s")), kv("isEphemeral", vec![0xf4])]),
        ),
    ]);
    let Ok(Message::Peer { peer_metadata, .. }) = decode(&frame) else {
        panic!("peer did not decode")
    };
    assert_eq!(peer_metadata.storage_id.as_deref(), Some("s"));
}

#[test]
fn counts_sent_as_floats() {
    let ephemeral = |count: Vec<u8>| {
        decode(&map16(&[
            kv("type", t("ephemeral")),
            kv("senderId", t("c")),
            kv("targetId", t("s")),
            kv("documentId", t("d")),
            kv("count", count),
            kv("sessionId", t("x")),
            kv("data", b(&[1])),
        ]))
        .map(|message| match message {
            Message::Ephemeral { count, .. } => count,
            other => panic!("not ephemeral: {other:?}"),
        })
    };
    assert_eq!(ephemeral(f64_(4_294_967_296.0)), Ok(1 << 32));
    assert_eq!(
        ephemeral(f64_(9_007_199_254_740_991.0)),
        Ok(9_007_199_254_740_991)
    );
    assert_eq!(ephemeral(f64_(0.0)), Ok(0));
    assert_eq!(
        ephemeral(vec![0xf9, 0x3c, 0x00]),
        Ok(1),
        "half-precision 1.0"
    );
    assert_eq!(
        ephemeral(vec![0xfa, 0x4f, 0x80, 0x00, 0x00]),
        Ok(1 << 32),
        "single-precision 2^32"
    );
    assert_eq!(ephemeral(uint(5)), Ok(5));
    assert_eq!(ephemeral(head_sized(0, 5, 8)), Ok(5), "non-minimal integer");
    let not_a_count = Err(DecodeError::InvalidField {
        message_type: "ephemeral",
        field: "count",
        expected: "a non-negative integer",
    });
    for bad in [
        f64_(1.5),
        f64_(-1.0),
        f64_(f64::NAN),
        f64_(f64::INFINITY),
        f64_(1.8446744073709552e19),
        head(1, 0),
        t("1"),
    ] {
        assert_eq!(ephemeral(bad.clone()), not_a_count, "{bad:02x?}");
    }
}

#[test]
fn data_in_tag_64_is_bytes() {
    let mut entries = sync_entries();
    entries[4].1 = [vec![0xd8, 0x40], b(&[1, 2, 3])].concat();
    assert!(
        matches!(decode(&map16(&entries)), Ok(Message::Sync { data, .. }) if data == [1, 2, 3])
    );
    for bad in [
        [vec![0xc2], b(&[1])].concat(),
        t("abc"),
        [vec![0xd8, 0x40], t("abc")].concat(),
    ] {
        entries[4].1 = bad;
        assert_eq!(
            decode(&map16(&entries)),
            Err(DecodeError::InvalidField {
                message_type: "sync",
                field: "data",
                expected: "a byte string"
            })
        );
    }
}

#[test]
fn indefinite_lengths_are_accepted() {
    let mut frame = vec![0xbf];
    frame.extend([t("type"), t("sync"), t("senderId")].concat());
    // Text in two chunks.
    frame.extend([vec![0x7f], t("cli"), t("ent"), vec![0xff]].concat());
    frame.extend(
        [
            t("targetId"),
            t("server"),
            t("documentId"),
            t("doc"),
            t("data"),
        ]
        .concat(),
    );
    // Bytes in two chunks.
    frame.extend([vec![0x5f], b(&[1]), b(&[2, 3]), vec![0xff]].concat());
    frame.push(0xff);
    assert_eq!(
        decode(&frame),
        Ok(Message::Sync {
            sender_id: peer("client"),
            target_id: peer("server"),
            document_id: "doc".into(),
            data: vec![1, 2, 3],
        })
    );
}

#[test]
fn repeated_keys_keep_the_last() {
    let mut entries = sync_entries();
    entries.push(kv("documentId", t("second")));
    assert_eq!(
        decode(&map16(&entries)).map(|m| m.document_id().map(str::to_owned)),
        Ok(Some("second".into()))
    );
}

#[test]
fn unknown_types_are_not_errors() {
    let frame = map16(&[kv("type", t("future-thing")), kv("payload", b(&[1, 2]))]);
    assert_eq!(
        decode(&frame),
        Ok(Message::Unknown {
            message_type: "future-thing".into()
        })
    );
    // Even without the fields known types need.
    assert_eq!(
        decode(&map16(&[kv("type", t("Sync"))])),
        Ok(Message::Unknown {
            message_type: "Sync".into()
        })
    );
}

#[test]
fn missing_and_ill_typed_fields() {
    for (index, field) in ["senderId", "targetId", "documentId", "data"]
        .into_iter()
        .enumerate()
    {
        let mut entries = sync_entries();
        entries.remove(index + 1);
        assert_eq!(
            decode(&map16(&entries)),
            Err(DecodeError::MissingField {
                message_type: "sync",
                field
            })
        );
    }
    let mut entries = sync_entries();
    entries[1].1 = uint(1);
    let error = decode(&map16(&entries)).unwrap_err();
    assert_eq!(
        error,
        DecodeError::InvalidField {
            message_type: "sync",
            field: "senderId",
            expected: "a text string"
        }
    );
    assert_eq!(
        error.to_string(),
        "field `senderId` of type `sync` must be a text string"
    );
    assert_eq!(
        DecodeError::MissingField {
            message_type: "sync",
            field: "data"
        }
        .to_string(),
        "required field `data` is missing for type `sync`"
    );
    let join = |versions: Vec<u8>, metadata: Vec<u8>| {
        decode(&map16(&[
            kv("type", t("join")),
            kv("senderId", t("c")),
            kv("supportedProtocolVersions", versions),
            kv("peerMetadata", metadata),
        ]))
    };
    let ok_versions = [head(4, 1), t("1")].concat();
    assert!(matches!(
        join([head(4, 1), uint(1)].concat(), map16(&[])),
        Err(DecodeError::InvalidField {
            field: "supportedProtocolVersions",
            ..
        })
    ));
    assert!(matches!(
        join(t("1"), map16(&[])),
        Err(DecodeError::InvalidField {
            field: "supportedProtocolVersions",
            ..
        })
    ));
    assert!(matches!(
        join(ok_versions.clone(), t("m")),
        Err(DecodeError::InvalidField {
            field: "peerMetadata",
            ..
        })
    ));
    assert!(matches!(
        join(ok_versions.clone(), map16(&[kv("storageId", uint(1))])),
        Err(DecodeError::InvalidField {
            field: "peerMetadata.storageId",
            ..
        })
    ));
    assert!(matches!(
        join(ok_versions, map16(&[kv("isEphemeral", uint(1))])),
        Err(DecodeError::InvalidField {
            field: "peerMetadata.isEphemeral",
            ..
        })
    ));
    assert_eq!(
        decode(&map16(&[kv("type", t("error"))])),
        Err(DecodeError::MissingField {
            message_type: "error",
            field: "message"
        })
    );
    let heads = |new_heads: Vec<u8>| {
        decode(&map16(&[
            kv("type", t("remote-heads-changed")),
            kv("senderId", t("c")),
            kv("targetId", t("s")),
            kv("documentId", t("d")),
            kv("newHeads", new_heads),
        ]))
    };
    let entry = |timestamp: Vec<u8>| {
        map16(&[
            kv("heads", [head(4, 1), t("h")].concat()),
            kv("timestamp", timestamp),
        ])
    };
    assert!(heads(map16(&[kv("s1", entry(uint(5)))])).is_ok());
    assert!(heads(map16(&[kv("s1", entry(f64_(1_732_000_000_123.0)))])).is_ok());
    for bad in [
        t("x"),
        map16(&[kv("s1", entry(t("5")))]),
        map16(&[kv("s1", t("x"))]),
        map16(&[(uint(1), entry(uint(5)))]),
    ] {
        assert!(matches!(
            heads(bad),
            Err(DecodeError::InvalidField {
                field: "newHeads",
                ..
            })
        ));
    }
    assert!(matches!(
        heads(NULL.to_vec()),
        Err(DecodeError::MissingField {
            field: "newHeads",
            ..
        })
    ));
}

#[test]
fn subscription_lists_are_optional() {
    let frame = map16(&[
        kv("type", t("remote-subscription-change")),
        kv("targetId", t("s")),
        kv("add", [head(4, 1), t("storage")].concat()),
        kv("remove", UNDEFINED.to_vec()),
        kv("senderId", t("c")),
    ]);
    assert_eq!(
        decode(&frame),
        Ok(Message::RemoteSubscriptionChange {
            sender_id: peer("c"),
            target_id: peer("s"),
            add: vec!["storage".into()],
            remove: vec![],
        })
    );
}

#[test]
fn frames_that_are_not_messages() {
    let invalid = |frame: &[u8]| matches!(decode(frame), Err(DecodeError::InvalidCbor(_)));
    assert!(invalid(&[]));
    assert!(invalid(&[0xff]), "a lone break");
    assert!(invalid(&[0xbf]), "an unterminated indefinite map");
    assert!(invalid(&[0xb9, 0x00]), "a cut-off header");
    assert!(
        invalid(&[0xa1, 0x1c, 0x00]),
        "reserved additional information"
    );
    assert!(invalid(&[0xa1, 0x64, b't', b'y']), "a cut-off key");
    assert!(
        invalid(&[0xa1, 0x62, 0xff, 0xfe, 0x01]),
        "invalid UTF-8 in a key"
    );
    assert!(invalid(&[0xa1, 0x01, 0xe0]), "an unassigned simple value");
    assert!(
        invalid(&[0xa1, 0x01, 0x5f, 0x61, 0x61, 0xff]),
        "text inside an indefinite byte string"
    );
    // Text frames start with bytes that read as a CBOR integer or string header.
    assert_eq!(decode(b"GET / HTTP/1.1\r\n"), Err(DecodeError::NotAMap));
    assert_eq!(decode(br#"{"type":"sync"}"#), Err(DecodeError::NotAMap));
    assert_eq!(decode(&[0x80]), Err(DecodeError::NotAMap));
    assert_eq!(decode(&t("join")), Err(DecodeError::NotAMap));
    assert_eq!(decode(&[0xf6]), Err(DecodeError::NotAMap));
    assert_eq!(decode(&[0xa0]), Err(DecodeError::MissingType));
    assert_eq!(
        decode(&map16(&[kv("senderId", t("c"))])),
        Err(DecodeError::MissingType)
    );
    assert_eq!(
        decode(&map16(&[kv("type", uint(3))])),
        Err(DecodeError::TypeNotText)
    );
    assert_eq!(
        decode(&map16(&[kv("type", b(b"sync"))])),
        Err(DecodeError::TypeNotText)
    );
    let mut frame = encode(&Message::Leave {
        sender_id: peer("c"),
    });
    frame.extend([0x00, 0x00]);
    assert_eq!(decode(&frame), Err(DecodeError::TrailingBytes(2)));
    assert_eq!(
        DecodeError::TrailingBytes(2).to_string(),
        "2 trailing bytes after the CBOR message"
    );
}
