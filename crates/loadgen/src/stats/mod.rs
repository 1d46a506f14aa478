//! Measuring a load: latency histograms, the shared recorder with its per-second series, and
//! the live progress line (of the load, or of the setup steps before it).

pub mod histogram;
pub mod progress;
pub mod recorder;
pub mod steps;

pub use histogram::{Histogram, Latency};
pub use progress::Progress;
pub use recorder::{Recorder, Totals};
pub use steps::run_steps;
