//! `sqlx::migrate!` embeds the migration files at compile time; without this, adding a migration
//! would not rebuild the server and it would keep applying the old set.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
