//! Singleton background work (expiry sweeps, the directory schedule), run by exactly one replica
//! at a time through a lease row.

use crate::App;

/// Starts the background jobs of this replica.
pub fn spawn(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = app;
    })
}
