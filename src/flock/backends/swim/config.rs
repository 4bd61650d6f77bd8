//! The `swim` backend's configuration: upstream's five keys with upstream's
//! defaults, validated (upstream silently ignores values of the wrong type;
//! we reject them, naming the key, so a typo cannot quietly leave a group
//! running on defaults).

use crate::flock::error::{FlockError, Result};
use serde_json::Value;
use std::time::Duration;

/// The keys, in the order upstream writes them into `__config__`.
pub const KEYS: [&str; 5] =
    ["protocol_period_ms", "ping_timeout_ms", "ping_req_timeout_ms", "ping_req_members", "suspicion_timeout_ms"];

/// Longest accepted duration (one day): beyond that a value is a mistake, and
/// it keeps every `Duration` computation far from overflow.
const MAX_MS: f64 = 86_400_000.0;
/// Most helpers asked for an indirect probe (upstream's fixed array holds 8;
/// we allow a little more but keep one probe's fan-out small).
pub const MAX_PING_REQ_MEMBERS: u64 = 16;

#[derive(Clone, Debug, PartialEq)]
pub struct SwimConfig {
    /// One probe (direct, then indirect) per period.
    pub protocol_period_ms: f64,
    /// Wait for the answer to a direct ping.
    pub ping_timeout_ms: f64,
    /// Wait for the answer to an indirect probe (the helper pings the target
    /// with `ping_timeout_ms` meanwhile).
    pub ping_req_timeout_ms: f64,
    /// Helpers asked for an indirect probe (0: direct probes only).
    pub ping_req_members: u32,
    /// How long a member stays suspected before it is declared dead.
    pub suspicion_timeout_ms: f64,
}

impl Default for SwimConfig {
    fn default() -> Self {
        SwimConfig {
            protocol_period_ms: 1000.0,
            ping_timeout_ms: 200.0,
            ping_req_timeout_ms: 500.0,
            ping_req_members: 3,
            suspicion_timeout_ms: 5000.0,
        }
    }
}

fn invalid(origin: &str, key: &str, what: &str, value: &Value) -> FlockError {
    FlockError::InvalidConfig(format!("swim: \"{key}\" in {origin} {what} (got {value})"))
}

/// A duration in milliseconds: any JSON number, finite, > 0, at most a day.
fn millis(origin: &str, key: &str, value: &Value) -> Result<f64> {
    let ms = value.as_f64().filter(|_| value.is_number());
    match ms {
        Some(ms) if ms.is_finite() && ms > 0.0 && ms <= MAX_MS => Ok(ms),
        Some(_) => Err(invalid(origin, key, "must be a number of milliseconds > 0 and <= 86400000", value)),
        None => Err(invalid(origin, key, "must be a number", value)),
    }
}

/// A helper count: an integer (or a float with an integral value, since
/// JSON writers differ) in 0..=MAX_PING_REQ_MEMBERS.
fn count(origin: &str, key: &str, value: &Value) -> Result<u32> {
    let n = match value {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 1e9).map(|f| f as u64))
        }
        _ => return Err(invalid(origin, key, "must be an integer", value)),
    };
    match n {
        Some(n) if n <= MAX_PING_REQ_MEMBERS => Ok(n as u32),
        _ => Err(invalid(origin, key, &format!("must be an integer between 0 and {MAX_PING_REQ_MEMBERS}"), value)),
    }
}

impl SwimConfig {
    /// Applies the keys present in `config` (a JSON object) over `self`.
    /// `origin` names where the object came from, for error messages.
    pub fn overlay(mut self, config: &Value, origin: &str) -> Result<SwimConfig> {
        let obj = match config {
            Value::Object(o) => o,
            Value::Null => return Ok(self),
            other => return Err(FlockError::InvalidConfig(format!("swim: {origin} must be a JSON object (got {other})"))),
        };
        for (key, value) in obj {
            match key.as_str() {
                "protocol_period_ms" => self.protocol_period_ms = millis(origin, key, value)?,
                "ping_timeout_ms" => self.ping_timeout_ms = millis(origin, key, value)?,
                "ping_req_timeout_ms" => self.ping_req_timeout_ms = millis(origin, key, value)?,
                "ping_req_members" => self.ping_req_members = count(origin, key, value)?,
                "suspicion_timeout_ms" => self.suspicion_timeout_ms = millis(origin, key, value)?,
                other => crate::warning!("swim: ignoring unknown key \"{other}\" in {origin}"),
            }
        }
        Ok(self)
    }

    /// Settings that work but probably not as intended.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.ping_timeout_ms >= self.protocol_period_ms {
            out.push(format!(
                "ping_timeout_ms ({}) >= protocol_period_ms ({}): probes will stretch the period",
                self.ping_timeout_ms, self.protocol_period_ms
            ));
        }
        if self.ping_req_timeout_ms < self.ping_timeout_ms {
            out.push(format!(
                "ping_req_timeout_ms ({}) < ping_timeout_ms ({}): indirect probes will time out before the helper's ping does",
                self.ping_req_timeout_ms, self.ping_timeout_ms
            ));
        }
        if self.suspicion_timeout_ms < self.protocol_period_ms {
            out.push(format!(
                "suspicion_timeout_ms ({}) < protocol_period_ms ({}): suspected members get little chance to refute",
                self.suspicion_timeout_ms, self.protocol_period_ms
            ));
        }
        out
    }

    /// The effective config as JSON (durations as doubles, the count as an
    /// integer, as upstream stores them).
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.to_text()).unwrap_or_else(|_| Value::Object(Default::default()))
    }

    /// Compact text in upstream's key order (stored as `__config__`).
    pub fn to_text(&self) -> String {
        let d = |v: f64| Value::from(v).to_string();
        format!(
            "{{\"protocol_period_ms\":{},\"ping_timeout_ms\":{},\"ping_req_timeout_ms\":{},\"ping_req_members\":{},\"suspicion_timeout_ms\":{}}}",
            d(self.protocol_period_ms),
            d(self.ping_timeout_ms),
            d(self.ping_req_timeout_ms),
            self.ping_req_members,
            d(self.suspicion_timeout_ms)
        )
    }

    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(self.protocol_period_ms / 1000.0)
    }
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ping_timeout_ms / 1000.0)
    }
    pub fn ping_req_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ping_req_timeout_ms / 1000.0)
    }
    pub fn suspicion_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.suspicion_timeout_ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_text() {
        let c = SwimConfig::default();
        assert_eq!(
            c.to_text(),
            r#"{"protocol_period_ms":1000.0,"ping_timeout_ms":200.0,"ping_req_timeout_ms":500.0,"ping_req_members":3,"suspicion_timeout_ms":5000.0}"#
        );
        assert_eq!(c.to_json()["ping_req_members"], json!(3));
    }

    #[test]
    fn integers_and_floats_are_accepted() {
        let c = SwimConfig::default()
            .overlay(&json!({"protocol_period_ms": 250, "ping_timeout_ms": 50.5, "ping_req_members": 2.0, "suspicion_timeout_ms": 1e3}), "t")
            .unwrap();
        assert_eq!(c.protocol_period_ms, 250.0);
        assert_eq!(c.ping_timeout_ms, 50.5);
        assert_eq!(c.ping_req_members, 2);
        assert_eq!(c.suspicion_timeout_ms, 1000.0);
        assert_eq!(c.ping_req_timeout_ms, 500.0);
        assert!(c.to_text().contains("\"ping_timeout_ms\":50.5"));
        assert_eq!(SwimConfig::default().overlay(&json!({"ping_req_members": 0}), "t").unwrap().ping_req_members, 0);
    }

    #[test]
    fn malformed_values_name_their_key() {
        let bad = [
            json!({"protocol_period_ms": -1}),
            json!({"protocol_period_ms": 0}),
            json!({"ping_timeout_ms": "200"}),
            json!({"ping_req_timeout_ms": null}),
            json!({"ping_req_members": -1}),
            json!({"ping_req_members": 2.5}),
            json!({"ping_req_members": 1000}),
            json!({"ping_req_members": true}),
            json!({"suspicion_timeout_ms": 1e300}),
            json!({"suspicion_timeout_ms": [1]}),
        ];
        for b in bad {
            let key = b.as_object().unwrap().keys().next().unwrap().clone();
            match SwimConfig::default().overlay(&b, "group.config") {
                Err(FlockError::InvalidConfig(m)) => assert!(m.contains(&key), "{m}"),
                other => panic!("{b}: {other:?}"),
            }
        }
        assert!(matches!(SwimConfig::default().overlay(&json!([1]), "t"), Err(FlockError::InvalidConfig(_))));
    }
}
