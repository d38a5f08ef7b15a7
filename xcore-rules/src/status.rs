//! The success status a route declares (`#[route(..., status = 201)]`).

use crate::Invalid;

/// A declared success status is from 200 to 299.
///
/// ```
/// assert!(xcore_rules::status::success(201).is_ok());
/// assert!(xcore_rules::status::success(404).is_err());
/// ```
pub fn success(code: u16) -> Result<(), Invalid> {
    if (200..=299).contains(&code) {
        Ok(())
    } else {
        Err(Invalid::new(
            "`status` takes the success status as a number from 200 to 299, e.g. `status = 201`",
        ))
    }
}
