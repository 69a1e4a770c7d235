//! The Markdown export: a page to read and print, in the product's plain language, saying who
//! wrote what. The person's words are escaped so that they render exactly as written: a goal
//! that starts with `#` or `*` is a goal, not a heading or a bullet.

use std::fmt::Write as _;

use serde_json::Value;

use super::document::{self, CheckIn, Done, Entry, Goal, Status, Step, Strength, Support, Who};
use super::{Source, role_name};

/// Characters that mean something anywhere in a line (CommonMark, and GitHub's tables,
/// strikethrough and math). Backslash-escaping any ASCII punctuation is always allowed; `#` is
/// escaped everywhere because a heading drops a trailing ` #`.
const INLINE_SPECIAL: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '#', '|', '~', '$'];

/// Escape one line of words. Leading indentation is kept up to three spaces (four would start
/// a code block) and trailing spaces are dropped (two would be a line break).
fn escape_line(line: &str) -> String {
    let body = line.trim_start_matches([' ', '\t']);
    let indent = (line.len() - body.len()).min(3);
    let body = body.trim_end();
    let mut out = String::with_capacity(body.len() + indent + 8);
    out.extend(std::iter::repeat_n(' ', indent));
    // What would open a block at the start of a line: a list item (`-`, `+`, `1.`, `1)`),
    // a thematic break (`---`), a setext underline (`===`) or a quote (`>`).
    let digits = body.chars().take_while(char::is_ascii_digit).count();
    let marker_at = if body.starts_with(['-', '+', '=', '>']) {
        Some(0)
    } else if digits > 0 && body[digits..].starts_with(['.', ')']) {
        Some(digits)
    } else {
        None
    };
    for (at, c) in body.char_indices() {
        // `&` only matters where it could start an entity (`&amp;`, `&#35;`).
        let entity = c == '&'
            && body[at + 1..].starts_with(|next: char| next == '#' || next.is_ascii_alphanumeric());
        if INLINE_SPECIAL.contains(&c) || entity || Some(at) == marker_at {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What ends a line: CommonMark's `\n`, `\r` and `\r\n`, and the Unicode line and paragraph
/// separators and NEL, which other renderers and editors take as line breaks. Every one of them
/// ends a line of words here, so that none can start a heading, a list or a link in the middle of
/// an escaped line.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{0085}')
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(is_line_break) {
            Some(at) => {
                let after = if text[at..].starts_with("\r\n") {
                    at + 2
                } else {
                    at + text[at..].chars().next().map_or(1, char::len_utf8)
                };
                rest = Some(&text[after..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// Whether `text` holds a line break of any kind (see [`is_line_break`]).
fn has_line_break(text: &str) -> bool {
    text.contains(is_line_break)
}

/// Words on one line (a heading, a name): line breaks become spaces.
fn inline(text: &str) -> String {
    lines(text)
        .map(escape_line)
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words as paragraphs: each line break kept (a hard break), blank lines between paragraphs
/// kept; every line after the first is indented by `indent` to stay inside a list item.
pub(super) fn block(text: &str, indent: &str) -> String {
    let mut paragraphs: Vec<Vec<String>> = vec![Vec::new()];
    for line in lines(text) {
        if line.trim().is_empty() {
            if paragraphs.last().is_some_and(|p| !p.is_empty()) {
                paragraphs.push(Vec::new());
            }
        } else if let Some(paragraph) = paragraphs.last_mut() {
            paragraph.push(escape_line(line));
        }
    }
    paragraphs
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.join(&format!("\\\n{indent}")))
        .collect::<Vec<_>>()
        .join(&format!("\n\n{indent}"))
}

/// A code span that shows `raw` literally, whatever backticks it holds. Line breaks become
/// spaces (as a code span renders them anyway): inside one they would still end the line, and
/// the next could start a heading or a list.
pub(super) fn code_span(raw: &str) -> String {
    let raw = lines(raw).collect::<Vec<_>>().join(" ");
    let raw = raw.as_str();
    let longest = raw
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    let pad = if raw.starts_with('`') || raw.ends_with('`') || raw.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{raw}{pad}{fence}")
}

pub(super) fn unreadable_note(part: &document::Unreadable) -> String {
    format!(
        "*(This could not be read: {} holds {}.)*",
        code_span(&part.path),
        code_span(&part.raw)
    )
}

/// Words for a list item or paragraph, or a note saying why there are none.
fn words_or(text: &document::Text, indent: &str, placeholder: &str) -> String {
    match text {
        document::Text::Unreadable(part) => unreadable_note(part),
        document::Text::Words(_) => match text.words() {
            Some(words) => block(words, indent),
            None => format!("*{placeholder}*"),
        },
    }
}

fn author(source: &Source<'_>, written: Option<&str>) -> Option<String> {
    let written = written?;
    Some(match source.people.find(written) {
        Some(person) => inline(&person.name),
        None => "someone who is not a member of this plan".to_owned(),
    })
}

/// A day as written: `YYYY-MM-DD` from an RFC 3339 time, anything else escaped as it is.
fn day(written: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(written) {
        Ok(time) => time.date_naive().to_string(),
        Err(_) => inline(written),
    }
}

/// The whole page.
pub fn render(source: &Source<'_>) -> String {
    let plan = document::read(source.document);
    let mut page = String::new();
    let title = plan
        .title
        .words()
        .map(inline)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Recovery plan".to_owned());
    let _ = writeln!(page, "# {title}\n");
    let names: Vec<String> = source
        .people
        .everyone
        .iter()
        .map(|person| format!("{} ({})", inline(&person.name), role_name(person.role)))
        .collect();
    let written_by = match names.len() {
        0 | 1 => "Written by",
        _ => "Written together by",
    };
    let _ = writeln!(
        page,
        "*Exported from Cairn on {} by {}. {written_by} {}.*\n",
        source.exported_at.date_naive(),
        inline(&source.exported_by.name),
        names.join(", ")
    );
    let _ = writeln!(page, "*{}*\n", inline(&source.version_words()));
    if !plan.is_v1() {
        let version = plan.schema_version.as_deref().unwrap_or("none");
        let _ = writeln!(
            page,
            "> This plan says it is written in schema version {}; this page reads it as version \
             1, so parts may be missing here. The JSON export holds all of it.\n",
            code_span(version)
        );
    }
    let unsettled = super::unsettled::sentences(source.unsettled, source.document);
    if !unsettled.is_empty() {
        let _ = writeln!(
            page,
            "> **Not settled yet.** You chose differently at the same time here; the plan keeps \
             every choice until one of you settles it:\n>"
        );
        for sentence in &unsettled {
            let _ = writeln!(page, "> - {}", inline(sentence));
        }
        page.push('\n');
    }

    let _ = writeln!(page, "## What matters to me\n");
    let _ = writeln!(
        page,
        "{}\n",
        words_or(&plan.what_matters, "", "Nothing written yet.")
    );

    let _ = writeln!(page, "## What's strong right now\n");
    if plan.strengths.is_empty() {
        let _ = writeln!(page, "*Nothing written yet.*\n");
    } else {
        for strength in &plan.strengths {
            let _ = writeln!(page, "- {}", strength_line(source, strength));
        }
        page.push('\n');
    }

    let _ = writeln!(page, "## Goals\n");
    if plan.goals.is_empty() {
        let _ = writeln!(page, "*No goals written yet.*\n");
    }
    for (index, goal) in plan.goals.iter().enumerate() {
        match goal {
            Entry::Read(goal) => write_goal(&mut page, source, goal, index + 1),
            Entry::Unreadable(part) => {
                let _ = writeln!(
                    page,
                    "### Goal {}\n\n{}\n",
                    index + 1,
                    unreadable_note(part)
                );
            }
        }
    }

    let _ = writeln!(page, "## Who helps\n");
    if plan.supports.is_empty() {
        let _ = writeln!(page, "*Nothing written yet.*\n");
    } else {
        for support in &plan.supports {
            let _ = writeln!(page, "- {}", support_item(support));
        }
        page.push('\n');
    }

    let _ = writeln!(page, "## Check-ins\n");
    if plan.check_ins.is_empty() {
        let _ = writeln!(page, "*No check-ins yet.*\n");
    }
    for check_in in &plan.check_ins {
        match check_in {
            Entry::Read(check_in) => write_check_in(&mut page, source, check_in),
            Entry::Unreadable(part) => {
                let _ = writeln!(page, "### A check-in\n\n{}\n", unreadable_note(part));
            }
        }
    }

    if !plan.other.is_empty() {
        let _ = writeln!(page, "## Other parts of the plan\n");
        for (key, value) in &plan.other {
            let _ = writeln!(page, "### {}\n\n{}\n", inline(key), other_value(value));
        }
    }
    if let Some(part) = &plan.root_unreadable {
        let _ = writeln!(page, "{}\n", unreadable_note(part));
    }
    while page.ends_with("\n\n") {
        page.pop();
    }
    page
}

fn strength_line(source: &Source<'_>, strength: &Entry<Strength>) -> String {
    match strength {
        Entry::Read(strength) => {
            let mut line = words_or(&strength.text, "  ", "(no words yet)");
            if let Some(name) = author(source, strength.added_by.as_deref()) {
                let _ = write!(line, " — *added by {name}*");
            }
            line
        }
        Entry::Unreadable(part) => unreadable_note(part),
    }
}

fn write_goal(page: &mut String, source: &Source<'_>, goal: &Goal, number: usize) {
    match goal.text.words() {
        Some(words) if !has_line_break(words.trim()) => {
            let _ = writeln!(page, "### {}\n", inline(words));
        }
        _ => {
            let _ = writeln!(
                page,
                "### Goal {number}\n\n{}\n",
                words_or(&goal.text, "", "(no words yet)")
            );
        }
    }
    let unsettled = super::unsettled::on(source.unsettled, goal.id.as_deref(), "status");
    let status = match &goal.status {
        _ if unsettled.is_some() => format!(
            "**Not settled yet: {}**",
            inline(&unsettled.map(super::unsettled::choices).unwrap_or_default())
        ),
        Status::Known(status) => format!("**{}**", status.plain_words()),
        Status::Other(written) => format!("**Status: {}**", inline(written)),
        Status::Missing => "**No status yet**".to_owned(),
    };
    let mut line = status;
    let by = author(source, goal.created_by.as_deref());
    let on = goal.created_at.as_deref().map(day);
    match (by, on) {
        (Some(name), Some(day)) => {
            let _ = write!(line, " · written by {name} on {day}");
        }
        (Some(name), None) => {
            let _ = write!(line, " · written by {name}");
        }
        (None, Some(day)) => {
            let _ = write!(line, " · written on {day}");
        }
        (None, None) => {}
    }
    let _ = writeln!(page, "{line}\n");
    let stands = super::agreement::stands(goal, source.people);
    if !stands.is_empty() {
        let said: Vec<String> = stands
            .iter()
            .map(|(person, stand)| {
                let name = person.map_or_else(
                    || "someone who is not a member of this plan".to_owned(),
                    |person| inline(&person.name),
                );
                let mut said = format!(
                    "{name}: {}",
                    inline(&super::agreement::stance_words(&stand.stance))
                );
                match &stand.note {
                    document::Text::Unreadable(part) => {
                        let _ = write!(said, " — {}", unreadable_note(part));
                    }
                    note => {
                        if let Some(words) = note.words() {
                            let _ = write!(said, " — ‘{}’", inline(words));
                        }
                    }
                }
                said
            })
            .collect();
        let _ = writeln!(page, "Where we stand: {}\n", said.join("; "));
    }
    if let Some(part) = &goal.steps_unreadable {
        let _ = writeln!(page, "Next steps: {}\n", unreadable_note(part));
    } else if !goal.steps.is_empty() {
        let _ = writeln!(page, "Next steps:\n");
        for step in &goal.steps {
            let _ = writeln!(page, "- {}", step_item(step));
        }
        page.push('\n');
    }
}

fn step_item(step: &Entry<Step>) -> String {
    let step = match step {
        Entry::Read(step) => step,
        Entry::Unreadable(part) => return unreadable_note(part),
    };
    let box_ = match step.done {
        Done::Yes => "[x]",
        Done::No | Done::Unreadable(_) => "[ ]",
    };
    let mut item = format!("{box_} {}", words_or(&step.text, "  ", "(no words yet)"));
    let who = match &step.who {
        Who::Me => Some("Me".to_owned()),
        Who::Supporter => Some("My supporter".to_owned()),
        Who::Together => Some("Together".to_owned()),
        Who::Other(written) => Some(inline(written)),
        Who::Missing => None,
    };
    let mut details: Vec<String> = who.into_iter().collect();
    if let Some(due) = &step.due {
        details.push(format!("by {}", inline(due)));
    }
    if let Done::Unreadable(raw) = &step.done {
        details.push(format!("done: {}", code_span(raw)));
    }
    if !details.is_empty() {
        let _ = write!(item, " — *{}*", details.join(", "));
    }
    item
}

pub(super) fn support_item(support: &Entry<Support>) -> String {
    let support = match support {
        Entry::Read(support) => support,
        Entry::Unreadable(part) => return unreadable_note(part),
    };
    let mut item = match (&support.name, support.name.words()) {
        (_, Some(name)) => format!("**{}**", inline(name)),
        (document::Text::Unreadable(part), _) => unreadable_note(part),
        _ => "*(no name yet)*".to_owned(),
    };
    let kind = support.kind.as_deref().map(|kind| match kind {
        "person" => "a person".to_owned(),
        "place" => "a place".to_owned(),
        "resource" => "a resource".to_owned(),
        other => inline(other),
    });
    if let Some(kind) = kind {
        let _ = write!(item, " · {kind}");
    }
    for (label, text) in [("Contact", &support.contact), ("Note", &support.note)] {
        if text.words().is_some() || text.unreadable().is_some() {
            let _ = write!(item, "\\\n  {label}: {}", words_or(text, "  ", ""));
        }
    }
    item
}

fn write_check_in(page: &mut String, source: &Source<'_>, check_in: &CheckIn) {
    let mut heading = check_in
        .date
        .as_deref()
        .map(day)
        .unwrap_or_else(|| "A check-in".to_owned());
    if let Some(name) = author(source, check_in.by.as_deref()) {
        let _ = write!(heading, ", by {name}");
    }
    let _ = writeln!(page, "### {heading}\n");
    let _ = writeln!(
        page,
        "**How it went:** {}\n",
        words_or(&check_in.how_it_went, "", "Nothing written.")
    );
    let _ = writeln!(
        page,
        "**What we learned:** {}\n",
        words_or(&check_in.what_we_learned, "", "Nothing written.")
    );
}

/// A root value schema v1 does not know: words as words, anything else as JSON.
fn other_value(value: &Value) -> String {
    match value {
        Value::String(words) if !words.trim().is_empty() => block(words, ""),
        other => code_span(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_markers_and_inline_syntax_stay_literal() {
        assert_eq!(escape_line("# not a heading"), "\\# not a heading");
        assert_eq!(escape_line("* not a bullet"), "\\* not a bullet");
        assert_eq!(escape_line("- nor this"), "\\- nor this");
        assert_eq!(escape_line("+ nor this"), "\\+ nor this");
        assert_eq!(escape_line("1. not a list"), "1\\. not a list");
        assert_eq!(escape_line("12) nor this"), "12\\) nor this");
        assert_eq!(escape_line("---"), "\\---");
        assert_eq!(escape_line("> not a quote"), "\\> not a quote");
        assert_eq!(escape_line("      deep"), "   deep");
        assert_eq!(
            escape_line("*my* way_back [link](x) <b> `code` a|b ~~no~~ $5 &amp; & \\ a > b!"),
            "\\*my\\* way\\_back \\[link\\](x) \\<b> \\`code\\` a\\|b \\~\\~no\\~\\~ \\$5 \\&amp; & \\\\ a > b!"
        );
        assert_eq!(
            escape_line("Café ☕ — 10-15 mins. 2+2"),
            "Café ☕ — 10-15 mins. 2+2"
        );
    }

    #[test]
    fn line_breaks_and_paragraphs_are_kept_inside_list_items() {
        assert_eq!(
            block("first\r\n- second\n\n\n# third\n", "  "),
            "first\\\n  \\- second\n\n  \\# third"
        );
        assert_eq!(inline("two\nlines "), "two lines");
    }

    #[test]
    fn every_kind_of_line_break_ends_a_line() {
        for line_break in ["\n", "\r", "\r\n", "\u{2028}", "\u{2029}", "\u{0085}"] {
            let text = format!("Sunday{line_break}# Heading{line_break}- item{line_break}[x](y)");
            assert_eq!(
                block(&text, "  "),
                "Sunday\\\n  \\# Heading\\\n  \\- item\\\n  \\[x\\](y)",
                "{line_break:?}"
            );
            assert_eq!(inline(&text), "Sunday \\# Heading \\- item \\[x\\](y)");
            assert_eq!(code_span(&text), "`Sunday # Heading - item [x](y)`");
        }
        assert_eq!(block("a\r\n\r\nb", ""), "a\n\nb", "CR LF is one break");
        assert_eq!(lines("a\r\rb").collect::<Vec<_>>(), ["a", "", "b"]);
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code_span("42"), "`42`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
    }
}
