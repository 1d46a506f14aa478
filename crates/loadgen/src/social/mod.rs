//! The users and the follow graph a run creates through post-service: planned first (`plan`,
//! no I/O), then created (`create`) under handles unique to the run.

pub mod create;
pub mod plan;

pub use create::{Social, create, create_users, follow_all};
pub use plan::{Plan, Rng, mix};

/// Six base-36 characters naming this run, in every handle and app name it creates, so runs
/// against the same stack never collide.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut n = mix(nanos ^ u64::from(std::process::id()).rotate_left(32)) % 36u64.pow(6);
    let mut id = String::with_capacity(6);
    for _ in 0..6 {
        let digit = (n % 36) as u32;
        id.push(char::from_digit(digit, 36).unwrap_or('0'));
        n /= 36;
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_are_six_lowercase_characters() {
        let id = super::run_id();
        assert_eq!(id.len(), 6);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
