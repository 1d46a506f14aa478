//! sea-orm entities: one file per table. Times are Unix milliseconds in BIGINT columns, the one
//! representation that is exact and identical on SQLite, PostgreSQL and MySQL.

pub mod follow;
pub mod outbox;
pub mod post;
pub mod user;
