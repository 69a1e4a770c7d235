//! What Cairn's benchmark programs share: a protocol client for a sync server, readings of a
//! process from `/proc`, and the statistics and units their figures are printed in. The programs
//! themselves are in `src/bin`; the scripts that run them are `scripts/bench*`.

pub mod client;
pub mod process;
pub mod stats;
