//! Why an event could not be applied, and whether sending it again can help.

/// A failure of [`super::Timelines`]; the caller retries transient ones.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// A Redis command failed or timed out, or the cluster is unreachable: transient.
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    /// The source of follower lists and posts (post-service) failed: transient.
    #[error("source: {0}")]
    Source(String),
    /// Fewer replicas acknowledged the writes than asked for (`WAIT`), in time: transient.
    #[error("replication: {0}")]
    Replication(String),
    /// The event can never apply (no kind, no post, bad ids or timestamp): permanent.
    #[error("malformed event: {0}")]
    Malformed(String),
}

impl TimelineError {
    /// True when sending the same event again can never succeed (the relay parks it).
    pub fn is_permanent(&self) -> bool {
        matches!(self, TimelineError::Malformed(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_malformed_is_permanent() {
        assert!(TimelineError::Malformed("no kind".into()).is_permanent());
        assert!(!TimelineError::Source("down".into()).is_permanent());
        assert!(!TimelineError::Replication("0 of 1".into()).is_permanent());
        let redis = fred::error::Error::new(fred::error::ErrorKind::IO, "reset");
        assert!(!TimelineError::from(redis).is_permanent());
    }
}
