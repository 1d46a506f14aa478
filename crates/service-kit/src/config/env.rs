//! The environment as a map that remembers every name looked up in it: the seam through
//! which every config reader sees variables, filled from the process or by a test.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

/// The environment as a map that remembers every name looked up in it. `main` passes the
/// process environment ([`process_env`]); tests pass their own map, so no test ever mutates the
/// process environment. After a service's `Config::from_env`, [`Env::read_names`] says which
/// variables it reads, so a test can prove that each variable a deployment file sets is one
/// the service actually reads (a misspelt name would otherwise be ignored silently).
#[derive(Default)]
pub struct Env {
    vars: HashMap<String, String>,
    /// Every name passed to [`Env::get`], set or not. A `Mutex` rather than a `RefCell` so that
    /// `Env` stays `Sync`: config readers take `&Env` and may be called from any thread.
    read: Mutex<BTreeSet<String>>,
}

impl Env {
    /// An empty environment (every setting takes its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// An environment of these variables, as tests write one.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The value of `name`, recording that it was read.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.read_set().insert(name.to_owned());
        self.vars.get(name)
    }

    /// Sets `name` to `value`, returning the previous value.
    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        self.vars.insert(name, value)
    }

    /// Every variable and its value, in no particular order; records nothing.
    pub fn iter(&self) -> std::collections::hash_map::Iter<'_, String, String> {
        self.vars.iter()
    }

    /// The whole map, without recording any read: for readers that cannot depend on this crate
    /// (telemetry), whose names are listed in `feedline_telemetry::ENV_VARS` instead.
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// The names looked up with [`Env::get`] so far, whether set or not.
    pub fn read_names(&self) -> BTreeSet<String> {
        self.read_set().clone()
    }

    /// The record of reads; a panic while it was held cannot leave it inconsistent (inserts
    /// only), so a poisoned lock is used as it is.
    fn read_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.read.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clone for Env {
    fn clone(&self) -> Self {
        Self {
            vars: self.vars.clone(),
            read: Mutex::new(self.read_names()),
        }
    }
}

/// Names only: values may hold secrets (a database password, the admin token).
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: BTreeSet<&String> = self.vars.keys().collect();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl<const N: usize> From<[(String, String); N]> for Env {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl From<HashMap<String, String>> for Env {
    fn from(vars: HashMap<String, String>) -> Self {
        Self {
            vars,
            read: Mutex::default(),
        }
    }
}

impl FromIterator<(String, String)> for Env {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        HashMap::from_iter(pairs).into()
    }
}

impl Extend<(String, String)> for Env {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, pairs: I) {
        self.vars.extend(pairs);
    }
}

/// So that `Command::envs(&env)` starts a child process with exactly this environment.
impl<'a> IntoIterator for &'a Env {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::hash_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.vars.iter()
    }
}

/// The process environment (variables that are not valid Unicode are skipped).
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
