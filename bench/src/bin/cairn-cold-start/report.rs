//! How the run prints its figures: times (one, or the median of several runs), and this
//! process's resident memory, overall and per phase (a phase's peak read after the mark is reset).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_bench::process::Process;
use cairn_bench::stats::mib_from_kib;

/// The highest peak resident memory seen over the whole run (across mark resets).
static RUN_PEAK_KIB: AtomicU64 = AtomicU64::new(0);

/// This process's peak resident memory over the whole run so far, in KiB.
pub fn process_peak_kib() -> Option<u64> {
    let peak = Process::This.peak_resident_kib().ok()?;
    let before = RUN_PEAK_KIB.fetch_max(peak, Ordering::Relaxed);
    Some(before.max(peak))
}

pub fn print_resident(when: &str) {
    if let (Ok(now), Some(peak)) = (Process::This.resident_kib(), process_peak_kib()) {
        println!(
            "memory {when}, this process (MiB): {:.1} resident, {:.1} peak so far",
            mib_from_kib(now),
            mib_from_kib(peak)
        );
    }
}

/// The resident memory at the start of a phase, with the peak mark reset (Linux `clear_refs`),
/// so the peak read at its end is the phase's own.
pub struct MemoryMark {
    before_kib: Option<u64>,
}

impl MemoryMark {
    pub fn set() -> Self {
        // Keep the run's overall peak before the mark is reset.
        process_peak_kib();
        Self {
            before_kib: if Process::This.reset_peak() {
                Process::This.resident_kib().ok()
            } else {
                None
            },
        }
    }

    /// The resident memory at the start of the phase and its peak during it, in KiB.
    pub fn peak(&self) -> Option<(u64, u64)> {
        Some((self.before_kib?, Process::This.peak_resident_kib().ok()?))
    }
}

pub fn print_memory(peak: Option<(u64, u64)>) {
    if let Some((before, peak)) = peak {
        println!(
            "  resident memory of this process, start / peak during it (MiB): {:.1} / {:.1}",
            mib_from_kib(before),
            mib_from_kib(peak)
        );
    }
}

pub fn print_secs(label: &str, runs: usize, time: Duration) {
    if runs > 1 {
        println!("{label} (s, median of {runs}): {:.3}", time.as_secs_f64());
    } else {
        println!("{label} (s): {:.3}", time.as_secs_f64());
    }
}
