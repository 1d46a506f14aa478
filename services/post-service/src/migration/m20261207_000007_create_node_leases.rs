//! Creates `node_leases`: which replica holds which node id of the id generator, and each node
//! id's high-water mark. The table's definition is the kit's (`ids::lease`), shared with
//! log-ingest-service; with both services on one database, both see one table.

use feedline_service_kit::ids::lease;

use super::ddl::{self, migration};

migration! {
    /// Creates `node_leases`.
    up(manager) {
        ddl::create_table(manager, &mut lease::create_table()).await
    }
    down(manager) {
        manager.drop_table(lease::drop_table()).await
    }
}
