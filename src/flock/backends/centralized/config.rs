//! The backend's settings: parsing and validation of `group.config` merged
//! with the `__config__` metadata of the initial view (which wins, as
//! upstream: a joiner takes the group's settings), and the effective config
//! as `flock_provider_get_config` and `__config__` show it.
//!
//! Unlike upstream, integer and floating-point numbers are both accepted for
//! every setting, and every malformed value (wrong type, zero, negative,
//! `min > max`, absurdly large) is an error rather than silently ignored.

use crate::flock::error::{FlockError, Result};
use crate::flock::view::Member;
use serde_json::{Map, Value};
use std::time::Duration;

/// Upper bound of every duration setting (one day): keeps the arithmetic
/// on `Duration` far from overflow.
const MAX_MS: f64 = 86_400_000.0;
/// Upper bound of `ping_max_num_timeouts`.
const MAX_TIMEOUTS: u64 = 1_000_000;
/// `update_interval` when not given (upstream has no such setting; the
/// tutorial's example uses 1000).
const DEFAULT_UPDATE_INTERVAL_MS: f64 = 1000.0;

const KNOWN_KEYS: [&str; 6] =
    ["ping_timeout_ms", "ping_interval_ms", "ping_max_num_timeouts", "primary_address", "primary_provider_id", "update_interval"];

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub ping_timeout_ms: f64,
    /// `[min, max]`; a single value is stored as `(v, v)`.
    pub ping_interval_ms: (f64, f64),
    pub ping_max_num_timeouts: u32,
    /// The configured primary, if any (else the first member of the view).
    pub primary_address: Option<String>,
    pub primary_provider_id: u16,
    /// How often a follower compares its digest with the primary's; ours
    /// (upstream has no such setting), so reported only when given.
    pub update_interval_ms: Option<f64>,
}

impl Default for Config {
    /// Upstream's defaults.
    fn default() -> Self {
        Config {
            ping_timeout_ms: 1000.0,
            ping_interval_ms: (1000.0, 1000.0),
            ping_max_num_timeouts: 3,
            primary_address: None,
            primary_provider_id: 0,
            update_interval_ms: None,
        }
    }
}

fn invalid(msg: String) -> FlockError {
    FlockError::InvalidConfig(format!("centralized backend: {msg}"))
}

/// A duration in milliseconds: any JSON number, > 0 and at most a day.
fn millis(key: &str, v: &Value) -> Result<f64> {
    let x = v.as_f64().ok_or_else(|| invalid(format!("\"{key}\" must be a number of milliseconds, not {v}")))?;
    // NaN cannot come from JSON, but must not pass either.
    if x.is_nan() || x <= 0.0 {
        return Err(invalid(format!("\"{key}\" must be greater than 0 (got {v})")));
    }
    if x > MAX_MS {
        return Err(invalid(format!("\"{key}\" must be at most {MAX_MS} ms (one day), got {v}")));
    }
    Ok(x)
}

/// An integer given as an integer or as an integral float (`2` or `2.0`).
fn integer(key: &str, v: &Value) -> Result<i64> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    if v.as_u64().is_some() {
        return Err(invalid(format!("\"{key}\" is out of range ({v})")));
    }
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Some(_) => Err(invalid(format!("\"{key}\" must be an integer, not {v}"))),
        None => Err(invalid(format!("\"{key}\" must be an integer, not {v}"))),
    }
}

impl Config {
    /// The effective config of a provider: `stored` (the initial view's
    /// `__config__`, which takes precedence) completed by `group_config`.
    pub fn resolve(group_config: &Value, stored: Option<&str>) -> Result<Config> {
        let mut merged = match stored {
            None => Map::new(),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => m,
                _ => {
                    return Err(FlockError::InvalidArgs("the initial view's \"__config__\" metadata is not a JSON object".into()))
                }
            },
        };
        match group_config {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    merged.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            other => return Err(invalid(format!("\"group.config\" must be an object, not {other}"))),
        }
        Self::from_map(&merged)
    }

    fn from_map(m: &Map<String, Value>) -> Result<Config> {
        let mut c = Config::default();
        for key in m.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                crate::warning!("centralized backend: ignoring unknown config key \"{key}\"");
            }
        }
        if let Some(v) = m.get("ping_timeout_ms") {
            c.ping_timeout_ms = millis("ping_timeout_ms", v)?;
        }
        if let Some(v) = m.get("ping_interval_ms") {
            c.ping_interval_ms = match v {
                Value::Array(a) if a.len() == 2 => {
                    let lo = millis("ping_interval_ms[0]", &a[0])?;
                    let hi = millis("ping_interval_ms[1]", &a[1])?;
                    if lo > hi {
                        return Err(invalid(format!("\"ping_interval_ms\" is [min, max] with min <= max, got {v}")));
                    }
                    (lo, hi)
                }
                Value::Array(_) => return Err(invalid(format!("\"ping_interval_ms\" must be a number or [min, max], got {v}"))),
                other => {
                    let x = millis("ping_interval_ms", other)?;
                    (x, x)
                }
            };
        }
        if let Some(v) = m.get("ping_max_num_timeouts") {
            let n = integer("ping_max_num_timeouts", v)?;
            if n < 1 || n as u64 > MAX_TIMEOUTS {
                return Err(invalid(format!("\"ping_max_num_timeouts\" must be in 1..={MAX_TIMEOUTS}, got {v}")));
            }
            c.ping_max_num_timeouts = n as u32;
        }
        if let Some(v) = m.get("primary_address") {
            match v {
                Value::String(s) if !s.is_empty() => c.primary_address = Some(s.clone()),
                _ => return Err(invalid(format!("\"primary_address\" must be a non-empty string, not {v}"))),
            }
        }
        if let Some(v) = m.get("primary_provider_id") {
            let id = integer("primary_provider_id", v)?;
            // 65535 is Margo's "no provider" id, refused as upstream does.
            if !(0..65535).contains(&id) {
                return Err(invalid(format!("\"primary_provider_id\" must be in 0..65535, got {v}")));
            }
            c.primary_provider_id = id as u16;
        }
        if let Some(v) = m.get("update_interval") {
            c.update_interval_ms = Some(millis("update_interval", v)?);
        }
        Ok(c)
    }

    pub fn ping_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ping_timeout_ms / 1000.0)
    }

    pub fn interval_max(&self) -> Duration {
        Duration::from_secs_f64(self.ping_interval_ms.1 / 1000.0)
    }

    /// A ping interval drawn uniformly in `[min, max]`; `unit` in [0, 1).
    pub fn interval(&self, unit: f64) -> Duration {
        let (lo, hi) = self.ping_interval_ms;
        Duration::from_secs_f64((lo + (hi - lo) * unit) / 1000.0)
    }

    pub fn update_interval(&self) -> Duration {
        Duration::from_secs_f64(self.update_interval_ms.unwrap_or(DEFAULT_UPDATE_INTERVAL_MS) / 1000.0)
    }

    fn interval_json(&self) -> Value {
        let (lo, hi) = self.ping_interval_ms;
        if lo == hi {
            Value::from(lo)
        } else {
            Value::Array(vec![Value::from(lo), Value::from(hi)])
        }
    }

    /// The effective config with the current primary, as a JSON value
    /// (whose maps sort their keys); see [`Config::effective_text`].
    pub fn effective(&self, primary: &Member) -> Value {
        serde_json::from_str(&self.effective_text(primary)).unwrap_or_default()
    }

    /// The effective config with the current primary as compact JSON text,
    /// in upstream's key order and with upstream's types (doubles, an
    /// integer count): what `flock_provider_get_config` reports under
    /// `group.config` and what the view stores as `__config__` (joiners
    /// read the primary there). Our own `update_interval` comes last, only
    /// when it was given.
    pub fn effective_text(&self, primary: &Member) -> String {
        let mut text = format!(
            "{{\"ping_timeout_ms\":{},\"ping_interval_ms\":{},\"ping_max_num_timeouts\":{},\
             \"primary_address\":{},\"primary_provider_id\":{}",
            Value::from(self.ping_timeout_ms),
            self.interval_json(),
            self.ping_max_num_timeouts,
            Value::from(primary.address.clone()),
            primary.provider_id,
        );
        if let Some(ms) = self.update_interval_ms {
            text.push_str(&format!(",\"update_interval\":{}", Value::from(ms)));
        }
        text.push('}');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flock::error::code;
    use serde_json::json;

    fn parse(v: Value) -> Result<Config> {
        Config::resolve(&v, None)
    }

    #[test]
    fn defaults_and_both_number_kinds() {
        assert_eq!(parse(json!({})).unwrap(), Config::default());
        let c = parse(json!({"ping_timeout_ms": 200, "ping_interval_ms": [100, 200.5], "ping_max_num_timeouts": 2.0,
                             "update_interval": 50, "primary_provider_id": 3}))
        .unwrap();
        assert_eq!(c.ping_timeout_ms, 200.0);
        assert_eq!(c.ping_interval_ms, (100.0, 200.5));
        assert_eq!(c.ping_max_num_timeouts, 2);
        assert_eq!(c.update_interval_ms, Some(50.0));
        assert_eq!(c.update_interval(), Duration::from_millis(50));
        assert_eq!(c.primary_provider_id, 3);
        assert_eq!(parse(json!({"ping_interval_ms": 300})).unwrap().ping_interval_ms, (300.0, 300.0));
    }

    #[test]
    fn malformed_values_are_invalid_config() {
        for bad in [
            json!({"ping_timeout_ms": 0}),
            json!({"ping_timeout_ms": -5}),
            json!({"ping_timeout_ms": "100"}),
            json!({"ping_timeout_ms": null}),
            json!({"ping_timeout_ms": 1e300}),
            json!({"ping_interval_ms": [200, 100]}),
            json!({"ping_interval_ms": [100]}),
            json!({"ping_interval_ms": [100, 200, 300]}),
            json!({"ping_interval_ms": [100, "x"]}),
            json!({"ping_interval_ms": 0.0}),
            json!({"ping_interval_ms": true}),
            json!({"ping_max_num_timeouts": 0}),
            json!({"ping_max_num_timeouts": -1}),
            json!({"ping_max_num_timeouts": 2.5}),
            json!({"ping_max_num_timeouts": "2"}),
            json!({"ping_max_num_timeouts": 18446744073709551615u64}),
            json!({"primary_address": 3}),
            json!({"primary_address": ""}),
            json!({"primary_provider_id": 65535}),
            json!({"primary_provider_id": -1}),
            json!({"primary_provider_id": 1.5}),
            json!({"update_interval": 0}),
            json!({"update_interval": [1, 2]}),
            json!([1]),
        ] {
            let e = parse(bad.clone()).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.code(), code::INVALID_CONFIG, "{bad}: {e}");
        }
    }

    #[test]
    fn stored_config_takes_precedence() {
        let stored = r#"{"ping_timeout_ms":300.0,"primary_address":"na+sm://1-0","primary_provider_id":4}"#;
        let c = Config::resolve(&json!({"ping_timeout_ms": 10, "ping_max_num_timeouts": 5}), Some(stored)).unwrap();
        assert_eq!(c.ping_timeout_ms, 300.0);
        assert_eq!(c.ping_max_num_timeouts, 5);
        assert_eq!(c.primary_address.as_deref(), Some("na+sm://1-0"));
        assert_eq!(Config::resolve(&json!({}), Some("nope")).err().unwrap().code(), code::INVALID_ARGS);
        assert_eq!(Config::resolve(&json!({}), Some("[]")).err().unwrap().code(), code::INVALID_ARGS);
    }

    #[test]
    fn effective_text_has_upstream_order_and_keys() {
        let c = parse(json!({"ping_timeout_ms": 400, "ping_interval_ms": [800, 1000], "ping_max_num_timeouts": 2})).unwrap();
        let p = Member { address: "na+sm://7-0".into(), provider_id: 1 };
        // Exactly what upstream's test-centralized expects: no
        // update_interval when it was not given (its default still applies).
        assert_eq!(
            c.effective_text(&p),
            r#"{"ping_timeout_ms":400.0,"ping_interval_ms":[800.0,1000.0],"ping_max_num_timeouts":2,"primary_address":"na+sm://7-0","primary_provider_id":1}"#
        );
        assert_eq!(c.update_interval(), Duration::from_millis(1000));
        // Given, it comes last; defaults are reported like upstream's.
        let given = parse(json!({"update_interval": 250})).unwrap();
        assert_eq!(
            given.effective_text(&p),
            r#"{"ping_timeout_ms":1000.0,"ping_interval_ms":1000.0,"ping_max_num_timeouts":3,"primary_address":"na+sm://7-0","primary_provider_id":1,"update_interval":250.0}"#
        );
        let back = Config::resolve(&json!({}), Some(&given.effective_text(&p))).unwrap();
        assert_eq!(back.update_interval_ms, Some(250.0));
        // The text round-trips through the parser to the same settings.
        let back = Config::resolve(&json!({}), Some(&c.effective_text(&p))).unwrap();
        assert_eq!(back.ping_interval_ms, c.ping_interval_ms);
        assert_eq!(back.primary_address.as_deref(), Some("na+sm://7-0"));
        assert_eq!(c.effective(&p)["ping_interval_ms"], json!([800.0, 1000.0]));
    }
}
