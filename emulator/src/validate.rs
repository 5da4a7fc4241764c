//! Parameter validation and Runware-shaped error objects.
//!
//! Every error is a JSON object `{code, message, parameter?, type?, min?, max?, multiplier?,
//! documentation?, taskUUID?, taskType?}` as described in `runware-api.md` §3.3.

use serde_json::{Map, Value, json};

use crate::tasks;

/// A Runware-shaped error object (`{"code":…, "message":…, …}`).
pub(crate) type ApiError = Value;

/// Builds a bare error with a code and a message.
pub(crate) fn error(code: &str, message: impl Into<String>) -> ApiError {
    json!({ "code": code, "message": message.into() })
}

/// `invalidApiKey` exactly as Runware sends it (no taskUUID).
pub(crate) fn invalid_api_key() -> ApiError {
    json!({
        "code": "invalidApiKey",
        "message": "Invalid API key. Get one at https://my.runware.ai/signup",
        "parameter": "apiKey",
        "taskType": "authentication",
    })
}

/// `missingApiKey` (no Bearer header and no leading authentication task).
pub(crate) fn missing_api_key() -> ApiError {
    json!({
        "code": "missingApiKey",
        "message": "Missing API key. Send 'Authorization: Bearer <key>' or a leading {\"taskType\":\"authentication\",\"apiKey\":\"<key>\"} task. Get one at https://my.runware.ai/signup",
        "parameter": "apiKey",
        "taskType": "authentication",
    })
}

/// Sets a field of a JSON object; a no-op on any other value, so it never panics (unlike
/// `value["field"] = …`, which panics on a non-object).
pub(crate) fn set_field(v: &mut Value, key: &str, val: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), val);
    }
}

/// [`set_field`], by value.
pub(crate) fn with_field(mut v: Value, key: &str, val: Value) -> Value {
    set_field(&mut v, key, val);
    v
}

/// The `i64` equal to `f` when `f` is a whole number of magnitude below `bound` (at most
/// 9.0e18, inside `i64`'s range), else None.
fn whole_to_i64(f: f64, bound: f64) -> Option<i64> {
    // `as` from a float saturates rather than wraps, and the guard keeps `f` exactly
    // representable, so the cast cannot change the value.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "guarded: f is whole and within i64's range"
    )]
    let n = (f.fract() == 0.0 && f.abs() < bound.min(9.0e18)).then_some(f as i64);
    n
}

/// `width` → `Width`, `CFGScale` → `CFGScale` (for `invalid<Param>` codes).
pub(crate) fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The JSON type name of a value, as Runware reports it in `type`.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether a string has the AIR syntax `source:id@version` (e.g. `runware:101@1`).
pub(crate) fn is_air(s: &str) -> bool {
    let Some((source, rest)) = s.split_once(':') else {
        return false;
    };
    let Some((id, version)) = rest.split_once('@') else {
        return false;
    };
    let ok = |p: &str, extra: &[char]| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c) || extra.contains(&c))
    };
    // Curated AIRs have dots in the id too (`minimax:m2.7@0`, `tripo:v3.1@0`).
    ok(source, &[]) && ok(id, &['.']) && ok(version, &['.'])
}

/// A task being validated: builds errors that carry its taskUUID, taskType and documentation.
pub(crate) struct TaskCtx<'a> {
    /// The task object.
    pub task: &'a Map<String, Value>,
    /// Its taskType as sent.
    pub task_type: &'a str,
    /// Its taskUUID.
    pub task_uuid: &'a str,
}

/// A numeric range check.
pub(crate) struct Range {
    pub min: f64,
    pub max: f64,
    pub multiplier: Option<i64>,
}

/// A range without a multiplier.
pub(crate) fn range(min: f64, max: f64) -> Range {
    Range {
        min,
        max,
        multiplier: None,
    }
}

impl<'a> TaskCtx<'a> {
    /// An error of this task.
    pub fn err(&self, code: &str, message: impl Into<String>) -> ApiError {
        json!({
            "code": code,
            "message": message.into(),
            "taskUUID": self.task_uuid,
            "taskType": self.task_type,
        })
    }

    /// An error about `param` with the full metadata.
    pub fn param_err(
        &self,
        code: &str,
        param: &str,
        message: String,
        ty: &str,
        range: Option<&Range>,
    ) -> ApiError {
        let mut e = self.err(code, message);
        set_field(&mut e, "parameter", json!(param));
        set_field(&mut e, "type", json!(ty));
        if let Some(r) = range {
            set_field(&mut e, "min", num(r.min));
            set_field(&mut e, "max", num(r.max));
            if let Some(m) = r.multiplier {
                set_field(&mut e, "multiplier", json!(m));
            }
        }
        set_field(
            &mut e,
            "documentation",
            json!(format!(
                "{}#request-{}",
                tasks::doc_page(self.task_type),
                param.to_ascii_lowercase()
            )),
        );
        e
    }

    fn invalid(&self, param: &str, rule: &str, ty: &str, range: Option<&Range>) -> ApiError {
        self.param_err(
            &format!("invalid{}", upper_first(param)),
            param,
            format!("Invalid value for '{param}' parameter. {rule}"),
            ty,
            range,
        )
    }

    fn missing(&self, param: &str, rule: &str, ty: &str, range: Option<&Range>) -> ApiError {
        self.param_err(
            &format!("missing{}", upper_first(param)),
            param,
            format!("Missing required parameter '{param}'. {rule}"),
            ty,
            range,
        )
    }

    fn get(&self, param: &str) -> Option<&'a Value> {
        self.task.get(param).filter(|v| !v.is_null())
    }

    /// An integer parameter within `range` (and a multiple of `range.multiplier`).
    pub fn int(
        &self,
        param: &str,
        what: &str,
        range: Range,
        required: bool,
    ) -> Result<Option<i64>, ApiError> {
        self.int_as(param, what, range, required)
    }

    /// [`int`](Self::int), converted to `T`; a value `T` cannot hold is invalid too (the ranges
    /// callers pass always fit their `T`, so in practice that never happens).
    pub fn int_as<T: TryFrom<i64>>(
        &self,
        param: &str,
        what: &str,
        range: Range,
        required: bool,
    ) -> Result<Option<T>, ApiError> {
        let rule = match range.multiplier {
            Some(m) => format!(
                "{what} must be an integer value between {} and {}, in multiples of '{m}'.",
                range.min, range.max
            ),
            None => format!(
                "{what} must be an integer value between {} and {}.",
                range.min, range.max
            ),
        };
        let Some(v) = self.get(param) else {
            return if required {
                Err(self.missing(param, &rule, "integer", Some(&range)))
            } else {
                Ok(None)
            };
        };
        let n = v
            .as_i64()
            .or_else(|| v.as_f64().and_then(|f| whole_to_i64(f, 9.0e18)));
        match n {
            Some(n)
                if (n as f64) >= range.min
                    && (n as f64) <= range.max
                    && range.multiplier.is_none_or(|m| n % m == 0) =>
            {
                T::try_from(n)
                    .map(Some)
                    .map_err(|_| self.invalid(param, &rule, "integer", Some(&range)))
            }
            _ => Err(self.invalid(param, &rule, "integer", Some(&range))),
        }
    }

    /// A number parameter within `range`.
    pub fn float(
        &self,
        param: &str,
        what: &str,
        range: Range,
        required: bool,
    ) -> Result<Option<f64>, ApiError> {
        let rule = format!(
            "{what} must be a number between {} and {}.",
            range.min, range.max
        );
        let Some(v) = self.get(param) else {
            return if required {
                Err(self.missing(param, &rule, "float", Some(&range)))
            } else {
                Ok(None)
            };
        };
        match v.as_f64() {
            Some(f) if f >= range.min && f <= range.max => Ok(Some(f)),
            _ => Err(self.invalid(param, &rule, "float", Some(&range))),
        }
    }

    /// A string parameter of `min..=max` characters.
    pub fn string(
        &self,
        param: &str,
        what: &str,
        min: usize,
        max: usize,
        required: bool,
    ) -> Result<Option<&'a str>, ApiError> {
        let rule = format!("{what} must be a string between {min} and {max} characters long.");
        let range = Range {
            min: min as f64,
            max: max as f64,
            multiplier: None,
        };
        let Some(v) = self.get(param) else {
            return if required {
                Err(self.missing(param, &rule, "string", Some(&range)))
            } else {
                Ok(None)
            };
        };
        match v.as_str() {
            Some(s) if (min..=max).contains(&s.chars().count()) => Ok(Some(s)),
            _ => Err(self.invalid(param, &rule, "string", Some(&range))),
        }
    }

    /// A string parameter with one of `values` (compared case-insensitively when `ci`); returns
    /// the canonical spelling.
    pub fn one_of(
        &self,
        param: &str,
        what: &str,
        values: &[&'static str],
        ci: bool,
        required: bool,
    ) -> Result<Option<&'static str>, ApiError> {
        let rule = format!("{what} must be one of: {}.", values.join(", "));
        let Some(v) = self.get(param) else {
            return if required {
                Err(self.missing(param, &rule, "string", None))
            } else {
                Ok(None)
            };
        };
        let found = v.as_str().and_then(|s| {
            values.iter().copied().find(|c| {
                if ci {
                    c.eq_ignore_ascii_case(s)
                } else {
                    *c == s
                }
            })
        });
        found
            .map(Some)
            .ok_or_else(|| self.invalid(param, &rule, "string", None))
    }

    /// A boolean parameter.
    pub fn boolean(&self, param: &str) -> Result<Option<bool>, ApiError> {
        match self.get(param) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(
                param,
                &format!("'{param}' must be a boolean."),
                "boolean",
                None,
            )),
        }
    }

    /// A model AIR parameter (`source:id@version`).
    pub fn air(&self, param: &str, required: bool) -> Result<Option<&'a str>, ApiError> {
        let rule =
            "The model must be an AIR identifier such as 'runware:101@1' (source:id@version).";
        let Some(v) = self.get(param) else {
            return if required {
                Err(self.missing(param, rule, "string", None))
            } else {
                Ok(None)
            };
        };
        match v.as_str() {
            Some(s) if is_air(s) => Ok(Some(s)),
            _ => Err(self.invalid(param, rule, "string", None)),
        }
    }

    /// An optional object parameter.
    pub fn object(&self, param: &str) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.get(param) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(self.invalid(
                param,
                &format!("'{param}' must be an object."),
                "object",
                None,
            )),
        }
    }

    /// An error for a value whose JSON type is wrong (generic).
    pub fn wrong_type(&self, param: &str, expected: &str) -> ApiError {
        let got = self.get(param).map(json_type).unwrap_or("null");
        self.invalid(
            param,
            &format!("'{param}' must be of type {expected} (got {got})."),
            expected,
            None,
        )
    }
}

/// A range bound as JSON: whole numbers as integers (`128`, not `128.0`).
fn num(f: f64) -> Value {
    match whole_to_i64(f, 9.0e15) {
        Some(n) => json!(n),
        None => json!(f),
    }
}

/// Replaces the value of every `apiKey` field (at any depth) by `[REDACTED]`.
pub(crate) fn redact(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, val) in o.iter_mut() {
                if k.eq_ignore_ascii_case("apiKey") {
                    *val = json!("[REDACTED]");
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn air_syntax() {
        assert!(is_air("runware:101@1"));
        assert!(is_air("civitai:102438@133677"));
        assert!(is_air("rundiffusion:130@100.1"));
        assert!(is_air("minimax:m2.7@0"));
        assert!(is_air("runware:llama-3-1-8b@prompt-enhancer"));
        assert!(!is_air("runware:101"));
        assert!(!is_air("flux"));
        assert!(!is_air(":1@1"));
        assert!(!is_air("a b:1@1"));
    }

    #[test]
    fn redacts_nested_keys() {
        let mut v = json!([{"taskType":"authentication","apiKey":"k"},{"x":{"apiKey":"k2"}}]);
        redact(&mut v);
        assert!(!v.to_string().contains("\"k\""));
        assert!(!v.to_string().contains("k2"));
    }
}
