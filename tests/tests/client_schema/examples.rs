//! The example plan documents, made the way real ones are: the skeleton by the server's
//! `new_plan_document`, the rest by two people's devices editing their own copies with the typed
//! writes of `cairn_shared::plan::write` and merging. Each example is the document read back as
//! JSON (`AutoSerde`), exactly as `GET /api/v1/plans/{plan}` answers it.

use automerge::{ActorId, AutoCommit, AutoSerde};
use cairn_shared::plan::write::{
    add_check_in, add_goal, add_step, add_strength, add_support, set_agreement_at, set_goal_status,
    set_step_done, set_what_matters,
};
use cairn_shared::plan::{
    CheckIn, Goal, GoalStatus, Stance, Step, StepWho, Strength, Support, SupportKind,
    new_plan_document,
};
use serde_json::Value;

/// Maria: the person whose plan it is (its owner).
const MARIA: &str = "0c6b3a4e-5d2f-4f8a-9b1c-7e2d4a6f8b10";
/// Sam: Maria's peer specialist, who joined the plan with her invitation.
const SAM: &str = "9a1f7c3d-2b4e-4d6a-8c5f-1e3b5d7f9a20";

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16].as_slice())
}

fn as_json(doc: &AutoCommit) -> Value {
    match serde_json::to_value(AutoSerde::from(doc)) {
        Ok(value) => value,
        Err(err) => panic!("the example document does not read as JSON: {err}"),
    }
}

fn written<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("an example edit failed: {err}"),
    }
}

/// The skeleton every new plan starts from (`POST /api/v1/plans` without a title).
pub fn skeleton() -> Value {
    as_json(&written(new_plan_document(actor(1), "")))
}

fn step(id: &str, text: &str, who: StepWho, due: Option<&str>) -> Step {
    Step {
        id: id.into(),
        text: text.into(),
        who,
        done: false,
        due: due.map(Into::into),
    }
}

/// A plan Maria and Sam wrote together: she started it on her phone, he added to it from his
/// during a session while she kept writing on the bus, and their edits merged.
pub fn written_together() -> Value {
    let mut maria = written(new_plan_document(actor(1), "My way forward")).with_actor(actor(2));
    written(set_what_matters(
        &mut maria,
        "Being there for my kids. Feeling steady in the mornings. Growing things again.",
    ));
    written(add_strength(
        &mut maria,
        &Strength {
            id: "strength-showing-up".into(),
            text: "I keep showing up, even on the hard days".into(),
            added_by: Some(MARIA.into()),
        },
    ));
    written(add_strength(
        &mut maria,
        &Strength {
            id: "strength-cooking".into(),
            text: "I cook for my kids every night".into(),
            added_by: Some(MARIA.into()),
        },
    ));
    written(add_goal(
        &mut maria,
        &Goal {
            id: "goal-allotment".into(),
            text: "Get back to the allotment by spring".into(),
            status: GoalStatus::Working,
            steps: vec![step(
                "step-ring-society",
                "Ring the allotment society about my old plot",
                StepWho::Me,
                None,
            )],
            created_by: MARIA.into(),
            created_at: "2026-11-07T18:42:10Z".into(),
            agreement: Default::default(),
        },
    ));
    written(add_goal(
        &mut maria,
        &Goal {
            id: "goal-thursday-group".into(),
            text: "Go to the Thursday evening group".into(),
            status: GoalStatus::Thinking,
            steps: Vec::new(),
            created_by: MARIA.into(),
            created_at: "2026-11-07T18:50:31Z".into(),
            agreement: Default::default(),
        },
    ));
    maria.commit();

    // Sam's phone gets the plan, and both go on writing, each on their own copy.
    let mut sam = maria.fork().with_actor(actor(3));
    written(add_strength(
        &mut sam,
        &Strength {
            id: "strength-honest".into(),
            text: "Maria says what's hard out loud. That takes courage.".into(),
            added_by: Some(SAM.into()),
        },
    ));
    written(add_step(
        &mut sam,
        "goal-allotment",
        &step(
            "step-bus-times",
            "I'll find out which bus goes out there on Saturdays",
            StepWho::Supporter,
            Some("2026-11-28"),
        ),
    ));
    written(add_step(
        &mut sam,
        "goal-allotment",
        &step(
            "step-first-visit",
            "Go and see the plot together the first time",
            StepWho::Together,
            Some("2026-12-05"),
        ),
    ));
    written(add_goal(
        &mut sam,
        &Goal {
            id: "goal-sleep".into(),
            text: "Sleep before midnight most nights".into(),
            status: GoalStatus::Thinking,
            steps: vec![step(
                "step-phone-kitchen",
                "Leave my phone in the kitchen at 11",
                StepWho::Me,
                None,
            )],
            created_by: SAM.into(),
            created_at: "2026-11-14T10:05:00Z".into(),
            agreement: Default::default(),
        },
    ));
    written(add_support(
        &mut sam,
        &Support {
            id: "support-cafe".into(),
            name: "Recovery café on Mill Street".into(),
            kind: SupportKind::Resource,
            contact: None,
            note: Some("Open Tuesdays and Fridays, 10 till 2. Sam is there on Fridays.".into()),
        },
    ));
    written(add_check_in(
        &mut sam,
        &CheckIn {
            id: "check-in-2026-11-14".into(),
            date: "2026-11-14".into(),
            by: SAM.into(),
            how_it_went: "A hard week. Maria still made it to the café on Friday.".into(),
            what_we_learned: "Mornings go better when the bus times are sorted the night before."
                .into(),
        },
    ));
    written(set_agreement_at(
        &mut sam,
        "goal-allotment",
        SAM,
        Stance::NotYet,
        "Spring feels soon with the bus the way it is. Can we talk it through on Friday?",
        "2026-11-14T10:12:00Z",
    ));
    sam.commit();

    // Meanwhile, on the bus, offline.
    written(set_agreement_at(
        &mut maria,
        "goal-allotment",
        MARIA,
        Stance::Agree,
        "It's mine and I want it.",
        "2026-11-14T09:30:00Z",
    ));
    written(set_step_done(
        &mut maria,
        "goal-allotment",
        "step-ring-society",
        true,
    ));
    written(set_goal_status(
        &mut maria,
        "goal-thursday-group",
        GoalStatus::LetGo,
    ));
    written(add_support(
        &mut maria,
        &Support {
            id: "support-dee".into(),
            name: "Dee, my sister".into(),
            kind: SupportKind::Person,
            contact: Some("07700 900123".into()),
            note: Some("Picks the kids up on Wednesdays".into()),
        },
    ));
    written(add_support(
        &mut maria,
        &Support {
            id: "support-allotment".into(),
            name: "The allotment".into(),
            kind: SupportKind::Place,
            contact: None,
            note: Some("Where my head goes quiet".into()),
        },
    ));
    written(add_check_in(
        &mut maria,
        &CheckIn {
            id: "check-in-2026-11-21".into(),
            date: "2026-11-21".into(),
            by: MARIA.into(),
            how_it_went: "Rang the allotment society. Plot 14 is mine again!".into(),
            what_we_learned: "Asking is less scary with Sam sat next to me.".into(),
        },
    ));
    maria.commit();

    // Back online: both copies merge into the same plan.
    written(maria.merge(&mut sam));
    written(sam.merge(&mut maria));
    let plan = as_json(&maria);
    assert_eq!(plan, as_json(&sam), "both copies converge");
    plan
}
