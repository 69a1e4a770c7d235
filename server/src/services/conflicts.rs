//! Conflicts: the fields of a plan where members' concurrent edits left different values, with
//! who chose each (`GET /api/v1/plans/{id}/conflicts`). Found by [`cairn_shared::conflicts`]
//! in the document the sync hub holds; the writers are named through the plan's actor
//! bindings (which account each Automerge actor writes for).

use std::collections::HashMap;

use cairn_shared::api::{ConflictingValue, PlanConflict};
use cairn_shared::conflicts::open_conflicts;
use cairn_shared::{PlanId, UserId};
use tracing::instrument;

use super::Services;
use super::plans::{PlanError, read_document, role_on};
use crate::domain::Caller;

/// The plan's open conflicts, in document order.
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id))]
pub async fn conflicts(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<Vec<PlanConflict>, PlanError> {
    role_on(services, caller, plan).await?;
    let found = read_document(
        services,
        caller,
        plan,
        open_conflicts::<automerge::Automerge>,
    )
    .await?;
    named(services, plan, found).await
}

/// Conflicts found in a plan's document, with who chose each value (by the plan's actor
/// bindings).
pub(crate) async fn named(
    services: &Services,
    plan: PlanId,
    found: Vec<cairn_shared::conflicts::FieldConflict>,
) -> Result<Vec<PlanConflict>, PlanError> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let actors = services.store.actor_bindings(plan).await?;
    let mut names: HashMap<UserId, Option<String>> = HashMap::new();
    let mut answer = Vec::with_capacity(found.len());
    for conflict in found {
        let mut values = Vec::with_capacity(conflict.values.len());
        for standing in conflict.values {
            let author_id = actors.get(&standing.actor).copied();
            let author_name = match author_id {
                Some(id) => match names.get(&id) {
                    Some(name) => name.clone(),
                    None => {
                        let name = services.store.user(id).await?.map(|user| user.display_name);
                        names.insert(id, name.clone());
                        name
                    }
                },
                None => None,
            };
            values.push(ConflictingValue {
                value: standing.value,
                author_id,
                author_name,
            });
        }
        answer.push(PlanConflict {
            path: conflict.path,
            field: conflict.field,
            item_id: conflict.item_id,
            values,
        });
    }
    Ok(answer)
}
