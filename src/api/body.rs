//! Reading JSON bodies field by field, so every 422 names the field it is about
//! (`["body", "name"]`, `["body", "0", "email"]`) with FastAPI's messages and types, and
//! "absent" can be told from "null" (PATCH bodies: absent = unchanged).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ApiError;
use super::error::FieldError;

/// Parses a request body. An empty body is `{}` when the body is optional (the filter
/// endpoints), and a 422 when it is required.
pub fn parse(bytes: &[u8], required: bool) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if required {
            return Err(ApiError::Validation(vec![FieldError::at(
                vec!["body".into()],
                "missing",
                "Field required",
            )]));
        }
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Validation(vec![FieldError::at(
            vec!["body".into(), e.column().to_string()],
            "json_invalid",
            format!("JSON decode error: {e}"),
        )])
    })?;
    // No text Atrium keeps or looks up may hold NUL (PostgreSQL cannot store or even
    // compare it): a 422 at each such string, the same on both backends.
    let mut errors = Errors::default();
    find_nul(&v, &mut vec!["body".into()], &mut errors);
    errors.finish()?;
    // An optional body sent as JSON `null` is no body (FastAPI's `Optional[Body] = None`).
    if v.is_null() && !required {
        return Ok(Value::Object(Map::new()));
    }
    Ok(v)
}

/// A whole number, also when written with a zero fraction (`88.0`): JSON Schema counts
/// it as an integer, and so does pydantic.
pub fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15)
            .map(|f| f as i64)
    })
}

/// Pushes an error at every string (or key) of `v` that holds a NUL character.
fn find_nul(v: &Value, loc: &mut Vec<String>, errors: &mut Errors) {
    match v {
        Value::String(s) if s.contains('\0') => errors.push(
            loc.clone(),
            "string_nul",
            "String should not contain NUL characters",
        ),
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                loc.push(i.to_string());
                find_nul(item, loc, errors);
                loc.pop();
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                loc.push(k.clone());
                if k.contains('\0') {
                    errors.push(
                        loc.clone(),
                        "string_nul",
                        "Keys should not contain NUL characters",
                    );
                }
                find_nul(item, loc, errors);
                loc.pop();
            }
        }
        _ => {}
    }
}

/// `#[serde(deserialize_with = "…")]` for an optional whole number read as [`as_int`].
pub fn opt_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_int(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid type: {v}, expected i64"))),
    }
}

/// Collects the field errors of one body.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, loc: Vec<String>, kind: &str, msg: impl Into<String>) {
        self.0.push(FieldError::at(loc, kind, msg));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(422)` when anything was collected.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// A JSON object at a location of the body.
pub struct Obj<'a> {
    map: Option<&'a Map<String, Value>>,
    loc: Vec<String>,
}

/// A present field: absent, null, or a value.
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    /// Absent or null as `None`.
    pub fn value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a> Obj<'a> {
    /// The object `v` at `loc`; anything else is one 422 at `loc`.
    pub fn at(v: &'a Value, loc: Vec<String>, errors: &mut Errors) -> Obj<'a> {
        match v {
            Value::Object(m) => Obj { map: Some(m), loc },
            _ => {
                errors.push(
                    loc.clone(),
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                );
                Obj { map: None, loc }
            }
        }
    }

    /// The top-level body object.
    pub fn body(v: &'a Value, errors: &mut Errors) -> Obj<'a> {
        Obj::at(v, vec!["body".into()], errors)
    }

    pub fn loc(&self, name: &str) -> Vec<String> {
        let mut l = self.loc.clone();
        l.push(name.into());
        l
    }

    /// True when the field is there and not null.
    pub fn has(&self, name: &str) -> bool {
        !matches!(self.raw(name), None | Some(Value::Null))
    }

    fn raw(&self, name: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(name))
    }

    /// Reads a field with `conv`; a conversion failure is a 422 of `kind` with `msg`.
    fn field<T>(
        &self,
        name: &str,
        errors: &mut Errors,
        kind: &str,
        msg: &str,
        conv: impl FnOnce(&Value) -> Option<T>,
    ) -> Field<T> {
        match self.raw(name) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => match conv(v) {
                Some(t) => Field::Value(t),
                None => {
                    errors.push(self.loc(name), kind, msg);
                    Field::Absent
                }
            },
        }
    }

    pub fn string(&self, name: &str, errors: &mut Errors) -> Field<String> {
        self.field(
            name,
            errors,
            "string_type",
            "Input should be a valid string",
            |v| v.as_str().map(str::to_string),
        )
    }

    /// A UUID, as lowercase hyphenated text (how Atrium stores ids).
    pub fn uuid(&self, name: &str, errors: &mut Errors) -> Field<String> {
        self.field(
            name,
            errors,
            "uuid_parsing",
            "Input should be a valid UUID",
            |v| {
                v.as_str()
                    .and_then(|s| uuid::Uuid::parse_str(s).ok())
                    .map(|u| u.to_string())
            },
        )
    }

    pub fn bool(&self, name: &str, errors: &mut Errors) -> Field<bool> {
        self.field(
            name,
            errors,
            "bool_type",
            "Input should be a valid boolean",
            Value::as_bool,
        )
    }

    pub fn int(&self, name: &str, errors: &mut Errors) -> Field<i64> {
        self.field(
            name,
            errors,
            "int_type",
            "Input should be a valid integer",
            as_int,
        )
    }

    pub fn strings(&self, name: &str, errors: &mut Errors) -> Field<Vec<String>> {
        self.field(
            name,
            errors,
            "list_type",
            "Input should be a valid list of strings",
            |v| {
                v.as_array()?
                    .iter()
                    .map(|s| s.as_str().map(str::to_string))
                    .collect()
            },
        )
    }

    pub fn uuids(&self, name: &str, errors: &mut Errors) -> Field<Vec<String>> {
        self.field(
            name,
            errors,
            "uuid_parsing",
            "Input should be a valid list of UUIDs",
            |v| {
                v.as_array()?
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .and_then(|s| uuid::Uuid::parse_str(s).ok())
                            .map(|u| u.to_string())
                    })
                    .collect()
            },
        )
    }

    /// A nested object (absent or null: `None`).
    pub fn object(&self, name: &str, errors: &mut Errors) -> Option<Obj<'a>> {
        match self.raw(name) {
            None | Some(Value::Null) => None,
            Some(v) => {
                let before = errors.0.len();
                let o = Obj::at(v, self.loc(name), errors);
                if errors.0.len() > before {
                    None
                } else {
                    Some(o)
                }
            }
        }
    }

    /// A required field: absent or null is "Field required".
    pub fn required<T>(&self, name: &str, errors: &mut Errors, f: Field<T>) -> Option<T> {
        match f {
            Field::Value(v) => Some(v),
            Field::Absent if self.raw(name).is_some() => None, // already reported
            _ => {
                if self.map.is_some() {
                    errors.push(self.loc(name), "missing", "Field required");
                }
                None
            }
        }
    }

    /// `limit` (0–200, default 200) and `offset` (≥ 0, default 0) of the filter bodies.
    pub fn paging(&self, errors: &mut Errors) -> (usize, usize) {
        let limit = match self.int("limit", errors) {
            Field::Value(n) if (0..=200).contains(&n) => n as usize,
            Field::Value(_) => {
                errors.push(
                    self.loc("limit"),
                    "less_than_equal",
                    "Input should be between 0 and 200",
                );
                0
            }
            _ => 200,
        };
        let offset = match self.int("offset", errors) {
            Field::Value(n) if n >= 0 => n as usize,
            Field::Value(_) => {
                errors.push(
                    self.loc("offset"),
                    "greater_than_equal",
                    "Input should be greater than or equal to 0",
                );
                0
            }
            _ => 0,
        };
        (limit, offset)
    }

    /// `{"any_": [...]}` of a nested filter: strings.
    pub fn any_strings(&self, name: &str, errors: &mut Errors) -> Option<Vec<String>> {
        self.object(name, errors)
            .and_then(|o| o.strings("any_", errors).value())
    }

    /// `{"any_": [...]}` of a nested filter: UUIDs.
    pub fn any_uuids(&self, name: &str, errors: &mut Errors) -> Option<Vec<String>> {
        self.object(name, errors)
            .and_then(|o| o.uuids("any_", errors).value())
    }
}

/// Pages a list the way the filter endpoints do.
pub fn page<T>(items: Vec<T>, limit: usize, offset: usize) -> Vec<T> {
    items.into_iter().skip(offset).take(limit).collect()
}

/// Case-insensitive "contains", the filters' `like_`.
pub fn like(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Maps the page forms' field names to the API's, for 422 bodies.
pub fn fields_to_api(
    errors: crate::web::FieldErrors,
    prefix: &[String],
    rename: &[(&str, &str)],
) -> ApiError {
    ApiError::Validation(
        errors
            .0
            .into_iter()
            .map(|(f, m)| {
                let name = rename
                    .iter()
                    .find(|(from, _)| *from == f)
                    .map(|(_, to)| *to)
                    .unwrap_or(f);
                let mut loc = vec!["body".to_string()];
                loc.extend(prefix.iter().cloned());
                loc.push(name.into());
                FieldError::at(loc, "value_error", m)
            })
            .collect(),
    )
}

/// UTC timestamps as the API shows them.
pub fn utc(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    t.and_utc()
}

// ---------- bodies read into serde types (the service-account API) ----------

/// A 422 for a body serde could not read, naming the field when serde does — or, for a
/// value of the wrong type (`{"name": 5}`), the field of the object without which the
/// error changes.
pub fn unreadable<T: DeserializeOwned>(v: &serde_json::Value, e: serde_json::Error) -> ApiError {
    let msg = e.to_string();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| msg.strip_prefix(p))
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string);
    let field = named.or_else(|| {
        let obj = v.as_object()?;
        obj.keys()
            .find(|k| {
                let mut without = obj.clone();
                without.remove(*k);
                serde_json::from_value::<T>(serde_json::Value::Object(without))
                    .map_err(|e| e.to_string())
                    .err()
                    .is_none_or(|other| other != msg)
            })
            .cloned()
    });
    let mut loc = vec!["body".to_string()];
    if let Some(f) = field {
        loc.push(f.to_string());
    }
    ApiError::Validation(vec![FieldError {
        loc,
        msg,
        kind: "value_error".into(),
    }])
}

/// A required JSON body read into a serde type (emptiness and syntax checked by [`parse`]): an
/// object, or (`list_too`) a list of objects. serde would read a struct from a JSON list
/// as well (`[]` as a `BotUpdate` of nothing): a list where the document says object is a
/// 422, as FastAPI answers.
pub fn typed<T: DeserializeOwned>(raw: &[u8], list_too: bool) -> Result<T, ApiError> {
    let v = parse(raw, true)?;
    match &v {
        serde_json::Value::Object(_) => {}
        serde_json::Value::Array(items) if list_too => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_object() {
                    return Err(not_an_object(vec!["body".into(), i.to_string()]));
                }
            }
        }
        _ => return Err(not_an_object(vec!["body".into()])),
    }
    deserialize(&v)
}

pub fn not_an_object(loc: Vec<String>) -> ApiError {
    ApiError::Validation(vec![FieldError::at(
        loc,
        "model_attributes_type",
        "Input should be a valid dictionary or object to extract fields from",
    )])
}

/// `v` read into a serde type; what serde cannot read is a 422 naming the field.
pub fn deserialize<T: DeserializeOwned>(v: &serde_json::Value) -> Result<T, ApiError> {
    T::deserialize(v).map_err(|e| unreadable::<T>(v, e))
}
