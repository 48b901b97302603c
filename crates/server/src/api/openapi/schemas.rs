//! Schemas for bodies the server does not define itself: the types of `model` and the server
//! types made of them, written by build.rs, and a raw file body.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

// Written by build.rs from the definitions of these types in `model` and the server.
include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// A file sent as the raw request body.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}

/// A date and time with no offset (`2027-01-15T18:00:00`), read in the time zone the body gives
/// beside it (a batch's schedule: `Local`, each computer's own, or `UTC`). An offset or a `Z` is
/// refused.
pub struct LocalDateTime;

impl PartialSchema for LocalDateTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some(
                "A date and time with no offset, e.g. 2027-01-15T18:00:00, read in the time zone \
                 given beside it; an offset or Z is refused.",
            ))
            .pattern(Some(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"))
            .examples(["2027-01-15T18:00:00"])
            .into()
    }
}

impl ToSchema for LocalDateTime {}
