//! Measuring a load: latency histograms, the shared recorder with its per-second series, and
//! the live progress line.

pub mod histogram;
pub mod progress;
pub mod recorder;

pub use histogram::{Histogram, Latency};
pub use progress::Progress;
pub use recorder::{Recorder, Totals};
