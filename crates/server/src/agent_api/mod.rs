//! placeholder, filled in next.

use axum::Router;

use crate::App;

/// Routes of this part.
pub fn router() -> Router<App> {
    Router::new()
}
