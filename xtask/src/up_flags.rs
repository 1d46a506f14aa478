//! `cargo xtask up`'s flags, read by the front door (to build before the start) and by
//! `xtask-dev` (to start), so a typo fails before the build.

/// `up --redis-replicas` at most: 3 masters x 3 nodes already take 9 ports and their memory.
const MAX_REDIS_REPLICAS: usize = 2;

/// `up [--no-build] [--perf] [--database URL] [--no-auth] [--redis-replicas N]`.
#[derive(Debug, PartialEq, Eq)]
// The front door reads only `build` and `perf`.
#[cfg_attr(not(feature = "dev"), allow(dead_code))]
pub struct UpFlags {
    /// False with `--no-build`.
    pub build: bool,
    /// `--perf`: the optimised `perf` profile.
    pub perf: bool,
    /// `--database URL`, checked: the server of the database services (None: SQLite files).
    pub database: Option<String>,
    /// False with `--no-auth`.
    pub auth: bool,
    /// `--redis-replicas N`: replicas per master of the local cluster (0 to 2).
    pub redis_replicas: usize,
}

impl UpFlags {
    /// Parses the arguments after `up`; the error says what is wrong with them.
    pub fn parse(rest: &[String]) -> Result<Self, String> {
        let (mut build, mut perf, mut database, mut auth) = (true, false, None, true);
        let mut redis_replicas = None;
        let mut args = rest.iter();
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--no-build" if build => build = false,
                "--perf" if !perf => perf = true,
                "--no-auth" if auth => auth = false,
                "--database" if database.is_none() => {
                    let url = args
                        .next()
                        .ok_or_else(|| "`--database` needs a URL".to_owned())?;
                    crate::database::ServerDatabases::for_url(url)
                        .map_err(|error| format!("`--database`: {error}"))?;
                    database = Some(url.clone());
                }
                "--redis-replicas" if redis_replicas.is_none() => {
                    let value = args.next().ok_or_else(|| {
                        "`--redis-replicas` needs a number (0, 1 or 2)".to_owned()
                    })?;
                    match value.parse::<usize>() {
                        Ok(n) if n <= MAX_REDIS_REPLICAS => redis_replicas = Some(n),
                        _ => {
                            return Err(format!(
                                "`--redis-replicas {value}`: 0, 1 or 2 replicas per master"
                            ));
                        }
                    }
                }
                _ => return Err(format!("unexpected argument to `up`: {flag}")),
            }
        }
        Ok(Self {
            build,
            perf,
            database,
            auth,
            redis_replicas: redis_replicas.unwrap_or(0),
        })
    }
}
