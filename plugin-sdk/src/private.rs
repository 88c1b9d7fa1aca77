//! Support code for the code `#[plugin]` generates. Not a public API: it changes without notice.

use std::fmt::Display;
use std::str::FromStr;

pub use errbot_proto::contract::PROTOCOL_VERSION;
pub use errbot_proto::v1;
pub use serde_json;

use crate::context::Context;
use crate::reply::{CommandError, Failure};

fn unparsable(name: &str, value: &str, why: impl Display) -> Failure {
    Failure::Command(CommandError::new(format!(
        "I couldn't parse the arguments; argument {name}: invalid value: '{value}' ({why})"
    )))
}

fn missing(name: &str) -> Failure {
    Failure::Command(CommandError::new(format!(
        "I couldn't parse the arguments; the following arguments are required: {name}"
    )))
}

fn convert<T>(name: &str, value: &str) -> Result<T, Failure>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|e| unparsable(name, value, e))
}

/// A required single value.
pub fn required<T>(ctx: &Context, name: &str) -> Result<T, Failure>
where
    T: FromStr,
    T::Err: Display,
{
    match ctx.param_values(name).last() {
        Some(value) => convert(name, value),
        None => Err(missing(name)),
    }
}

/// A required single value, borrowed.
pub fn required_str<'a>(ctx: &'a Context, name: &str) -> Result<&'a str, Failure> {
    ctx.param_values(name)
        .last()
        .map(String::as_str)
        .ok_or_else(|| missing(name))
}

/// An optional single value.
pub fn optional<T>(ctx: &Context, name: &str) -> Result<Option<T>, Failure>
where
    T: FromStr,
    T::Err: Display,
{
    ctx.param_values(name)
        .last()
        .map(|value| convert(name, value))
        .transpose()
}

/// An optional single value, borrowed.
pub fn optional_str<'a>(ctx: &'a Context, name: &str) -> Result<Option<&'a str>, Failure> {
    Ok(ctx.param_values(name).last().map(String::as_str))
}

/// Every value of a multiple parameter.
pub fn multiple<T>(ctx: &Context, name: &str) -> Result<Vec<T>, Failure>
where
    T: FromStr,
    T::Err: Display,
{
    ctx.param_values(name)
        .iter()
        .map(|value| convert(name, value))
        .collect()
}

/// Every value of a multiple parameter, borrowed.
pub fn multiple_str<'a>(ctx: &'a Context, name: &str) -> Result<Vec<&'a str>, Failure> {
    Ok(ctx.param_values(name).iter().map(String::as_str).collect())
}

/// A flag: present (`true`) or not.
pub fn flag(ctx: &Context, name: &str) -> Result<bool, Failure> {
    match ctx.param_values(name).last() {
        Some(value) => convert(name, value),
        None => Ok(false),
    }
}

/// The first regex match (an empty one if errbotd sent none).
pub fn first_match(ctx: &Context) -> &crate::Match {
    static EMPTY: std::sync::OnceLock<crate::Match> = std::sync::OnceLock::new();
    ctx.matches()
        .first()
        .unwrap_or_else(|| EMPTY.get_or_init(crate::Match::default))
}
