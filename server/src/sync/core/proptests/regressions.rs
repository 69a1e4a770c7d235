//! Bugs the properties led to, kept as plain, deterministic tests.

use automerge::ROOT;
use automerge::sync;
use automerge::transaction::Transactable;

use super::world::{Op, World};
use super::{commit, sender_origin, stored_core};
use crate::sync::core::document::{Effects, Input, Origin};

/// Regression: a member's own device is refused as a forger after
/// the server relayed it another member's change that the server held back (never applied, never
/// stored).
///
/// Only real automerge peers are involved. The owner's device sends two offline edits; the
/// server's `have` Bloom filter gives a false positive (about 1 in 100 per change, by design) for
/// the first, so the device sends only the second. The server queues it for its missing
/// dependency: not applied, not stored, but its actor is now bound to the owner. The owner's
/// device drops off before answering the server's `need`. The supporter's new phone then fetches
/// the plan: the server answers with a v2 "send everything" message built by `Automerge::save()`,
/// which appends queued changes (`SaveOptions::retain_orphans` defaults to true), so the phone
/// receives, and keeps queued, the owner's unstored change. When the phone next sends its own
/// edits as a v2 document, its `save()` carries that change back; the server lacks it, so
/// `receive_sync` finds a change by the owner's actor in the supporter's message and refuses the
/// whole message and closes the connection. Every later attempt fails the same way (also after a
/// restart, since the queued change was never stored) until the owner's device comes back.
#[test]
fn a_held_back_change_relayed_by_the_server_does_not_get_another_member_refused() {
    let mut world = World::new([true, false]);
    let owner = &mut world.devices[0].doc;
    // Content chosen so that the server's Bloom filter gives a false positive for this change.
    owner.put(ROOT, "whatMattersNote", "note 231").unwrap();
    commit(owner);
    owner
        .put(ROOT, "nextStep", "call the housing office")
        .unwrap();
    commit(owner);
    world.sync(0); // heads and have
    world.deliver(0); // the server's heads and Bloom filter
    world.sync(0); // only the second change: the first looked present
    assert!(
        world.stored.is_empty(),
        "the second change waits for the first"
    );
    world.offline(0, true);

    // The supporter's new phone finds the plan, edits, and syncs.
    while world.sync(1) | world.deliver(1) {}
    for value in 0..3 {
        world.run(&Op::Put {
            client: 1,
            key: 1,
            value,
        });
    }
    while world.trouble.is_empty() && (world.sync(1) | world.deliver(1)) {}
    assert!(world.trouble.is_empty(), "{:?}", world.trouble);
    // The change waiting for the owner's device holds up nobody else: the supporter's edits are
    // stored, and the supporter's phone and the server agree.
    let supporter = world.devices[1].doc.get_heads();
    assert_eq!(
        world.core.doc().get_heads(),
        supporter,
        "the supporter's edits reached the server while the owner's device was away"
    );
    assert_eq!(
        world.stored.len(),
        3,
        "the supporter's three edits are stored"
    );

    // Once the owner's device is back, everyone converges.
    assert!(world.reconnect_all_and_settle(), "sync did not settle");
    assert!(world.trouble.is_empty(), "{:?}", world.trouble);
    let server = world.core.doc().get_heads();
    for device in &mut world.devices {
        assert_eq!(device.doc.get_heads(), server);
    }
}

/// A change that arrives before the change it depends on waits for it (automerge queues it),
/// and the device that could send the missing one drops off. Meanwhile the other members' edits
/// still reach the server: while it lacks a change it withholds its Bloom filter and names what
/// it needs, and that includes the heads each device announces, so each new edit is asked for.
#[test]
fn a_change_waiting_for_its_dependency_holds_up_no_one_else() {
    let mut world = World::new([true, true]);
    assert!(world.reconnect_all_and_settle(), "sync did not settle");
    let stored_before = world.stored.len();

    // The owner's device sends its second offline edit without the first, then drops off.
    let owner = &mut world.devices[0];
    owner
        .doc
        .put(ROOT, "nextStep", "call the housing office")
        .unwrap();
    commit(&mut owner.doc);
    let before = owner.doc.get_heads();
    owner
        .doc
        .put(ROOT, "nextStep", "call them on Monday")
        .unwrap();
    commit(&mut owner.doc);
    let second = owner
        .doc
        .get_changes(&before)
        .remove(0)
        .raw_bytes()
        .to_vec();
    let data = sync::Message {
        heads: owner.doc.get_heads(),
        need: vec![],
        have: vec![],
        changes: vec![second].into(),
        supported_capabilities: None,
        version: sync::MessageVersion::V1,
    }
    .encode();
    let from = Origin {
        conn: owner.conn.expect("connected"),
        peer: owner.peer.clone(),
        user: owner.user,
    };
    world.feed(Input::Sync {
        from,
        data,
        is_request: false,
    });
    assert_eq!(world.stored.len(), stored_before, "the second edit waits");
    world.offline(0, true);

    // The supporter, connected all along, edits three times.
    for value in 0..3 {
        world.run(&Op::Put {
            client: 1,
            key: 1,
            value,
        });
        while world.trouble.is_empty() && (world.sync(1) | world.deliver(1)) {}
    }
    assert!(world.trouble.is_empty(), "{:?}", world.trouble);
    assert_eq!(
        world.core.doc().get_heads(),
        world.devices[1].doc.get_heads(),
        "the supporter's edits reached the server"
    );
    assert_eq!(world.stored.len(), stored_before + 3);

    // The owner's device comes back and everyone converges.
    assert!(world.reconnect_all_and_settle(), "sync did not settle");
    let server = world.core.doc().get_heads();
    for device in &mut world.devices {
        assert_eq!(device.doc.get_heads(), server);
    }
}

/// A sync message whose only content is one `have` with this encoded Bloom filter.
fn sync_with_bloom(bloom: &[u8]) -> Vec<u8> {
    sync::Message {
        heads: vec![],
        need: vec![],
        have: vec![sync::Have {
            last_sync: vec![],
            bloom: sync::BloomFilter::try_from(bloom).unwrap(),
        }],
        changes: Vec::<Vec<u8>>::new().into(),
        supported_capabilities: None,
        version: sync::MessageVersion::V1,
    }
    .encode()
}

/// Regression: a `have` Bloom filter that claims entries but has
/// no bits (`num_entries` 1, `num_bits_per_entry` 0) makes automerge divide by zero
/// (`BloomFilter::get_probes`, `% 8 * bits.len()`) when the core answers with
/// `generate_sync_message`: the document worker panics. The payload is 13 bytes; any account
/// can send it, for a plan it belongs to or for any unknown document id (offline creation lets
/// everyone sync an unclaimed id). Found by `any_sync_data_is_applied_whole_or_refused_...`.
#[test]
fn a_bloom_filter_without_bits_is_refused_not_a_panic() {
    let mut core = stored_core();
    let from = sender_origin(0);
    let mut effects = Effects::default();
    core.handle(
        Input::Sync {
            from: from.clone(),
            data: sync_with_bloom(&[1, 0, 7]),
            is_request: false,
        },
        &mut effects,
    );
    assert_eq!(effects.close.len(), 1, "refused");
    assert_eq!(effects.close[0].0, from.conn);
}

/// Regression: automerge trusts a received Bloom filter's
/// `num_probes` and calls `Vec::with_capacity(num_probes)` of `u32`, then loops `num_probes`
/// times, for every change hash it tests against the filter. With `num_probes` = `u32::MAX` (a
/// 16-byte payload: `42 00 00 01 00 09 01 0a ff ff ff ff 0f 00 00 00`) the server tries to allocate
/// 16 GiB: under a memory limit the allocation fails and the whole process aborts (checked by
/// hand with `ulimit -v`; not run here), otherwise it eats memory and CPU. This test uses 2^24
/// probes (64 MiB, harmless) and expects such a filter to be refused like any other malformed
/// sync message.
#[test]
fn a_bloom_filter_with_absurdly_many_probes_is_refused() {
    let mut core = stored_core();
    let from = sender_origin(0);
    let mut effects = Effects::default();
    // num_entries 1, 10 bits per entry, 2^24 probes, two bytes of bits.
    let probes = 1u64 << 24;
    let mut bloom = vec![1, 10];
    leb128::write::unsigned(&mut bloom, probes).unwrap();
    bloom.extend([0, 0]);
    core.handle(
        Input::Sync {
            from: from.clone(),
            data: sync_with_bloom(&bloom),
            is_request: false,
        },
        &mut effects,
    );
    assert_eq!(effects.close.len(), 1, "refused");
    assert_eq!(effects.close[0].0, from.conn);
}
