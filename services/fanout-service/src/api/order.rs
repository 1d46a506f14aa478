//! Which events may run now: events of one key (a post's author, a follow's followee) apply in
//! arrival order, and events that commute are grouped so that a group of deliveries of many
//! authors (or of follows of many followees) is applied as one.
//!
//! The rules, per key: nothing of a key starts while an earlier unit of it runs; deliveries
//! queued back to back join one delivery group, follows one follow group; anything else
//! (retract, unfollow) runs alone. After a unit answers RETRY, later events of its key are
//! answered RETRY unapplied until the relay resends the failed one (it resends in outbox order),
//! so no event of an author is applied ahead of an earlier one. Unrelated keys never wait.

use std::collections::{HashMap, HashSet, VecDeque};

use feedline_proto::fanout::v1::{FanoutAck, FanoutEvent, FanoutOutcome};

use super::apply::answer;
use super::group::GroupKind;

/// How much may run at once, and how large a group grows.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Units running at once, groups included.
    pub units: usize,
    /// Groups of one kind running at once: one fills while the other is being applied.
    pub groups_per_kind: usize,
    /// Events in one group, at most.
    pub group_events: usize,
}

/// A piece of work ready to run: its events are in arrival order.
#[derive(Debug)]
pub(super) struct Unit<J> {
    /// `Some` for a group applied as one, `None` for one event applied alone.
    pub group: Option<GroupKind>,
    /// The jobs, in arrival order.
    pub jobs: Vec<J>,
    /// The keys it holds until it finishes.
    pub keys: Vec<i64>,
}

/// Anything that carries an event.
pub(super) trait HasEvent {
    /// The event.
    fn event(&self) -> &FanoutEvent;
}

/// The events read and not yet started, and the keys of the units running.
pub(super) struct Order<J> {
    pending: VecDeque<J>,
    running_keys: HashSet<i64>,
    running_units: usize,
    running_groups: HashMap<GroupKind, usize>,
    /// Key -> the earliest event id that answered RETRY, until its resend arrives.
    failed: HashMap<i64, i64>,
}

impl<J: HasEvent> Order<J> {
    /// An empty queue.
    pub(super) fn new() -> Self {
        Self {
            pending: VecDeque::new(),
            running_keys: HashSet::new(),
            running_units: 0,
            running_groups: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    /// Queues an event behind everything read before it.
    pub(super) fn push(&mut self, job: J) {
        self.pending.push_back(job);
    }

    /// True when nothing is queued or running.
    pub(super) fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.running_units == 0
    }

    /// Takes every unit that may start now, within `limits`, marking its keys as running.
    /// Also returns the jobs answered at once without being applied (with their answers): a
    /// malformed event with no kind, and events of a key whose earlier event must be resent.
    pub(super) fn plan(&mut self, limits: &Limits) -> (Vec<Unit<J>>, Vec<(J, FanoutAck)>) {
        let mut units: Vec<Unit<J>> = Vec::new();
        let mut answered = Vec::new();
        let mut groups: HashMap<GroupKind, Unit<J>> = HashMap::new();
        // What each key's events joined in this pass: a group, or `None` (a unit alone).
        let mut taken: HashMap<i64, Option<GroupKind>> = HashMap::new();
        let mut blocked: HashSet<i64> = HashSet::new();
        let mut rest = VecDeque::with_capacity(self.pending.len());
        let mut room = limits.units.saturating_sub(self.running_units);
        while let Some(job) = self.pending.pop_front() {
            let event = job.event();
            let Some(kind) = &event.kind else {
                let ack = answer(event, FanoutOutcome::Rejected, "event has no kind", 0);
                answered.push((job, ack));
                continue;
            };
            let key = kind.ordering_key();
            if let Some(&failed) = self.failed.get(&key) {
                if event.event_id <= failed {
                    self.failed.remove(&key); // the resend has begun
                } else {
                    let reason = "an earlier event of this author failed; resend in order";
                    let ack = answer(event, FanoutOutcome::Retry, reason, 0);
                    answered.push((job, ack));
                    continue;
                }
            }
            if blocked.contains(&key) || self.running_keys.contains(&key) {
                blocked.insert(key);
                rest.push_back(job);
                continue;
            }
            let class = GroupKind::of(kind.event_kind());
            let fits = match (taken.get(&key), class) {
                (None, None) => room > 0,
                (None, Some(kind)) => match groups.get(&kind) {
                    Some(group) => group.jobs.len() < limits.group_events,
                    None => {
                        room > 0
                            && self.running_groups.get(&kind).copied().unwrap_or(0)
                                < limits.groups_per_kind
                    }
                },
                (Some(Some(held)), Some(kind)) if *held == kind => groups
                    .get(&kind)
                    .is_some_and(|group| group.jobs.len() < limits.group_events),
                _ => false,
            };
            if !fits {
                blocked.insert(key);
                rest.push_back(job);
                continue;
            }
            match class {
                None => {
                    room -= 1;
                    units.push(Unit {
                        group: None,
                        jobs: vec![job],
                        keys: vec![key],
                    });
                }
                Some(kind) => {
                    let group = groups.entry(kind).or_insert_with(|| {
                        room -= 1;
                        Unit {
                            group: Some(kind),
                            jobs: Vec::new(),
                            keys: Vec::new(),
                        }
                    });
                    if !taken.contains_key(&key) {
                        group.keys.push(key);
                    }
                    group.jobs.push(job);
                }
            }
            taken.insert(key, class);
        }
        self.pending = rest;
        units.extend(groups.into_values());
        for unit in &units {
            self.running_keys.extend(unit.keys.iter().copied());
            self.running_units += 1;
            if let Some(kind) = unit.group {
                *self.running_groups.entry(kind).or_default() += 1;
            }
        }
        (units, answered)
    }

    /// Marks a unit finished: its keys are free again, and a key any of whose events answered
    /// RETRY turns away its later events until the failed one is resent.
    pub(super) fn finish(
        &mut self,
        group: Option<GroupKind>,
        keys: &[i64],
        retried: &[(i64, i64)],
    ) {
        for key in keys {
            self.running_keys.remove(key);
        }
        self.running_units = self.running_units.saturating_sub(1);
        if let Some(kind) = group
            && let Some(count) = self.running_groups.get_mut(&kind)
        {
            *count = count.saturating_sub(1);
        }
        for &(key, event_id) in retried {
            let failed = self.failed.entry(key).or_insert(event_id);
            *failed = (*failed).min(event_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use feedline_proto::fanout::v1::fanout_event::Kind;
    use feedline_proto::fanout::v1::{AddFollow, DeliverPost, RemoveFollow};
    use feedline_proto::post::v1::Post;

    impl HasEvent for FanoutEvent {
        fn event(&self) -> &FanoutEvent {
            self
        }
    }

    fn event(id: i64, kind: Kind) -> FanoutEvent {
        FanoutEvent {
            event_id: id,
            kind: Some(kind),
            ..Default::default()
        }
    }

    fn post(id: i64, author_id: i64) -> FanoutEvent {
        let post = Some(Post {
            post_id: id,
            author_id,
            ..Default::default()
        });
        event(id, Kind::DeliverPost(DeliverPost { post }))
    }

    fn follow(id: i64, follower_id: i64, followee_id: i64) -> FanoutEvent {
        let edge = AddFollow {
            follower_id,
            followee_id,
        };
        event(id, Kind::AddFollow(edge))
    }

    fn unfollow(id: i64, follower_id: i64, followee_id: i64) -> FanoutEvent {
        let edge = RemoveFollow {
            follower_id,
            followee_id,
        };
        event(id, Kind::RemoveFollow(edge))
    }

    const LIMITS: Limits = Limits {
        units: 8,
        groups_per_kind: 1,
        group_events: 100,
    };

    fn ids(unit: &Unit<FanoutEvent>) -> Vec<i64> {
        unit.jobs.iter().map(|e| e.event_id).collect()
    }

    fn queue(events: Vec<FanoutEvent>) -> Order<FanoutEvent> {
        let mut order = Order::new();
        for event in events {
            order.push(event);
        }
        order
    }

    #[test]
    fn deliveries_of_many_authors_form_one_group() {
        let mut order = queue(vec![post(1, 10), post(2, 11), post(3, 10), post(4, 12)]);
        let (units, answered) = order.plan(&LIMITS);
        assert!(answered.is_empty());
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].group, Some(GroupKind::Deliveries));
        assert_eq!(ids(&units[0]), vec![1, 2, 3, 4]);
        assert_eq!(units[0].keys, vec![10, 11, 12]);
    }

    #[test]
    fn an_unfollow_waits_for_earlier_posts_and_holds_back_later_ones() {
        let mut order = queue(vec![
            post(1, 10),
            unfollow(2, 5, 10),
            post(3, 10),
            post(4, 11),
            follow(5, 6, 12),
        ]);
        let (units, _) = order.plan(&LIMITS);
        let mut planned: Vec<Vec<i64>> = units.iter().map(ids).collect();
        planned.sort();
        // Author 10's unfollow and later post wait; other keys go ahead.
        assert_eq!(planned, vec![vec![1, 4], vec![5]]);
        // Nothing more may start while author 10's delivery runs.
        let (more, _) = order.plan(&LIMITS);
        assert!(more.is_empty());
        let delivery = units
            .iter()
            .find(|u| u.group == Some(GroupKind::Deliveries));
        let delivery = delivery.expect("a delivery group");
        order.finish(delivery.group, &delivery.keys, &[]);
        let (next, _) = order.plan(&LIMITS);
        assert_eq!(next.len(), 1);
        assert_eq!(ids(&next[0]), vec![2]);
        assert_eq!(next[0].group, None);
        order.finish(None, &next[0].keys, &[]);
        let (last, _) = order.plan(&LIMITS);
        assert_eq!(last.iter().map(ids).collect::<Vec<_>>(), vec![vec![3]]);
    }

    #[test]
    fn a_follow_backlog_does_not_hold_back_posts() {
        let mut events: Vec<FanoutEvent> = (1..=50).map(|i| follow(i, i, 1000 + i)).collect();
        events.push(post(51, 7));
        let mut order = queue(events);
        let limits = Limits {
            group_events: 10,
            ..LIMITS
        };
        let (units, _) = order.plan(&limits);
        let kinds: Vec<_> = units.iter().map(|u| (u.group, u.jobs.len())).collect();
        assert!(
            kinds.contains(&(Some(GroupKind::Deliveries), 1)),
            "{kinds:?}"
        );
        assert!(kinds.contains(&(Some(GroupKind::Follows), 10)), "{kinds:?}");
    }

    #[test]
    fn after_a_retry_later_events_of_the_key_are_turned_away_until_the_resend() {
        let mut order = queue(vec![post(1, 10)]);
        let (units, _) = order.plan(&LIMITS);
        order.push(post(2, 10));
        order.push(post(3, 11));
        order.finish(units[0].group, &units[0].keys, &[(10, 1)]);
        let (units, answered) = order.plan(&LIMITS);
        assert_eq!(answered.len(), 1);
        assert_eq!(answered[0].1.event_id, 2);
        assert_eq!(answered[0].1.outcome, FanoutOutcome::Retry as i32);
        assert_eq!(units.iter().map(ids).collect::<Vec<_>>(), vec![vec![3]]);
        order.finish(units[0].group, &units[0].keys, &[]);
        // The resend (id 1 again, then 2) is applied.
        order.push(post(1, 10));
        order.push(post(2, 10));
        let (units, answered) = order.plan(&LIMITS);
        assert!(answered.is_empty());
        assert_eq!(units.iter().map(ids).collect::<Vec<_>>(), vec![vec![1, 2]]);
    }

    #[test]
    fn limits_bound_units_and_group_sizes() {
        let events: Vec<FanoutEvent> = (1..=20).map(|i| unfollow(i, 1, 100 + i)).collect();
        let mut order = queue(events);
        let (units, _) = order.plan(&LIMITS);
        assert_eq!(units.len(), LIMITS.units);
        let (more, _) = order.plan(&LIMITS);
        assert!(more.is_empty());
        assert!(!order.is_idle());

        let mut order = queue((1..=7).map(|i| post(i, i)).collect());
        let limits = Limits {
            group_events: 3,
            ..LIMITS
        };
        let (units, _) = order.plan(&limits);
        assert_eq!(
            units.iter().map(ids).collect::<Vec<_>>(),
            vec![vec![1, 2, 3]]
        );
    }

    #[test]
    fn an_event_without_kind_is_rejected_at_once() {
        let mut order = queue(vec![FanoutEvent {
            event_id: 9,
            ..Default::default()
        }]);
        let (units, answered) = order.plan(&LIMITS);
        assert!(units.is_empty());
        assert_eq!(answered[0].1.outcome, FanoutOutcome::Rejected as i32);
        assert!(order.is_idle());
    }
}
