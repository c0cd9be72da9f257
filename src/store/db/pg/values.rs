//! [`Value`]s to and from PostgreSQL's types: a parameter binds to the type the server inferred
//! for its placeholder, a column reads as the storage class SQLite would have given it.

use postgres::types::{FromSql, Kind, ToSql, Type};

use super::super::{Error, Value};

fn error(message: String) -> Error {
    Error::Postgres {
        code: None,
        connection_lost: false,
        source: message.into(),
    }
}

/// `value` for placeholder `?index` whose type the server decided is `ty`. Integers and reals
/// also bind to text (as SQLite's TEXT affinity stores them), text to BYTEA (as bytes); other
/// mixes are a clear error rather than a guess.
pub(super) fn bind(value: &Value, ty: &Type, index: usize) -> Result<Box<dyn ToSql + Sync>, Error> {
    let out_of_range = |i: &i64| {
        error(format!(
            "parameter ?{index}: {i} does not fit the server's {ty}"
        ))
    };
    let bound: Box<dyn ToSql + Sync> = match (value, ty) {
        (Value::Null, _) => null_of(ty).ok_or_else(|| unsupported(ty, index))?,
        (Value::Integer(i), &Type::INT8) => Box::new(*i),
        (Value::Integer(i), &Type::INT4) => {
            Box::new(i32::try_from(*i).map_err(|_| out_of_range(i))?)
        }
        (Value::Integer(i), &Type::INT2) => {
            Box::new(i16::try_from(*i).map_err(|_| out_of_range(i))?)
        }
        (Value::Integer(i), &Type::BOOL) => Box::new(*i != 0),
        #[allow(clippy::cast_precision_loss)]
        (Value::Integer(i), &Type::FLOAT8) => Box::new(*i as f64),
        #[allow(clippy::cast_precision_loss)]
        (Value::Integer(i), &Type::FLOAT4) => Box::new(*i as f32),
        (Value::Integer(i), t) if is_text(t) => Box::new(i.to_string()),
        (Value::Real(r), &Type::FLOAT8) => Box::new(*r),
        #[allow(clippy::cast_possible_truncation)]
        (Value::Real(r), &Type::FLOAT4) => Box::new(*r as f32),
        (Value::Real(r), t) if is_text(t) => Box::new(r.to_string()),
        (Value::Text(s), t) if is_text(t) => Box::new(s.clone()),
        (Value::Text(s), &Type::BYTEA) => Box::new(s.clone().into_bytes()),
        (Value::Blob(b), &Type::BYTEA) => Box::new(b.clone()),
        (v, t) if null_of(t).is_some() => {
            return Err(error(format!(
                "parameter ?{index}: cannot bind {} to the server's {t}",
                v.kind()
            )));
        }
        (_, t) => return Err(unsupported(t, index)),
    };
    Ok(bound)
}

fn unsupported(ty: &Type, index: usize) -> Error {
    error(format!(
        "parameter ?{index}: the server expects {ty}, which the store does not bind \
         (integers, text, bytea, floats and booleans only): cast the placeholder"
    ))
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

/// A NULL of a type `ty` accepts, for the types this module binds.
fn null_of(ty: &Type) -> Option<Box<dyn ToSql + Sync>> {
    Some(match *ty {
        Type::INT8 => Box::new(None::<i64>),
        Type::INT4 => Box::new(None::<i32>),
        Type::INT2 => Box::new(None::<i16>),
        Type::BOOL => Box::new(None::<bool>),
        Type::FLOAT8 => Box::new(None::<f64>),
        Type::FLOAT4 => Box::new(None::<f32>),
        Type::BYTEA => Box::new(None::<Vec<u8>>),
        ref t if is_text(t) => Box::new(None::<String>),
        _ => return None,
    })
}

/// The type a placeholder is declared as when the server cannot infer one (`?1 IS NULL`):
/// the value's own storage class; NULL as text.
pub(super) fn declared_type(value: &Value) -> Type {
    match value {
        Value::Integer(_) => Type::INT8,
        Value::Real(_) => Type::FLOAT8,
        Value::Blob(_) => Type::BYTEA,
        Value::Null | Value::Text(_) => Type::TEXT,
    }
}

/// A column's bytes as the server sent them (binary format), whatever its type.
struct Raw<'a>(Option<&'a [u8]>);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// One row as [`Value`]s: every integer width and BOOL as `Integer`, the text kinds as `Text`,
/// BYTEA as `Blob`, floats as `Real` (a domain as its base type); any other column type is an
/// error naming it.
pub(super) fn read_row(row: &postgres::Row) -> Result<Vec<Value>, Error> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let mut ty = column.type_();
        while let Kind::Domain(base) = ty.kind() {
            ty = base;
        }
        let failed = |e: BoxError| error(format!("column {i} ({}): {e}", column.name()));
        let Raw(raw) = row.try_get::<_, Raw<'_>>(i).map_err(|e| failed(e.into()))?;
        let Some(raw) = raw else {
            values.push(Value::Null);
            continue;
        };
        let value = match *ty {
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw).map_err(failed)?),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw).map_err(failed)?.into()),
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw).map_err(failed)?.into()),
            Type::OID => Value::Integer(u32::from_sql(ty, raw).map_err(failed)?.into()),
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw).map_err(failed)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw).map_err(failed)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw).map_err(failed)?.into()),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            ref t if is_text(t) => Value::Text(String::from_sql(ty, raw).map_err(failed)?),
            ref t => {
                return Err(error(format!(
                    "column {i} ({}) has type {t}, which the store does not read: cast it in \
                     the query (in PostgreSQL a SUM of BIGINTs is NUMERIC: CAST(SUM(x) AS BIGINT))",
                    column.name()
                )));
            }
        };
        values.push(value);
    }
    Ok(values)
}
