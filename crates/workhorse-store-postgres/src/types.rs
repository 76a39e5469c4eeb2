//! Value conversions between Workhorse's types and PostgreSQL's.
//!
//! sqlx has no `jiff` support, so [`Ts`] carries a [`Timestamp`] as a `timestamptz` in
//! PostgreSQL's binary format: microseconds since 2000-01-01 UTC, exactly the precision the
//! Clock keeps, so a timestamp reads back equal to what was written.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type, TypeInfo};
use std::time::Duration;
use workhorse_core::Timestamp;

/// Microseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01 00:00:00 UTC.
const PG_EPOCH_US: i64 = 946_684_800 * 1_000_000;

/// Built-in type OIDs are fixed by PostgreSQL itself, so no lookup by name is needed.
const TIMESTAMPTZ_OID: u32 = 1184;
const TIMESTAMPTZ_ARRAY_OID: u32 = 1185;

/// A [`Timestamp`] bound to or read from a `timestamptz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ts(pub Timestamp);

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(TIMESTAMPTZ_OID))
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        ty.name() == "TIMESTAMPTZ"
    }
}

impl PgHasArrayType for Ts {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(TIMESTAMPTZ_ARRAY_OID))
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let micros = self.0.as_microsecond() - PG_EPOCH_US;
        <i64 as Encode<Postgres>>::encode(micros, buf)
    }

    fn size_hint(&self) -> usize {
        size_of::<i64>()
    }
}

impl Decode<'_, Postgres> for Ts {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.format() != PgValueFormat::Binary {
            return Err("timestamptz must be read in binary format".into());
        }
        let micros = <i64 as Decode<Postgres>>::decode(value)?;
        Ok(Ts(Timestamp::from_microsecond(micros + PG_EPOCH_US)?))
    }
}

/// `Some(ts)` as an optional [`Ts`].
pub(crate) fn ts(at: Option<Timestamp>) -> Option<Ts> {
    at.map(Ts)
}

/// A duration as stored: microseconds, saturating (no real duration comes near the limit).
pub(crate) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A stored duration.
pub(crate) fn duration(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}
