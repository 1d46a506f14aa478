//! Who follows whom, decided before anything is sent: the seed's fixed shape (every follower
//! follows every author) or a power-law graph (Zipf follower counts, as real social graphs
//! have: a few users followed by most, most followed by a few).

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
        let mut roles = vec!['a'; authors];
        roles.resize(users, 'f');
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
            // Floyd's sampling of `wanted` distinct users among the other `users - 1`.
            let others = users - 1;
            let mut chosen = HashSet::with_capacity(wanted);
            for j in others - wanted..others {
                let pick = rng.below(j as u64 + 1) as usize;
                let pick = if chosen.contains(&pick) { j } else { pick };
                chosen.insert(pick);
            }
            let mut followers: Vec<usize> = chosen.into_iter().collect();
            followers.sort_unstable();
            for other in followers {
                // Indices of the others skip the followee itself.
                let follower = if other >= followee { other + 1 } else { other };
                edges.push((follower as u32, followee as u32));
            }
        }
        let mut authors: Vec<u32> = (0..users as u32).collect();
        for i in (1..authors.len()).rev() {
            authors.swap(i, rng.below(i as u64 + 1) as usize);
        }
        Self {
            users,
            edges,
            authors,
            roles: vec!['u'; users],
        }
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
