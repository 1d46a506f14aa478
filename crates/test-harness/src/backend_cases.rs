//! `on_every_backend!`: one test per case and per database backend.

/// Generates, for each case, one `#[tokio::test]` per backend (modules `sqlite`, `postgres`,
/// `mysql`). A backend that is not enabled in the environment skips with a line on stderr.
///
/// The calling test crate provides `crate::common::TestServer` with `start(Backend) ->
/// Option<TestServer>` and `stop(self)`, and a module `cases` of `async fn(&TestServer)`.
#[macro_export]
// `crate::common` means the calling test crate on purpose: each brings its own TestServer.
#[allow(clippy::crate_in_macro_def)]
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        $crate::on_every_backend!(@backend sqlite, Sqlite, $($case),*);
        $crate::on_every_backend!(@backend postgres, Postgres, $($case),*);
        $crate::on_every_backend!(@backend mysql, Mysql, $($case),*);
    };
    (@backend $module:ident, $backend:ident, $($case:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = $crate::Backend::$backend;
                    match crate::common::TestServer::start(backend).await {
                        Some(server) => {
                            super::cases::$case(&server).await;
                            server.stop().await;
                        }
                        None => eprintln!("skipped: {} backend not enabled", backend.name()),
                    }
                }
            )*
        }
    };
}
