//! Wall-clock time as the database and tokens store it: whole seconds since
//! the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds (0 if the clock is before 1970).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// [`now`] as tokens write it (`iat`, `exp`).
pub(crate) fn now_unsigned() -> u64 {
    u64::try_from(now()).unwrap_or(0)
}
