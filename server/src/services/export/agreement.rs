//! Where each member stands on a goal (a goal's `agreement`, schema v1 revision 2), for the
//! exports: in the plan's order of people (owner first, then supporters, then former members),
//! then any account ids the plan's people do not include, as written.

use super::document::{Goal, Stance, Stand};
use super::{People, Person};

/// A goal's stances with the person each names (`None` for an account id that is not one of the
/// plan's people: a client wrote it, so it is not turned into a name).
pub fn stands<'a>(goal: &'a Goal, people: &'a People) -> Vec<(Option<&'a Person>, &'a Stand)> {
    let mut stands: Vec<(Option<usize>, Option<&Person>, &Stand)> = goal
        .agreement
        .iter()
        .map(|stand| {
            let person = people.find(&stand.account);
            let rank = person.and_then(|p| people.everyone.iter().position(|e| e.id == p.id));
            (rank, person, stand)
        })
        .collect();
    // Known people in the plan's order; unknown accounts after them, in document order.
    stands.sort_by_key(|(rank, _, _)| rank.unwrap_or(usize::MAX));
    stands
        .into_iter()
        .map(|(_, person, stand)| (person, stand))
        .collect()
}

/// The stance in plain words (what the apps show).
pub fn stance_words(stance: &Stance) -> String {
    match stance {
        Stance::Known(stance) => stance.plain_words().to_owned(),
        Stance::Other(written) => format!("“{written}”"),
        Stance::Missing => "no stance yet".to_owned(),
    }
}

/// The `goal-acceptance` status code: agree → agree, I see it differently → disagree, not yet
/// (and anything unreadable) → pending.
pub fn fhir_status(stance: &Stance) -> &'static str {
    match stance {
        Stance::Known(cairn_shared::plan::Stance::Agree) => "agree",
        Stance::Known(cairn_shared::plan::Stance::Differ) => "disagree",
        Stance::Known(cairn_shared::plan::Stance::NotYet) | Stance::Other(_) | Stance::Missing => {
            "pending"
        }
    }
}
