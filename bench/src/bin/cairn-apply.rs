//! What applying one change costs the server, in the automerge Cairn uses (0.6.1) and in the
//! newest (0.12, which the samod test client is built on): the reason for the choice.
//!
//! A document is given a history of `prior` changes, each a one-key put; then `changes` more
//! changes are applied one call each, as the server applies a member's edit, and the mean time
//! per change is printed. Two shapes of history: every change puts a new key (a plan gaining
//! items), or the changes overwrite the same 50 keys (a plan's `lastCheckIn`, or any field
//! edited again and again).
//!
//!   cargo run --release -p cairn-bench --bin cairn-apply [-- --changes 500]

use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
#[command(about = "The cost of applying one change, automerge 0.6.1 against 0.12")]
struct Args {
    /// Changes applied and timed after each history.
    #[arg(long, default_value_t = 500)]
    changes: usize,
    /// History lengths (changes already in the document).
    #[arg(long, value_delimiter = ',', default_value = "0,1000,5000")]
    prior: Vec<usize>,
}

/// Mean microseconds per applied change, for one automerge crate (`$am`).
macro_rules! apply_cost {
    ($am:ident, $prior:expr, $changes:expr, $overwrite:expr) => {{
        use $am::transaction::Transactable;
        let key = |n: usize| {
            if $overwrite {
                format!("key-{}", n % 50)
            } else {
                format!("key-{n}")
            }
        };
        let mut writer = $am::AutoCommit::new();
        for n in 0..$prior {
            writer.put($am::ROOT, key(n), n as i64)?;
            writer.commit();
        }
        let base = writer.save();
        let mut edits: Vec<Vec<u8>> = Vec::with_capacity($changes);
        for n in $prior..$prior + $changes {
            let before = writer.get_heads();
            writer.put($am::ROOT, key(n), n as i64)?;
            writer.commit();
            edits.push(writer.get_changes(&before)[0].raw_bytes().to_vec());
        }
        let mut server = $am::Automerge::load(&base)?;
        let changes: Vec<$am::Change> = edits
            .into_iter()
            .map($am::Change::from_bytes)
            .collect::<Result<_, _>>()?;
        let started = Instant::now();
        for change in changes {
            server.apply_changes([change])?;
        }
        started.elapsed().as_secs_f64() * 1e6 / $changes as f64
    }};
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let changes = args.changes.max(1);
    println!("mean time to apply one change (µs), {changes} changes applied one call each");
    println!(
        "{:<24} {:>8} {:>14} {:>14} {:>7}",
        "each change", "history", "automerge 0.6", "automerge 0.12", "ratio"
    );
    for overwrite in [false, true] {
        for &prior in &args.prior {
            let old = apply_cost!(automerge, prior, changes, overwrite);
            let new = apply_cost!(automerge_latest, prior, changes, overwrite);
            let shape = if overwrite {
                "overwrites one of 50 keys"
            } else {
                "puts a new key"
            };
            println!(
                "{:<24} {:>8} {:>14.1} {:>14.1} {:>7.1}",
                shape,
                prior,
                old,
                new,
                new / old
            );
        }
    }
    Ok(())
}
