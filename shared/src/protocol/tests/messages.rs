//! Every message round-trips, and the accessors of [`Message`].

use super::*;

#[test]
fn every_variant_round_trips() {
    for message in every_variant() {
        let frame = encode(&message);
        assert_eq!(decode(&frame), Ok(message.clone()), "{frame:02x?}");
    }
}

#[test]
fn accessors() {
    let sync = &every_variant()[4];
    assert_eq!(sync.sender_id(), Some(&peer("client")));
    assert_eq!(sync.document_id(), Some("doc"));
    assert_eq!(sync.type_name(), "sync");
    let error = Message::Error {
        message: "m".into(),
    };
    assert_eq!(
        (error.sender_id(), error.document_id(), error.type_name()),
        (None, None, "error")
    );
    let unknown = Message::Unknown {
        message_type: "later".into(),
    };
    assert_eq!((unknown.sender_id(), unknown.type_name()), (None, "later"));
    let join = &every_variant()[0];
    assert_eq!((join.document_id(), join.type_name()), (None, "join"));
    for message in every_variant() {
        let frame = encode(&message);
        assert!(
            frame
                .windows(message.type_name().len())
                .any(|w| w == message.type_name().as_bytes())
        );
    }
    assert_eq!(peer("p1").to_string(), "p1");
    assert_eq!(PeerId::from("p1").as_str(), "p1");
}
