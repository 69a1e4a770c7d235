//! The statistics and units the benchmarks print their figures in: percentiles, medians,
//! ratios of times, milliseconds and MiB.

use std::time::Duration;

/// The value at quantile `q` (0 to 1) of values sorted in ascending order; NaN when there are
/// none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The median (the upper one of an even count); the default when there are none.
pub fn median<T: Ord + Copy + Default>(mut values: Vec<T>) -> T {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// How many times `b` fits in `a`.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// A time in milliseconds.
pub fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}

/// A size in bytes, in MiB.
pub fn mib_from_bytes(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A size in KiB (as `/proc` gives memory), in MiB.
pub fn mib_from_kib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
