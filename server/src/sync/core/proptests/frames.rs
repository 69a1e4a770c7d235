//! Property 1: random and mangled frames into [`Connection::on_frame`] always give a sensible
//! [`Action`].

use std::num::NonZeroU32;

use cairn_shared::api::AccountKind;
use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata, RemoteHeads};
use cairn_shared::{DocumentId, PlanId, SessionId};
use proptest::collection::vec;
use proptest::prelude::*;
use uuid::Uuid;

use super::{Mutation, OWNER, SERVER, STORAGE, arb_mutation, mutate};
use crate::domain::{Caller, User};
use crate::sync::core::connection::{Action, Connection, Limits, PROTOCOL_VERSION};
use crate::sync::core::document::{ConnId, Input, Origin};

const JOINED: &str = "client-peer";
const CONN: ConnId = ConnId(7);

fn member_caller() -> Caller {
    Caller {
        user: User {
            id: OWNER,
            username: "owner".into(),
            display_name: "Owner".into(),
            password_hash: String::new(),
            kind: AccountKind::Member,
            disabled_at: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            deleted_at: None,
        },
        session_id: SessionId(Uuid::from_u128(0x5e55)),
        second_factor_passed: false,
    }
}

fn join(sender: &str) -> Message {
    Message::Join {
        sender_id: PeerId::from(sender),
        peer_metadata: PeerMetadata {
            storage_id: Some("client-storage".into()),
            is_ephemeral: false,
        },
        supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
    }
}

fn arb_peer() -> impl Strategy<Value = PeerId> {
    prop_oneof![
        4 => Just(PeerId::from(JOINED)),
        1 => Just(PeerId::from("another-peer")),
        1 => "[a-z0-9-]{0,8}".prop_map(PeerId::from),
    ]
}

fn arb_document_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<u128>().prop_map(|n| PlanId(Uuid::from_u128(n)).document_id().to_string()),
        1 => "[1-9A-HJ-NP-Za-km-z]{0,26}",
        1 => any::<u128>().prop_map(|n| Uuid::from_u128(n).to_string()),
    ]
}

fn arb_data() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..40)
}

fn arb_versions() -> impl Strategy<Value = Vec<String>> {
    vec(
        prop_oneof![3 => Just("1".to_owned()), 1 => "[0-9]{0,2}"],
        0..3,
    )
}

fn arb_metadata() -> impl Strategy<Value = PeerMetadata> {
    (proptest::option::of("[a-z0-9]{0,6}"), any::<bool>()).prop_map(|(storage_id, is_ephemeral)| {
        PeerMetadata {
            storage_id,
            is_ephemeral,
        }
    })
}

/// Every protocol message a client could send (and some it should not: `peer`, `error`).
fn arb_message() -> impl Strategy<Value = Message> {
    let addressed = || (arb_peer(), arb_peer(), arb_document_id());
    prop_oneof![
        (arb_peer(), arb_metadata(), arb_versions()).prop_map(
            |(sender_id, peer_metadata, supported_protocol_versions)| Message::Join {
                sender_id,
                peer_metadata,
                supported_protocol_versions,
            }
        ),
        (arb_peer(), arb_metadata(), arb_peer()).prop_map(
            |(sender_id, peer_metadata, target_id)| Message::Peer {
                sender_id,
                peer_metadata,
                selected_protocol_version: "1".into(),
                target_id,
            }
        ),
        arb_peer().prop_map(|sender_id| Message::Leave { sender_id }),
        (addressed(), arb_data()).prop_map(|((sender_id, target_id, document_id), data)| {
            Message::Sync {
                sender_id,
                target_id,
                document_id,
                data,
            }
        }),
        (addressed(), arb_data()).prop_map(|((sender_id, target_id, document_id), data)| {
            Message::Request {
                sender_id,
                target_id,
                document_id,
                data,
            }
        }),
        addressed().prop_map(|(sender_id, target_id, document_id)| {
            Message::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            }
        }),
        (
            addressed(),
            0..u64::from(u32::MAX) * 4,
            "[a-z0-9]{0,6}",
            arb_data()
        )
            .prop_map(
                |((sender_id, target_id, document_id), count, session_id, data)| {
                    Message::Ephemeral {
                        sender_id,
                        target_id,
                        document_id,
                        count,
                        session_id,
                        data,
                    }
                }
            ),
        (arb_peer(), arb_peer(), vec("[a-z0-9]{0,4}", 0..3)).prop_map(
            |(sender_id, target_id, add)| Message::RemoteSubscriptionChange {
                sender_id,
                target_id,
                add,
                remove: vec![],
            }
        ),
        (addressed(), "[a-z0-9]{0,4}", vec("[0-9a-f]{0,8}", 0..3)).prop_map(
            |((sender_id, target_id, document_id), storage, heads)| {
                Message::RemoteHeadsChanged {
                    sender_id,
                    target_id,
                    document_id,
                    new_heads: [(
                        storage,
                        RemoteHeads {
                            heads,
                            timestamp: 1.0,
                        },
                    )]
                    .into(),
                }
            }
        ),
        prop_oneof![
            "[ -~]{0,12}".prop_map(|message| Message::Error { message }),
            "[a-z-]{0,12}".prop_map(|message_type| Message::Unknown { message_type }),
        ],
    ]
}

#[derive(Debug, Clone)]
enum Frame {
    Random(Vec<u8>),
    Valid(Message),
    Mangled(Message, Vec<Mutation>),
}

impl Frame {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Random(bytes) => bytes.clone(),
            Self::Valid(message) => protocol::encode(message),
            Self::Mangled(message, mutations) => {
                let mut bytes = protocol::encode(message);
                for mutation in mutations {
                    mutate(&mut bytes, mutation);
                }
                bytes
            }
        }
    }
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..96).prop_map(Frame::Random),
        3 => arb_message().prop_map(Frame::Valid),
        2 => (arb_message(), vec(arb_mutation(), 1..4))
            .prop_map(|(message, mutations)| Frame::Mangled(message, mutations)),
    ]
}

/// What `on_frame` must have answered to `frame`, given the peer that joined so far (updated on
/// a successful join).
fn check_action(
    joined: &mut Option<PeerId>,
    frame: &[u8],
    action: &Action,
) -> Result<(), TestCaseError> {
    let message = match protocol::decode(frame) {
        Ok(message) => message,
        Err(err) => {
            prop_assert!(
                matches!(action, Action::Fail(_)),
                "an undecodable frame ({err}) gave {action:?}"
            );
            return Ok(());
        }
    };
    if let Message::Join {
        sender_id,
        supported_protocol_versions,
        ..
    } = &message
    {
        let speaks_ours = supported_protocol_versions
            .iter()
            .any(|v| v == PROTOCOL_VERSION);
        let other_peer = joined.as_ref().is_some_and(|peer| peer != sender_id);
        if !speaks_ours || other_peer {
            prop_assert!(
                matches!(action, Action::Fail(_)),
                "{message:?} gave {action:?}"
            );
            return Ok(());
        }
        match action {
            Action::Reply(Message::Peer {
                sender_id: server,
                peer_metadata,
                selected_protocol_version,
                target_id,
            }) => {
                prop_assert_eq!(server.as_str(), SERVER);
                prop_assert_eq!(peer_metadata.storage_id.as_deref(), Some(STORAGE));
                prop_assert!(!peer_metadata.is_ephemeral);
                prop_assert_eq!(selected_protocol_version.as_str(), PROTOCOL_VERSION);
                prop_assert_eq!(target_id, sender_id);
            }
            other => prop_assert!(false, "{message:?} gave {other:?}"),
        }
        *joined = Some(sender_id.clone());
        return Ok(());
    }
    let Some(peer) = joined.clone() else {
        prop_assert!(
            matches!(action, Action::Fail(_)),
            "{message:?} before join gave {action:?}"
        );
        return Ok(());
    };
    if let Message::Ephemeral { sender_id, .. } = &message
        && *sender_id != peer
    {
        prop_assert!(
            matches!(action, Action::Ignore),
            "relayed echo gave {action:?}"
        );
        return Ok(());
    }
    if message.sender_id().is_some_and(|sender| *sender != peer) {
        prop_assert!(
            matches!(action, Action::Fail(_)),
            "{message:?} gave {action:?}"
        );
        return Ok(());
    }
    let from = Origin {
        conn: CONN,
        peer,
        user: OWNER,
    };
    let routed_plan = |document_id: &str| {
        document_id
            .parse::<DocumentId>()
            .ok()
            .map(|document| PlanId(document.0))
    };
    match &message {
        Message::Sync {
            document_id, data, ..
        }
        | Message::Request {
            document_id, data, ..
        } => {
            let request = matches!(message, Message::Request { .. });
            match (routed_plan(document_id), action) {
                (
                    Some(expected),
                    Action::Route(
                        plan,
                        Input::Sync {
                            from: origin,
                            data: routed,
                            is_request,
                        },
                    ),
                ) => {
                    prop_assert_eq!(*plan, expected);
                    prop_assert_eq!(origin, &from);
                    prop_assert_eq!(routed, data);
                    prop_assert_eq!(*is_request, request);
                }
                (None, Action::Fail(_)) => {}
                (_, other) => prop_assert!(false, "{message:?} gave {other:?}"),
            }
        }
        Message::Ephemeral {
            document_id,
            count,
            session_id,
            data,
            ..
        } => match (routed_plan(document_id), action) {
            (
                Some(expected),
                Action::Route(
                    plan,
                    Input::Ephemeral {
                        from: origin,
                        count: routed_count,
                        session_id: routed_session,
                        data: routed,
                    },
                ),
            ) => {
                prop_assert_eq!(*plan, expected);
                prop_assert_eq!(origin, &from);
                prop_assert_eq!(routed_count, count);
                prop_assert_eq!(routed_session, session_id);
                // Relayed naming the sender's account.
                let stamped = protocol::presence_with_account(data, &OWNER.to_string());
                prop_assert_eq!(routed, &stamped);
            }
            (None, Action::Fail(_)) => {}
            (_, other) => prop_assert!(false, "{message:?} gave {other:?}"),
        },
        Message::Leave { .. } => {
            prop_assert!(matches!(action, Action::Leave), "leave gave {action:?}");
        }
        _ => prop_assert!(
            matches!(action, Action::Ignore),
            "{message:?} gave {action:?}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Random bytes and mangled or valid protocol messages, with or without a join first: no
    /// panic, undecodable input fails the connection, and only well-formed `sync`, `request` and
    /// `ephemeral` messages from the joined peer about a valid document id are routed.
    #[test]
    fn any_frame_gives_a_sensible_action(
        join_first in proptest::bool::weighted(0.75),
        frames in vec(arb_frame(), 1..12),
    ) {
        let mut connection = Connection::new(
            CONN,
            member_caller(),
            PeerId::from(SERVER),
            STORAGE.into(),
            Limits {
                max_presence_sessions: 64,
                max_peer_id_bytes: 1 << 20,
                max_session_id_bytes: 1 << 20,
                max_presence_bytes: 1 << 20,
                ..Limits::with_rate(NonZeroU32::new(1_000_000).unwrap())
            },
        );
        let mut joined = None;
        if join_first {
            let frame = protocol::encode(&join(JOINED));
            let action = connection.on_frame(&frame);
            check_action(&mut joined, &frame, &action)?;
            prop_assert_eq!(joined.as_ref().map(PeerId::as_str), Some(JOINED));
        }
        for frame in &frames {
            let bytes = frame.bytes();
            let action = connection.on_frame(&bytes);
            check_action(&mut joined, &bytes, &action)?;
        }
    }
}
