//! Replicas that start together on a PostgreSQL database take turns to migrate it.
//!
//! sqlx's migrator keeps other migrators out with `pg_advisory_lock`, which waits inside a
//! statement, and so inside a transaction. A migration that builds an index `CONCURRENTLY`
//! (20261201000024) waits for every transaction that was open when it began — including that
//! waiting statement, whose replica waits in turn for the lock the migrating replica holds.
//! PostgreSQL's deadlock detector ends one of the two after a second, and that replica fails to
//! start: two `migrate`s on a new database ended so three times in three.
//!
//! So a replica first takes a lock of its own, asking with `pg_try_advisory_lock` every
//! [`ASK_EVERY`]: between two asks it has no transaction open, and the replica whose turn it is
//! finds sqlx's lock free. The turn lasts as long as the connection, which is closed afterwards
//! however the migrations ended.

use sqlx::AnyConnection;
use std::time::Duration;

/// The turn's advisory lock ("chemchat" in ASCII); advisory locks belong to one database.
const TURN_KEY: i64 = 0x6368_656d_6368_6174;

/// How long a waiting replica sleeps between two asks.
const ASK_EVERY: Duration = Duration::from_millis(100);

/// Waits until no other replica holds the turn on `connection`'s database, then holds it until
/// `connection` is closed.
pub(super) async fn take_turn(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let mut told = false;
    loop {
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(TURN_KEY)
            .fetch_one(&mut *connection)
            .await?;
        if taken {
            return Ok(());
        }
        if !told {
            tracing::info!("another replica is migrating the database: waiting for it to finish");
            told = true;
        }
        tokio::time::sleep(ASK_EVERY).await;
    }
}
