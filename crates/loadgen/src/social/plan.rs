//! Who follows whom, decided before anything is sent: the seed's fixed shape (every follower
//! follows every author), a power-law graph (Zipf follower counts, as real social graphs
//! have: a few users followed by most, most followed by a few), or authors with followers
//! drawn at random among many users (issue 13's realistic shape and its follow storm).

use std::collections::HashSet;

/// A follow graph over users `0..users` (indices, not ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub users: usize,
    /// `(follower, followee)`.
    pub edges: Vec<(u32, u32)>,
    /// The users who post during the load, in round-robin order.
    pub authors: Vec<u32>,
    /// The letter of each user's handle: `a`uthor, `f`ollower, `u`ser.
    pub roles: Vec<char>,
}

impl Plan {
    /// Users `0..authors` are the authors; each of the next `followers` follows all of them.
    pub fn fixed(authors: usize, followers: usize) -> Self {
        let users = authors + followers;
        let mut edges = Vec::with_capacity(authors * followers);
        for follower in authors..users {
            for author in 0..authors {
                edges.push((follower as u32, author as u32));
            }
        }
        Self::authors_first(users, authors, edges, 'f')
    }

    /// A plan whose users `0..authors` are the authors (role `a`), the others of `role`.
    fn authors_first(users: usize, authors: usize, edges: Vec<(u32, u32)>, role: char) -> Self {
        let mut roles = vec!['a'; authors];
        roles.resize(users, role);
        Self {
            users,
            edges,
            authors: (0..authors as u32).collect(),
            roles,
        }
    }

    /// `users` users; the user of rank r (1-based, user r-1) has `(users - 1) / r` followers,
    /// chosen at random among the others (Zipf with exponent 1: the most followed is followed
    /// by everyone). Every user posts, in a shuffled order. Same seed, same graph.
    pub fn zipf(users: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut edges = Vec::new();
        for followee in 0..users {
            let wanted = (users - 1) / (followee + 1);
            edges.extend(
                rng.others(users, followee, wanted)
                    .into_iter()
                    .map(|follower| (follower, followee as u32)),
            );
        }
        let mut authors: Vec<u32> = (0..users as u32).collect();
        rng.shuffle(&mut authors);
        Self {
            users,
            edges,
            authors,
            roles: vec!['u'; users],
        }
    }

    /// `users` users, the first `authors` of them authors; `follows` edges in all, each author
    /// followed by `follows / authors` users (the first `follows % authors` authors by one
    /// more) drawn at random among the other users. The edges come in a shuffled order, as a
    /// storm of follows from many users would. Same seed, same graph.
    ///
    /// Panics when [`Plan::check_random`] refuses the sizes.
    pub fn random(authors: usize, follows: usize, users: usize, seed: u64) -> Self {
        if let Err(problem) = Self::check_random(authors, follows, users) {
            panic!("{problem}");
        }
        let mut rng = Rng::new(seed);
        let mut edges = Vec::with_capacity(follows);
        for author in 0..authors {
            let wanted = follows / authors + usize::from(author < follows % authors);
            edges.extend(
                rng.others(users, author, wanted)
                    .into_iter()
                    .map(|follower| (follower, author as u32)),
            );
        }
        rng.shuffle(&mut edges);
        Self::authors_first(users, authors, edges, 'u')
    }

    /// Whether [`Plan::random`] can draw this graph: at least one author, no more authors than
    /// users, and no author with more followers than there are other users.
    pub fn check_random(authors: usize, follows: usize, users: usize) -> Result<(), String> {
        if authors == 0 || authors > users {
            return Err(format!(
                "{authors} authors among {users} users: need 1 to {users}"
            ));
        }
        let most = follows.div_ceil(authors);
        if most >= users {
            return Err(format!(
                "{most} followers per author, but only {} other users",
                users - 1
            ));
        }
        Ok(())
    }

    /// A fingerprint of the edges, in order: equal plans, equal digests (in the report, so
    /// two runs can be told to share a graph).
    pub fn digest(&self) -> u64 {
        self.edges.iter().fold(self.users as u64, |h, &(a, b)| {
            mix(h ^ (u64::from(a) << 32 | u64::from(b)))
        })
    }

    /// Followers of each user.
    pub fn follower_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.users];
        for &(_, followee) in &self.edges {
            counts[followee as usize] += 1;
        }
        counts
    }
}

/// A handle unique to the run: `lg<run>_<role><index>`, at most 30 characters.
pub fn handle(run: &str, role: char, index: usize) -> String {
    format!("lg{run}_{role}{index}")
}

/// splitmix64: small, seedable, good enough to pick users and shuffle.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator; the same seed gives the same numbers.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is negligible for the sizes used here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `wanted` distinct users of `0..users` other than `user`, in ascending order (Floyd's
    /// sampling: `wanted` draws whatever the share).
    pub fn others(&mut self, users: usize, user: usize, wanted: usize) -> Vec<u32> {
        let others = users - 1;
        let mut chosen = HashSet::with_capacity(wanted);
        for j in others - wanted..others {
            let pick = self.below(j as u64 + 1) as usize;
            let pick = if chosen.contains(&pick) { j } else { pick };
            chosen.insert(pick);
        }
        let mut picked: Vec<usize> = chosen.into_iter().collect();
        picked.sort_unstable();
        // Indices of the others skip `user` itself.
        picked
            .into_iter()
            .map(|other| if other >= user { other + 1 } else { other } as u32)
            .collect()
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// splitmix64's finalizer: a call number into a well-spread 64-bit value.
pub fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_shape_follows_every_author() {
        let plan = Plan::fixed(2, 3);
        assert_eq!(plan.users, 5);
        assert_eq!(plan.edges.len(), 6);
        assert_eq!(plan.follower_counts(), vec![3, 3, 0, 0, 0]);
        assert_eq!(plan.authors, vec![0, 1]);
        assert_eq!(plan.roles, vec!['a', 'a', 'f', 'f', 'f']);
    }

    #[test]
    fn zipf_counts_follow_the_rank() {
        let plan = Plan::zipf(1000, 7);
        let counts = plan.follower_counts();
        assert_eq!(counts[0], 999);
        assert_eq!(counts[1], 499);
        assert_eq!(counts[9], 99);
        assert_eq!(counts[999], 0);
        // No self-follows, no repeated edges.
        assert!(plan.edges.iter().all(|(a, b)| a != b));
        let distinct: HashSet<_> = plan.edges.iter().collect();
        assert_eq!(distinct.len(), plan.edges.len());
        // Every user posts once per round.
        let mut authors = plan.authors.clone();
        authors.sort_unstable();
        assert_eq!(authors, (0..1000).collect::<Vec<u32>>());
        assert_eq!(plan, Plan::zipf(1000, 7));
        assert_ne!(plan.edges, Plan::zipf(1000, 8).edges);
    }

    #[test]
    fn random_followers_are_drawn_from_the_seed() {
        let plan = Plan::random(4, 30, 50, 9);
        assert_eq!((plan.users, plan.edges.len()), (50, 30));
        let counts = plan.follower_counts();
        // 30 = 4 x 7 + 2: the first two authors have one more.
        assert_eq!(counts[..4], [8, 8, 7, 7]);
        assert!(counts[4..].iter().all(|&c| c == 0));
        assert!(plan.edges.iter().all(|(a, b)| a != b));
        let distinct: HashSet<_> = plan.edges.iter().collect();
        assert_eq!(distinct.len(), plan.edges.len());
        assert_eq!(plan.authors, vec![0, 1, 2, 3]);
        assert_eq!(plan.roles.iter().filter(|&&r| r == 'a').count(), 4);
        assert_eq!(plan, Plan::random(4, 30, 50, 9));
        assert_eq!(plan.digest(), Plan::random(4, 30, 50, 9).digest());
        assert_ne!(plan.digest(), Plan::random(4, 30, 50, 10).digest());
        assert_ne!(plan.edges, Plan::random(4, 30, 50, 10).edges);
        assert!(Plan::check_random(0, 1, 5).is_err());
        assert!(Plan::check_random(6, 1, 5).is_err());
        assert!(Plan::check_random(2, 9, 5).is_err());
        assert!(Plan::check_random(2, 8, 5).is_ok());
        // Every other user can follow: the sampling reaches the whole range.
        let all = Plan::random(1, 9, 10, 1);
        let mut followers: Vec<u32> = all.edges.iter().map(|e| e.0).collect();
        followers.sort_unstable();
        assert_eq!(followers, (1..10).collect::<Vec<u32>>());
    }

    #[test]
    fn handles_fit_the_contract() {
        let longest = handle("abcdef", 'u', 9_999_999);
        assert!(longest.len() <= 30, "{longest}");
        assert!(
            longest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }
}
