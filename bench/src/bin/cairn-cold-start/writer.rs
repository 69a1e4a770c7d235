//! Writing the plan: a person and their supporter editing it in turns, one Automerge change per
//! keystroke or tap (goals, steps, check-ins and supports typed a character at a time), from a
//! seed, so the same seed writes the same plan.

use anyhow::{Context, bail, ensure};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc};
use cairn_shared::plan::{CheckIn, Goal, GoalStatus, Step, StepWho, Support, SupportKind, write};
use cairn_tests::Session;

/// One sitting of one author: its changes, concatenated, to upload together.
pub struct Sitting {
    pub by_person: bool,
    pub changes: usize,
    pub bytes: Vec<u8>,
}

/// Writes edits into a plan the way its two members would, one Automerge change per edit.
pub struct PlanWriter {
    pub doc: AutoCommit,
    person_actor: automerge::ActorId,
    supporter_actor: automerge::ActorId,
    person_id: String,
    supporter_id: String,
    made: usize,
    target: usize,
    rng: u64,
    /// Goals: id and text object.
    pub goals: Vec<(String, ObjId)>,
    /// Steps: goal id and step id.
    pub steps: Vec<(String, String)>,
    pub check_ins: usize,
    pub supports: usize,
    pub typed: usize,
}

const GOALS: &[&str] = &[
    "Walk to the park with my sister every Sunday",
    "Cook a proper meal twice a week",
    "Get back to the allotment before the spring",
    "Phone my brother more often",
    "Find a part-time job in a bookshop",
    "Sleep before midnight on weekdays",
    "Go swimming on Thursday mornings",
    "Learn to drive so I can visit Mum",
    "Save a little each month for a holiday",
    "Join the choir at the community centre",
    "Sort out the letters from the council",
    "Take the dog for longer walks",
];
const STEPS: &[&str] = &[
    "Look up the bus times",
    "Ask Sam to come along the first time",
    "Write a shopping list together",
    "Call the leisure centre about prices",
    "Put the date in my phone",
    "Bring the forms to our next meeting",
    "Try it once and see how it feels",
    "Check the library noticeboard",
];
const CHECK_INS: &[&str] = &[
    "Went twice this week and felt good after. ",
    "Harder than I thought, but I went. ",
    "Missed it, I was too tired; trying again next week. ",
    "Sam came with me, which helped a lot. ",
];
const WHAT_MATTERS: &[&str] = &[
    "Being near my family. ",
    "Having a routine that feels like mine. ",
    "Feeling useful to someone. ",
    "Being outdoors when I can. ",
];
const SUPPORTS: &[&str] = &[
    "Sam (sister)",
    "Community centre",
    "Citizens Advice",
    "Dr Okafor",
];

impl PlanWriter {
    pub fn new(
        doc: AutoCommit,
        target: usize,
        seed: u64,
        person: &Session,
        supporter: &Session,
    ) -> Self {
        Self {
            doc,
            person_actor: automerge::ActorId::random(),
            supporter_actor: automerge::ActorId::random(),
            person_id: person.user_id().to_string(),
            supporter_id: supporter.user_id().to_string(),
            made: 0,
            target,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            goals: Vec::new(),
            steps: Vec::new(),
            check_ins: 0,
            supports: 0,
            typed: 0,
        }
    }

    /// xorshift64*: the same seed writes the same plan.
    fn next(&mut self, below: usize) -> usize {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let value = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33;
        (value % below.max(1) as u64) as usize
    }

    fn full(&self) -> bool {
        self.made >= self.target
    }

    /// Close the current edit as its own change (a tap that changed nothing, such as picking
    /// the status a goal already has, makes none).
    fn commit(&mut self) -> anyhow::Result<()> {
        if self.doc.commit().is_some() {
            self.made += 1;
        }
        Ok(())
    }

    /// Sittings alternate: the person (longer), then the supporter, until the plan is written.
    pub fn write_all(&mut self) -> anyhow::Result<Vec<Sitting>> {
        let mut sittings = Vec::new();
        let mut by_person = true;
        while !self.full() {
            let before = self.doc.get_heads();
            let made_before = self.made;
            if by_person {
                self.doc.set_actor(self.person_actor.clone());
                let length = 150 + self.next(450);
                self.person_sitting(made_before + length)?;
            } else {
                self.doc.set_actor(self.supporter_actor.clone());
                let length = 100 + self.next(300);
                self.supporter_sitting(made_before + length)?;
            }
            let changes = self.doc.get_changes(&before);
            ensure!(
                changes.len() == self.made - made_before,
                "a sitting's changes went missing"
            );
            sittings.push(Sitting {
                by_person,
                changes: changes.len(),
                bytes: changes
                    .iter()
                    .flat_map(|change| change.raw_bytes().iter().copied())
                    .collect(),
            });
            by_person = !by_person;
        }
        Ok(sittings)
    }

    fn person_sitting(&mut self, until: usize) -> anyhow::Result<()> {
        while self.made < until && !self.full() {
            match self.next(100) {
                0..50 => self.new_goal()?,
                50..65 if !self.goals.is_empty() => self.set_status()?,
                65..85 => {
                    let text = self.root_text("whatMatters")?;
                    let sentence = WHAT_MATTERS[self.next(WHAT_MATTERS.len())];
                    let at = self.doc.length(&text);
                    self.type_into(&text, at, sentence)?;
                }
                _ => self.check_in()?,
            }
        }
        Ok(())
    }

    fn supporter_sitting(&mut self, until: usize) -> anyhow::Result<()> {
        while self.made < until && !self.full() {
            match self.next(100) {
                _ if self.goals.is_empty() => self.support()?,
                0..55 => self.new_step()?,
                55..75 if !self.steps.is_empty() => {
                    let pick = self.next(self.steps.len());
                    let (goal, step) = self.steps[pick].clone();
                    write::set_step_done(&mut self.doc, &goal, &step, true)?;
                    self.commit()?;
                }
                75..85 => self.set_status()?,
                _ => self.support()?,
            }
        }
        Ok(())
    }

    fn new_goal(&mut self) -> anyhow::Result<()> {
        let id = format!("goal-{}", self.goals.len() + 1);
        write::add_goal(
            &mut self.doc,
            &Goal {
                id: id.clone(),
                text: String::new(),
                status: GoalStatus::Thinking,
                steps: Vec::new(),
                created_by: self.person_id.clone(),
                created_at: "2025-03-01T10:00:00Z".into(),
                agreement: Default::default(),
            },
        )?;
        self.commit()?;
        let goals = self.root_list("goals")?;
        let goal = last_item(&self.doc, &goals)?;
        let text = child(&self.doc, &goal, "text")?;
        self.goals.push((id, text.clone()));
        let words = GOALS[self.next(GOALS.len())];
        self.type_into(&text, 0, words)
    }

    fn new_step(&mut self) -> anyhow::Result<()> {
        // Mostly the goals written lately, as in a real conversation.
        let recent = self.goals.len().min(5);
        let back = self.next(recent);
        let goal_id = self.goals[self.goals.len() - 1 - back].0.clone();
        let step_id = format!("step-{}", self.steps.len() + 1);
        let who = [StepWho::Me, StepWho::Supporter, StepWho::Together][self.next(3)];
        write::add_step(
            &mut self.doc,
            &goal_id,
            &Step {
                id: step_id.clone(),
                text: String::new(),
                who,
                done: false,
                due: None,
            },
        )?;
        self.commit()?;
        let goals = self.root_list("goals")?;
        let goal = write::find_item(&self.doc, &goals, &goal_id).context("the goal")?;
        let steps = child(&self.doc, &goal, "steps")?;
        let step = last_item(&self.doc, &steps)?;
        let text = child(&self.doc, &step, "text")?;
        self.steps.push((goal_id, step_id));
        let words = STEPS[self.next(STEPS.len())];
        self.type_into(&text, 0, words)
    }

    fn set_status(&mut self) -> anyhow::Result<()> {
        let pick = self.next(self.goals.len());
        let (goal, _) = self.goals[pick].clone();
        let status = [
            GoalStatus::Thinking,
            GoalStatus::Working,
            GoalStatus::Paused,
            GoalStatus::Done,
            GoalStatus::LetGo,
        ][self.next(5)];
        write::set_goal_status(&mut self.doc, &goal, status)?;
        self.commit()
    }

    fn check_in(&mut self) -> anyhow::Result<()> {
        self.check_ins += 1;
        write::add_check_in(
            &mut self.doc,
            &CheckIn {
                id: format!("check-in-{}", self.check_ins),
                date: "2025-03-08".into(),
                by: self.person_id.clone(),
                how_it_went: String::new(),
                what_we_learned: String::new(),
            },
        )?;
        self.commit()?;
        let list = self.root_list("checkIns")?;
        let item = last_item(&self.doc, &list)?;
        let text = child(&self.doc, &item, "howItWent")?;
        let words = CHECK_INS[self.next(CHECK_INS.len())];
        self.type_into(&text, 0, words)
    }

    fn support(&mut self) -> anyhow::Result<()> {
        self.supports += 1;
        write::add_support(
            &mut self.doc,
            &Support {
                id: format!("support-{}", self.supports),
                name: String::new(),
                kind: SupportKind::Person,
                contact: None,
                note: Some(format!("Added by {}", self.supporter_id)),
            },
        )?;
        self.commit()?;
        let list = self.root_list("supports")?;
        let item = last_item(&self.doc, &list)?;
        let text = child(&self.doc, &item, "name")?;
        let words = SUPPORTS[self.next(SUPPORTS.len())];
        self.type_into(&text, 0, words)
    }

    /// Type `words` at `at`, one character per change, with the odd typo fixed at once.
    fn type_into(&mut self, text: &ObjId, mut at: usize, words: &str) -> anyhow::Result<()> {
        for character in words.chars() {
            if self.full() {
                return Ok(());
            }
            if self.next(25) == 0 && self.target - self.made >= 3 {
                self.doc.splice_text(text, at, 0, "x")?;
                self.commit()?;
                self.doc.splice_text(text, at, 1, "")?;
                self.commit()?;
            }
            self.doc
                .splice_text(text, at, 0, character.encode_utf8(&mut [0; 4]))?;
            self.commit()?;
            self.typed += 1;
            at += 1;
        }
        Ok(())
    }

    fn root_list(&self, key: &str) -> anyhow::Result<ObjId> {
        child(&self.doc, &ROOT, key)
    }

    fn root_text(&self, key: &str) -> anyhow::Result<ObjId> {
        child(&self.doc, &ROOT, key)
    }
}

fn child(doc: &AutoCommit, object: &ObjId, key: &str) -> anyhow::Result<ObjId> {
    match doc.get(object, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => bail!("the plan has no object at {key}"),
    }
}

fn last_item(doc: &AutoCommit, list: &ObjId) -> anyhow::Result<ObjId> {
    let length = doc.length(list);
    ensure!(length > 0, "an empty list");
    match doc.get(list, length - 1)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => bail!("the list's last item is not a map"),
    }
}

/// The fresh client's one edit after loading the plan: tick (or untick) the first step.
pub fn tick_first_step(doc: &mut AutoCommit) -> anyhow::Result<()> {
    let goals = child(doc, &ROOT, "goals")?;
    for index in 0..doc.length(&goals) {
        let Some((automerge::Value::Object(ObjType::Map), goal)) = doc.get(&goals, index)? else {
            continue;
        };
        let steps = child(doc, &goal, "steps")?;
        if let Some((automerge::Value::Object(ObjType::Map), step)) = doc.get(&steps, 0)? {
            let done = matches!(
                doc.get(&step, "done")?,
                Some((automerge::Value::Scalar(value), _))
                    if matches!(value.as_ref(), automerge::ScalarValue::Boolean(true))
            );
            doc.put(&step, "done", !done)?;
            doc.commit().context("the tick made no change")?;
            return Ok(());
        }
    }
    bail!("the plan has no step to tick")
}
