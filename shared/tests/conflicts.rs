//! Property tests of conflicts: random concurrent edits by two members always leave a conflict
//! list both members' documents agree on once synced, and settling each conflict (by either
//! member, choosing any of its values) clears it for both.

#![allow(clippy::expect_used, clippy::panic)]

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value};
use cairn_shared::conflicts::{open_conflicts, settle};
use cairn_shared::plan::{
    CheckIn, Goal, GoalStatus, Step, StepWho, Support, SupportKind, new_plan_document, write,
};
use proptest::prelude::*;
use serde_json::Value as Json;

const STATUSES: [GoalStatus; 5] = [
    GoalStatus::Thinking,
    GoalStatus::Working,
    GoalStatus::Paused,
    GoalStatus::Done,
    GoalStatus::LetGo,
];
const WHO: [StepWho; 3] = [StepWho::Me, StepWho::Supporter, StepWho::Together];
const KINDS: [&str; 3] = ["person", "place", "resource"];
const DATES: [&str; 3] = ["2026-03-02", "2026-03-09", "2026-04-01"];

/// One member's edit of a single value.
#[derive(Debug, Clone)]
enum Edit {
    Status(usize, usize),
    Done(usize, bool),
    Who(usize, usize),
    Due(usize, usize),
    Kind(usize),
    CheckInDate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..2usize, 0..5usize).prop_map(|(g, s)| Edit::Status(g, s)),
        (0..2usize, any::<bool>()).prop_map(|(s, d)| Edit::Done(s, d)),
        (0..2usize, 0..3usize).prop_map(|(s, w)| Edit::Who(s, w)),
        (0..2usize, 0..3usize).prop_map(|(s, d)| Edit::Due(s, d)),
        (0..3usize).prop_map(Edit::Kind),
        (0..3usize).prop_map(Edit::CheckInDate),
    ]
}

fn goal_id(n: usize) -> String {
    format!("goal-{n}")
}

/// The plan both members start from: two goals (the first with two steps), a support, a
/// check-in.
fn shared_plan() -> AutoCommit {
    let mut doc =
        new_plan_document(ActorId::from(b"server".as_slice()), "Moving on").expect("plan");
    for n in 0..2 {
        let goal = Goal {
            id: goal_id(n),
            text: format!("Goal {n}"),
            status: GoalStatus::Thinking,
            steps: Vec::new(),
            created_by: "person".into(),
            created_at: "2026-03-02T10:00:00Z".into(),
            agreement: Default::default(),
        };
        write::add_goal(&mut doc, &goal).expect("goal");
    }
    for n in 0..2 {
        let step = Step {
            id: format!("step-{n}"),
            text: format!("Step {n}"),
            who: StepWho::Me,
            done: false,
            due: None,
        };
        write::add_step(&mut doc, &goal_id(0), &step).expect("step");
    }
    let support = Support {
        id: "support".into(),
        name: "My sister".into(),
        kind: SupportKind::Person,
        contact: None,
        note: None,
    };
    write::add_support(&mut doc, &support).expect("support");
    let check_in = CheckIn {
        id: "check-in".into(),
        date: "2026-03-01".into(),
        by: "person".into(),
        how_it_went: String::new(),
        what_we_learned: String::new(),
    };
    write::add_check_in(&mut doc, &check_in).expect("check-in");
    doc.commit();
    doc
}

fn item(doc: &AutoCommit, list_key: &str, id: &str) -> ObjId {
    let list = match doc.get(ROOT, list_key).expect("read") {
        Some((Value::Object(ObjType::List), list)) => list,
        _ => panic!("no list {list_key}"),
    };
    write::find_item(doc, &list, id).expect("item")
}

fn step(doc: &AutoCommit, n: usize) -> ObjId {
    let goal = item(doc, "goals", &goal_id(0));
    let steps = doc.get(&goal, "steps").expect("read").expect("steps").1;
    write::find_item(doc, &steps, &format!("step-{n}")).expect("step")
}

fn apply(doc: &mut AutoCommit, edit: &Edit) {
    match *edit {
        Edit::Status(goal, status) => {
            write::set_goal_status(doc, &goal_id(goal), STATUSES[status]).expect("status")
        }
        Edit::Done(n, done) => {
            write::set_step_done(doc, &goal_id(0), &format!("step-{n}"), done).expect("done")
        }
        Edit::Who(n, who) => {
            let step = step(doc, n);
            doc.put(&step, "who", WHO[who].as_str()).expect("who");
        }
        Edit::Due(n, date) => {
            let step = step(doc, n);
            doc.put(&step, "due", DATES[date]).expect("due");
        }
        Edit::Kind(kind) => {
            let support = item(doc, "supports", "support");
            doc.put(&support, "kind", KINDS[kind]).expect("kind");
        }
        Edit::CheckInDate(date) => {
            let check_in = item(doc, "checkIns", "check-in");
            doc.put(&check_in, "date", DATES[date]).expect("date");
        }
    }
    doc.commit();
}

fn sync(a: &mut AutoCommit, b: &mut AutoCommit) {
    a.merge(b).expect("merge");
    b.merge(a).expect("merge");
}

/// The value Automerge shows at a conflict's place now.
fn shown(doc: &AutoCommit, object: &ObjId, field: &str) -> Json {
    match doc.get(object, field).expect("read") {
        Some((value, id)) => cairn_shared::conflicts::to_json(doc, &value, &id),
        None => Json::Null,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn both_members_see_the_same_conflicts_and_settling_clears_them_for_both(
        person_edits in prop::collection::vec(edit(), 0..10),
        supporter_edits in prop::collection::vec(edit(), 0..10),
        settlers in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 12),
    ) {
        let mut plan = shared_plan();
        let person_actor = ActorId::from(b"person".as_slice());
        let supporter_actor = ActorId::from(b"supporter".as_slice());
        let mut person = plan.fork().with_actor(person_actor.clone());
        let mut supporter = plan.fork().with_actor(supporter_actor.clone());
        // Offline, each edits on their own phone.
        for edit in &person_edits {
            apply(&mut person, edit);
        }
        for edit in &supporter_edits {
            apply(&mut supporter, edit);
        }
        sync(&mut person, &mut supporter);

        let conflicts = open_conflicts(&person);
        prop_assert_eq!(&conflicts, &open_conflicts(&supporter));
        let writers = [person_actor.to_hex_string(), supporter_actor.to_hex_string()];
        for conflict in &conflicts {
            prop_assert!(conflict.values.len() >= 2);
            prop_assert!(conflict.values.iter().any(|v| v.value != conflict.values[0].value));
            prop_assert!(conflict.values.iter().all(|v| writers.contains(&v.actor)), "{:?}", conflict);
            // Conflicts only come from a value both members set.
            prop_assert!(person_edits.len() + supporter_edits.len() >= 2);
        }

        // Either member settles each, choosing any standing value.
        let mut chosen = Vec::new();
        for (conflict, (by_person, which)) in conflicts.iter().zip(&settlers) {
            let value = conflict.values[which.index(conflict.values.len())].value.clone();
            let settler = if *by_person { &mut person } else { &mut supporter };
            settle(settler, conflict, &value).expect("settle");
            settler.commit();
            chosen.push((conflict.object.clone(), conflict.field.clone(), value));
        }
        sync(&mut person, &mut supporter);
        prop_assert!(open_conflicts(&person).is_empty(), "{:?}", open_conflicts(&person));
        prop_assert!(open_conflicts(&supporter).is_empty());
        for (object, field, value) in chosen {
            prop_assert_eq!(&shown(&person, &object, &field), &value);
            prop_assert_eq!(&shown(&supporter, &object, &field), &value);
        }
    }
}
