//! log-ingest-service over real gRPC, the same suite on SQLite, PostgreSQL and MySQL/MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

#[path = "../common/mod.rs"]
mod common;

feedline_test_harness::on_every_backend!(
    ingested_records_come_back_newest_first_with_every_filter,
    pages_resume_and_tokens_are_bound_to_their_query,
    keys_are_required_and_read_only_their_app,
    client_record_ids_make_retries_safe,
    bad_records_are_refused_with_their_field,
    undecodable_strings_are_invalid_argument,
    streams_answer_each_request_by_id,
    create_app_validates_and_refuses_taken_names,
    every_character_survives_each_bulk_path,
);

mod cases;

mod raw;
