//! [`Flag`]: a yes/no column that reads and writes alike on SQLite and
//! PostgreSQL.
//!
//! Through sqlx's `Any` driver a `bool` is not portable: SQLite reports a
//! column declared `BOOLEAN` with a type the driver cannot convert (every
//! query reading the table fails), and a `bool` decodes only from a
//! PostgreSQL `BOOLEAN`. A `Flag` is stored in an `INTEGER` column, 0 or 1,
//! on both, and reads back from an integer or a PostgreSQL `BOOLEAN`.

use serde::{Deserialize, Serialize};
use sqlx::any::{Any, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type, ValueRef};

/// A boolean stored as `INTEGER` 0 or 1: the portable yes/no column.
///
/// It serialises as a JSON `true`/`false` and converts to and from `bool`.
///
/// ```
/// use xcore::db::{Db, Flag};
///
/// // CREATE TABLE library_loans (id BIGINT PRIMARY KEY, returned INTEGER NOT NULL DEFAULT 0)
/// async fn mark_returned(db: &Db, id: i64) -> Result<bool, xcore::sqlx::Error> {
///     let (returned,): (Flag,) =
///         xcore::sqlx::query_as("UPDATE library_loans SET returned = $1 WHERE id = $2 RETURNING returned")
///             .bind(Flag(true))
///             .bind(id)
///             .fetch_one(db.pool())
///             .await?;
///     Ok(returned.into())
/// }
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl From<bool> for Flag {
    fn from(value: bool) -> Self {
        Flag(value)
    }
}

impl From<Flag> for bool {
    fn from(flag: Flag) -> Self {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i32 as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind().is_integer() || ty.kind() == AnyTypeInfoKind::Bool
    }
}

impl Encode<'_, Any> for Flag {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <i32 as Encode<Any>>::encode_by_ref(&i32::from(self.0), buf)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            return <bool as Decode<Any>>::decode(value).map(Flag);
        }
        match <i64 as Decode<Any>>::decode(value)? {
            0 => Ok(Flag(false)),
            1 => Ok(Flag(true)),
            other => Err(format!("a Flag column holds 0 or 1, not {other}").into()),
        }
    }
}
