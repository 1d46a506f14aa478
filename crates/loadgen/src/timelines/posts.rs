//! The posts a run got acknowledged, in the order the answers came, each with the (creation
//! ms, id) that orders it in a timeline; and which of them are sampled for fan-out lag.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use feedline_proto::post::v1::Post;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::drive::OpError;

/// An acknowledged post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acked {
    /// The author's user index.
    pub author: u32,
    pub post_id: i64,
    /// Creation time in Unix ms: the timeline score.
    pub ms: i64,
}

/// A post whose fan-out lag is measured from `acked`.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub author: u32,
    pub post_id: i64,
    pub acked: Instant,
}

/// Every acknowledged post of the run.
pub struct PostLog {
    posts: Mutex<Vec<Acked>>,
    /// Posts recorded with sampling on, to pick one in `sample_every`.
    sampled: AtomicU64,
    sample_every: u64,
    /// Dropped by `stop_sampling`: the lag sampler then ends once its samples are resolved.
    sampler: Mutex<Option<UnboundedSender<Sample>>>,
}

impl PostLog {
    /// A log that sends one post in `sample_every` to `sampler`, when given.
    pub fn new(sample_every: u64, sampler: Option<UnboundedSender<Sample>>) -> Self {
        Self {
            posts: Mutex::new(Vec::new()),
            sampled: AtomicU64::new(0),
            sample_every: sample_every.max(1),
            sampler: Mutex::new(sampler),
        }
    }

    /// Records the post CreatePost answered for user `author`; during the load (`sample`),
    /// one in `sample_every` is sent to the lag sampler.
    pub fn record(&self, author: u32, post: Option<&Post>, sample: bool) -> Result<(), OpError> {
        let acked = Instant::now();
        let post = post.ok_or_else(|| OpError::wrong("NoPost", "answer without a post".into()))?;
        let ms = post
            .create_time
            .as_ref()
            .and_then(feedline_proto::timestamp_to_millis)
            .ok_or_else(|| OpError::wrong("NoTime", "post without a create_time".into()))?;
        self.posts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Acked {
                author,
                post_id: post.post_id,
                ms,
            });
        if sample
            && self
                .sampled
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(self.sample_every)
        {
            let sampler = self.sampler.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(sampler) = sampler.as_ref() {
                let _ = sampler.send(Sample {
                    author,
                    post_id: post.post_id,
                    acked,
                });
            }
        }
        Ok(())
    }

    /// No more samples: the sampler finishes those it has.
    pub fn stop_sampling(&self) {
        self.sampler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// How many posts are recorded so far.
    pub fn len(&self) -> usize {
        self.posts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The posts recorded from position `from` on, in acknowledgement order.
    pub fn in_order(&self, from: usize) -> Vec<Acked> {
        let posts = self.posts.lock().unwrap_or_else(PoisonError::into_inner);
        posts.iter().skip(from).copied().collect()
    }

    /// The posts recorded from position `from` on, grouped by author (`users` of them), each
    /// group in acknowledgement order.
    pub fn by_author(&self, users: usize, from: usize) -> Vec<Vec<Acked>> {
        let posts = self.posts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut grouped = vec![Vec::new(); users];
        for post in posts.iter().skip(from) {
            if let Some(group) = grouped.get_mut(post.author as usize) {
                group.push(*post);
            }
        }
        grouped
    }
}
