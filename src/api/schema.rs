//! Schema pieces the handlers' documentation shares (`#[schema(schema_with = …)]`): the
//! only values a field takes, so generated "valid" input is valid.

/// A string schema listing the only values a field takes (`nullable`: or `null`, for
/// optional fields), so that generated "valid" input is valid.
pub fn choice(values: &[&str], nullable: bool) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut listed: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
    let ty = if nullable {
        listed.push(serde_json::Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(listed))
        .build()
}

/// [`choice`] of ids (`format: uuid`).
fn id_choice(ids: &[&str], nullable: bool) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
    let mut o = choice(ids, nullable);
    o.format = Some(SchemaFormat::KnownFormat(KnownFormat::Uuid));
    o
}

/// `account_role_id` of an invitation: Owner, Admin or Member (not Collaborator).
pub fn invitable_role_id() -> utoipa::openapi::Object {
    use crate::authz::AccountRole;
    id_choice(
        &[
            AccountRole::Owner.id(),
            AccountRole::Admin.id(),
            AccountRole::Member.id(),
        ],
        false,
    )
}

/// `account_role_id` of a service account: only Member's id, or `null`.
pub fn bot_role_id() -> utoipa::openapi::Object {
    id_choice(&[crate::authz::AccountRole::Member.id()], true)
}
