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
