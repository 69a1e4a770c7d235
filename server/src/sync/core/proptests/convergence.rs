//! Property 3: edit / offline / reconnect schedules of two member clients converge.

use std::collections::{HashMap, HashSet};

use cairn_shared::plan::SCHEMA_VERSION;
use proptest::collection::vec;
use proptest::prelude::*;

use super::world::{CLIENTS, Op, World, arb_op};
use super::{
    OWNER, OWNER_DEVICE, SUPPORTER, SUPPORTER_DEVICE, actor, json,
    prop_assert_stored_plan_is_the_merge,
};

fn arb_schedule() -> impl Strategy<Value = ([bool; CLIENTS], Vec<Op>)> {
    (any::<[bool; CLIENTS]>(), vec(arb_op(), 1..40))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Two members edit, sync, drop off (noticed or not) and reconnect in any order; afterwards
    /// everyone reconnects and syncs. Then: both clients and the server hold the same changes and
    /// content, the stored plan (skeleton plus every stored change, in order) is the server's
    /// document, every stored change carries the account of the client that made it, and no
    /// change is stored twice.
    #[test]
    fn two_members_converge_and_the_stored_plan_is_the_merge_of_accepted_changes(
        (starts_with_plan, ops) in arb_schedule(),
    ) {
        let mut world = World::new(starts_with_plan);
        for op in &ops {
            world.run(op);
        }
        prop_assert!(world.reconnect_all_and_settle(), "sync did not settle");
        prop_assert!(world.trouble.is_empty(), "{:?}", world.trouble);

        // (a) Convergence: same heads and content everywhere.
        let server_heads = world.core.doc().get_heads();
        let server_json = json(world.core.doc());
        for (client, device) in world.devices.iter_mut().enumerate() {
            prop_assert_eq!(&device.doc.get_heads(), &server_heads, "client {} heads", client);
            prop_assert_eq!(&json(&device.doc), &server_json, "client {} content", client);
        }
        prop_assert_eq!(
            server_json.get("schemaVersion"),
            Some(&serde_json::json!(SCHEMA_VERSION)),
            "the skeleton reached everyone"
        );

        // (b) The stored plan is the merge of all accepted changes (and (d) each stored once).
        prop_assert_stored_plan_is_the_merge(world.core.doc(), &world.stored)?;

        // (c) Each stored change's author is the account whose client made it.
        let author_of = HashMap::from([
            (actor(OWNER_DEVICE).to_hex_string(), OWNER),
            (actor(SUPPORTER_DEVICE).to_hex_string(), SUPPORTER),
        ]);
        for change in &world.stored {
            prop_assert_eq!(
                author_of.get(&change.actor),
                Some(&change.author_id),
                "change {} by actor {} stored with author {}",
                &change.hash,
                &change.actor,
                change.author_id
            );
        }
        let mut bound = HashSet::new();
        for (hex, user) in &world.bindings {
            prop_assert_eq!(author_of.get(hex), Some(user), "actor {} bound to {}", hex, user);
            prop_assert!(bound.insert(hex.clone()), "actor {} bound twice", hex);
        }
        // Every client's own edits were accepted.
        for device in &mut world.devices {
            let own = actor(if device.user == OWNER { OWNER_DEVICE } else { SUPPORTER_DEVICE });
            let made = device
                .doc
                .get_changes(&[])
                .iter()
                .filter(|change| *change.actor_id() == own)
                .count();
            let kept = world
                .stored
                .iter()
                .filter(|change| change.actor == own.to_hex_string())
                .count();
            prop_assert_eq!(made, kept);
        }
    }
}
