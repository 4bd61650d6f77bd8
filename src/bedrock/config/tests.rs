use super::dotted_keys::abbreviate_key;
use super::*;
use crate::rpc::config::RuntimeInfo;
use serde_json::{json, Map, Value};

const VALID: &str = include_str!("../../../tests/data/bedrock/valid-configs.json");
const INVALID: &str = include_str!("../../../tests/data/bedrock/invalid-configs.json");
const SEED_BASIC: &str = include_str!("../../../tests/data/bedrock/seed-basic-config.json");
const SEED_DEPENDENCY: &str = include_str!("../../../tests/data/bedrock/seed-with-dependency.json");
const SEED_DISTRIBUTED: &str = include_str!("../../../tests/data/bedrock/seed-distributed-config.json");

fn load_json(text: &str) -> Value {
    load(text, ConfigFormat::Json, None).unwrap()
}

fn parse_text(text: &str) -> Result<ServerConfig> {
    ServerConfig::from_text(text, ConfigFormat::Json, None)
}

fn err_text(text: &str) -> String {
    parse_text(text).unwrap_err().to_string()
}

/// What a server started from `cfg` would report (providers as created
/// from their specs, with no dependencies resolved), without the
/// run-time `mercury` and `version` keys.
fn effective(cfg: &ServerConfig) -> Value {
    let margo: Vec<Value> = cfg
        .margo
        .iter()
        .map(|m| {
            let mut v = m.to_json(&RuntimeInfo::default());
            let o = v.as_object_mut().unwrap();
            o.remove("mercury");
            o.remove("version");
            v
        })
        .collect();
    let mut registered: Vec<(String, u16)> = Vec::new();
    let mut reports = Vec::new();
    for p in &cfg.providers {
        let id =
            check_new_provider(&p.name, p.provider_id, registered.iter().map(|(n, i)| (n.as_str(), *i)), cfg.bedrock.provider_id)
                .unwrap();
        registered.push((p.name.clone(), id));
        reports.push(ProviderReport {
            name: p.name.clone(),
            type_name: p.type_name.clone(),
            provider_id: id,
            engine: p.engine,
            config: p.config.clone(),
            tags: p.tags.clone(),
            dependencies: Map::new(),
        });
    }
    output_config(&margo, &cfg.bedrock_pool_name().unwrap(), cfg.bedrock.provider_id, &cfg.libraries, &reports)
}

// ----- upstream test vectors -----

#[test]
fn every_valid_case_produces_upstreams_output() {
    let cases: Vec<Value> = serde_json::from_str(VALID).unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["test"].as_str().unwrap();
        let input = serde_json::to_string(&case["input"]).unwrap();
        let cfg = parse_text(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = effective(&cfg);
        assert_eq!(out, case["output"], "{name}");
        // Sorted keys at every level: the text is upstream's dump.
        assert_eq!(serde_json::to_string(&out).unwrap(), serde_json::to_string(&case["output"]).unwrap(), "{name}");
    }
}

/// Invalid cases that need run-time state (loading a library, looking a
/// module type up); everything else must be rejected statically.
const RUNTIME_INVALID: &[&str] = &["library not found", "invalid provider type in provider definition"];

#[test]
fn every_static_invalid_case_is_rejected() {
    let cases: Vec<Value> = serde_json::from_str(INVALID).unwrap();
    assert_eq!(cases.len(), 16);
    let expected: &[(&str, &str)] = &[
            ("invalid type for libraries field", "\"libraries\" field needs to be an array"),
            ("invalid type for library", "Module library should be a string"),
            (
                "invalid type of provider field",
                "Invalid JSON configuration passed to ProviderManager::addProviderListFromJSON (should be an array)",
            ),
            (
                "invalid type of provider definition",
                "Error validating JSON (ProviderManager): At  of true - unexpected instance type",
            ),
            (
                "no provider type in provider definition",
                "Error validating JSON (ProviderManager): At  of {\"name\":\"my_provider\",\"provider_id\":123} - required property 'type' not found in object",
            ),
            (
                "invalid type for provider name in provider definition",
                "Error validating JSON (ProviderManager): At /name of true - unexpected instance type",
            ),
            (
                "invalid type for provider type in provider definition",
                "Error validating JSON (ProviderManager): At /type of true - unexpected instance type",
            ),
            (
                "invalid type for provider_id in provider definition",
                "Error validating JSON (ProviderManager): At /provider_id of true - unexpected instance type",
            ),
            (
                "invalid provider_id value in provider definition",
                "Error validating JSON (ProviderManager): At /provider_id of -1 - instance is below minimum of 0",
            ),
            (
                "invalid config type in provider definition",
                "Error validating JSON (ProviderManager): At /config of true - unexpected instance type",
            ),
            (
                "provider definition without a name",
                "Error validating JSON (ProviderManager): At  of {\"provider_id\":123,\"type\":\"module_a\"} - required property 'name' not found in object",
            ),
            (
                "empty provider name in provider definition",
                "Error validating JSON (ProviderManager): At /name of \"\" - instance does not match regex pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$",
            ),
            ("two providers with the same name", "Name \"my_provider\" already used by another provider"),
            ("two providers with the same provider id", "Another provider already uses provider ID 42"),
        ];
    let mut checked = 0;
    for case in &cases {
        let name = case["test"].as_str().unwrap();
        let input = serde_json::to_string(&case["input"]).unwrap();
        let result = parse_text(&input);
        if RUNTIME_INVALID.contains(&name) {
            assert!(result.is_ok(), "{name} is only detectable at run time: {result:?}");
            continue;
        }
        let (_, text) = expected.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no expectation for {name}"));
        assert_eq!(result.unwrap_err().to_string(), *text, "{name}");
        checked += 1;
    }
    assert_eq!(checked, expected.len());
    assert_eq!(checked + RUNTIME_INVALID.len(), cases.len());
}

#[test]
fn runtime_invalid_cases_parse_to_what_the_runtime_must_reject() {
    let cfg = parse_text(r#"{"libraries":["abc.so"]}"#).unwrap();
    assert_eq!(cfg.libraries.paths(), vec!["abc.so"]);
    let cfg = parse_text(r#"{"providers":[{"name":"my_provider","provider_id":123,"type":"module_invalid"}]}"#).unwrap();
    assert_eq!(cfg.providers[0].type_name, "module_invalid");
}

// ----- the tutorial's configurations -----

#[test]
fn seed_configs_validate() {
    let basic = parse_text(SEED_BASIC).unwrap();
    assert_eq!(basic.libraries.form, LibrariesForm::Object);
    assert_eq!(basic.libraries.paths(), vec!["libflock-bedrock-module.so"]);
    assert_eq!(basic.providers.len(), 1);
    let p = &basic.providers[0];
    assert_eq!((p.name.as_str(), p.type_name.as_str(), p.provider_id), ("my_group", "flock", Some(1)));
    assert_eq!(p.config["bootstrap"], "self");
    assert_eq!(p.config["group"], json!({"type": "static", "config": {}}));
    assert_eq!(p.config["file"], "my_group.flock");

    let dep = parse_text(SEED_DEPENDENCY).unwrap();
    assert_eq!(dep.libraries.paths(), vec!["libflock-bedrock-module.so", "libyokan-bedrock-module.so"]);
    assert_eq!(dep.providers[1].dependencies["flock_group"], "my_group");
    assert_eq!(dep.providers[1].provider_id, Some(42));

    let dist = parse_text(SEED_DISTRIBUTED).unwrap();
    assert_eq!(dist.margo.len(), 1);
    let m = &dist.margo[0];
    assert_eq!(m.pools[m.rpc_pool].name, "rpc_pool");
    assert_eq!(dist.bedrock_pool_name().unwrap(), "rpc_pool");
    assert_eq!(dist.providers[0].config["bootstrap"], "mpi");
    assert_eq!(dist.providers[1].dependencies["group"], "service_group");
}

#[test]
fn seed_config_output_keeps_the_object_form_of_libraries() {
    let cfg = parse_text(SEED_DEPENDENCY).unwrap();
    let out = effective(&cfg);
    assert_eq!(out["libraries"], json!({"flock": "libflock-bedrock-module.so", "yokan": "libyokan-bedrock-module.so"}));
    assert_eq!(out["providers"][0]["name"], "my_group");
    assert_eq!(out["providers"][1]["provider_id"], 42);
    assert_eq!(out["bedrock"], json!({"pool": "__primary__", "provider_id": 0}));
}

// ----- input pipeline -----

#[test]
fn empty_text_is_an_empty_object() {
    assert_eq!(load_json(""), json!({}));
    assert_eq!(load_json("  \n"), json!({}));
    assert_eq!(load_json("null"), json!({}));
    assert_eq!(load("", ConfigFormat::Toml, None).unwrap(), json!({}));
}

#[test]
fn json_syntax_errors_carry_the_parser_message() {
    let e = load("{[", ConfigFormat::Json, None).unwrap_err();
    assert!(matches!(e, BedrockError::JsonParse(_)));
    assert_eq!(e.to_string(), "parse error at line 1, column 2: key must be a string");
    let e = load("{\"a\": 1,}", ConfigFormat::Json, None).unwrap_err().to_string();
    assert!(e.starts_with("parse error at line 1, column 9: "), "{e}");
}

#[test]
fn rank_locators_are_found_in_any_part_of_the_document() {
    let cfg = |t: &str| ServerConfig::from_text(t, ConfigFormat::Json, Some((0, 2))).unwrap().uses_rank_locators;
    assert!(!cfg(r#"{"providers":[{"name":"a","type":"t","dependencies":{"x":"b@local","y":"c@na+sm://1-0"}}]}"#));
    assert!(cfg(r#"{"providers":[{"name":"a","type":"t","dependencies":{"x":"b@1"}}]}"#));
    assert!(cfg(r#"{"providers":[{"name":"a","type":"t","dependencies":{"x":["b","t:3@0"]}}]}"#));
    // Rank 0 reads the first part, but rank 1's part decides for both.
    assert!(cfg(r#"[{}, {"providers":[{"name":"a","type":"t","dependencies":{"x":"b@0"}}]}]"#));
    // Only dependencies count, not module configs.
    assert!(!cfg(r#"{"providers":[{"name":"a","type":"t","config":{"mail":"x@1"}}]}"#));
}

#[test]
fn jx9_is_not_supported() {
    let e = load("return {};", ConfigFormat::Jx9, None).unwrap_err();
    assert_eq!(e, BedrockError::Jx9NotSupported);
    assert!(e.to_string().contains("not supported"));
    assert!(ServerConfig::from_text("+&*", ConfigFormat::Jx9, None).is_err());
}

#[test]
fn toml_with_two_pools() {
    let text = r#"
[margo]
use_progress_thread = false

[[margo.argobots.pools]]
name   = "my_pool_1"
access = "mpmc"
kind   = "fifo_wait"

[[margo.argobots.pools]]
name   = "my_pool_2"
access = "mpmc"
kind   = "fifo"
"#;
    let cfg = ServerConfig::from_text(text, ConfigFormat::Toml, None).unwrap();
    let m = &cfg.margo[0];
    assert_eq!(m.pools.len(), 3);
    assert_eq!(m.pools[0].name, "my_pool_1");
    assert_eq!(m.pools[1].name, "my_pool_2");
    assert_eq!(m.pools[2].name, "__primary__");
    assert_eq!(cfg.bedrock_pool_name().unwrap(), "__primary__");
}

#[test]
fn toml_full_document() {
    let text = r#"
libraries = ["liba.so", "libflock-bedrock-module.so"]

[bedrock]
provider_id = 7
dependency_resolution_timeout = 2.5

[margo]
use_progress_thread = true

  [[margo.argobots.pools]]
  name = "p1"

[[providers]]
name = "first"
type = "yokan"
provider_id = 1
tags = ["a", "b"]
  [providers.config.database]
  type = "map"

[[providers]]
name = "second"
type = "flock"
  [providers.config]
  bootstrap = ["join", "mpi"]
  group = { "type" = "centralized" }
  [providers.dependencies]
  db = "first"
  pools = ["p1", 0]
"#;
    let cfg = ServerConfig::from_text(text, ConfigFormat::Toml, None).unwrap();
    assert_eq!(cfg.bedrock.provider_id, 7);
    assert_eq!(cfg.bedrock.dependency_resolution_timeout, 2.5);
    assert_eq!(cfg.libraries.paths(), vec!["liba.so", "libflock-bedrock-module.so"]);
    assert_eq!(cfg.providers[0].tags, vec!["a", "b"]);
    assert_eq!(cfg.providers[0].config, json!({"database": {"type": "map"}}));
    assert_eq!(cfg.providers[1].provider_id, None);
    assert_eq!(cfg.providers[1].dependencies["pools"], json!(["p1", 0]));
    assert_eq!(cfg.providers[1].config["group"], json!({"type": "centralized"}));
    // progress pool generated by use_progress_thread
    let m = &cfg.margo[0];
    assert_eq!(m.pools[m.progress_pool].name, "__pool_2__");
}

#[test]
fn toml_dates_and_syntax_errors() {
    let e = load("when = 1979-05-27T07:32:00Z", ConfigFormat::Toml, None).unwrap_err();
    assert_eq!(e.to_string(), "Invalid TOML value encountered");
    let e = load("[x]\nd = 1979-05-27", ConfigFormat::Toml, None).unwrap_err();
    assert_eq!(e, BedrockError::InvalidTomlValue);
    let e = load("a = nan", ConfigFormat::Toml, None).unwrap_err();
    assert!(matches!(e, BedrockError::NonFiniteTomlFloat(_)));
    let e = load("a = = 1", ConfigFormat::Toml, None).unwrap_err();
    assert!(matches!(e, BedrockError::TomlParse(_)));
    assert!(!e.to_string().is_empty());
}

#[test]
fn toml_keys_are_not_expanded() {
    // Dotted keys are TOML syntax already; a quoted key stays as is.
    let v = load("\"a.b\" = 1\nc.d = 2", ConfigFormat::Toml, None).unwrap();
    assert_eq!(v, json!({"a.b": 1, "c": {"d": 2}}));
}

#[test]
fn dotted_keys_are_expanded() {
    assert_eq!(
        load_json(r#"{"margo.argobots.abt_mem_max_num_stacks": 16, "margo.rpc_pool": "__primary__"}"#),
        json!({"margo": {"argobots": {"abt_mem_max_num_stacks": 16}, "rpc_pool": "__primary__"}})
    );
    // Merged with an existing object, recursively inside nested objects.
    assert_eq!(load_json(r#"{"a": {"x": 1, "y.z": 2}, "a.b": 3}"#), json!({"a": {"x": 1, "y": {"z": 2}, "b": 3}}));
    // A non-object in the way is replaced.
    assert_eq!(load_json(r#"{"a": 1, "a.b": 2}"#), json!({"a": {"b": 2}}));
    // Arrays are not traversed.
    assert_eq!(
        load_json(r#"{"providers": [{"config.x": 1}], "p.q": [{"r.s": 2}]}"#),
        json!({"providers": [{"config.x": 1}], "p": {"q": [{"r.s": 2}]}})
    );
    // Empty objects stay objects.
    assert_eq!(load_json(r#"{"margo": {"mercury": {}}}"#), json!({"margo": {"mercury": {}}}));
    // Objects under dotted keys are merged and expanded too.
    assert_eq!(load_json(r#"{"a.b": {"c.d": 1}, "a.b.e": 2}"#), json!({"a": {"b": {"c": {"d": 1}, "e": 2}}}));
}

#[test]
fn dotted_keys_nest_at_most_max_expanded_depth() {
    let key = |levels: usize| vec!["k"; levels].join(".");
    // Exactly the limit is accepted, and the walks after expansion
    // (filtering, rank locators, drop) cope with it on a test thread's
    // stack.
    let deepest = load_json(&format!(r#"{{"{}": 1}}"#, key(MAX_EXPANDED_DEPTH)));
    let mut v = &deepest;
    for _ in 0..MAX_EXPANDED_DEPTH {
        v = &v["k"];
    }
    assert_eq!(v, &json!(1));
    // One more level is an error naming the key.
    let e = err_text(&format!(r#"{{"{}": 1}}"#, key(MAX_EXPANDED_DEPTH + 1)));
    assert_eq!(
        e,
        format!(
            r#"Invalid configuration: key "{}... (257 bytes)" nests the configuration deeper than 128 levels"#,
            &key(MAX_EXPANDED_DEPTH + 1)[..64]
        )
    );
    // Depth adds up through objects nested under dotted keys, and in
    // the elements of a root array.
    let half = key(MAX_EXPANDED_DEPTH / 2);
    assert!(load(&format!(r#"{{"{half}": {{"{half}": 1}}}}"#), ConfigFormat::Json, None).is_ok());
    let e = err_text(&format!(r#"{{"{half}": {{"{half}.x": 1}}}}"#));
    assert!(e.contains(&format!(r#"key "{}" nests"#, abbreviate_key(&format!("{half}.x")))), "{e}");
    assert_eq!(abbreviate_key("short.key"), "short.key");
    let e = load(&format!(r#"[{{"{}": 1}}]"#, key(MAX_EXPANDED_DEPTH)), ConfigFormat::Json, None).unwrap_err();
    assert!(matches!(e, BedrockError::KeyNestsTooDeep { limit: MAX_EXPANDED_DEPTH, .. }), "{e}");
}

#[test]
fn a_key_of_thousands_of_dots_is_an_error_not_a_stack_overflow() {
    // The fuzzer's input: one key of ~11 700 dots (it killed the daemon
    // with SIGSEGV). The message shows the key's start and its length.
    let dots = ".".repeat(11_700);
    let e = err_text(&format!(r#"{{"{dots}": 1}}"#));
    assert_eq!(
        e,
        format!(
            r#"Invalid configuration: key "{}... (11700 bytes)" nests the configuration deeper than 128 levels"#,
            ".".repeat(64)
        )
    );
    // The same key under an `__if__` filter and inside a root array.
    let e = err_text(&format!(r#"[{{"__if__": true, "a.{dots}": {{"__if__": false}}}}]"#));
    assert!(e.starts_with(r#"Invalid configuration: key "a...."#), "{e}");
}

#[test]
fn dotted_keys_build_a_valid_configuration() {
    let cfg = parse_text(
        r#"{"margo.argobots.pools": [{"name": "p"}], "margo.rpc_pool": "p", "bedrock.provider_id": 3,
                "bedrock.pool": "p"}"#,
    )
    .unwrap();
    assert_eq!(cfg.bedrock.provider_id, 3);
    assert_eq!(cfg.bedrock_pool_name().unwrap(), "p");
    assert_eq!(cfg.margo[0].pools[cfg.margo[0].rpc_pool].name, "p");
}

#[test]
fn if_conditions() {
    let v = load_json(
        r#"{"providers": [
                {"name": "a", "type": "t", "__if__": true},
                {"name": "b", "type": "t", "__if__": false},
                {"name": "c", "type": "t"}],
              "bedrock": {"__if__": false, "provider_id": 3},
              "margo": {"__if__": true, "argobots": {"pools": [{"name": "x", "__if__": false}]}}}"#,
    );
    assert_eq!(
        v,
        json!({
            "providers": [{"name": "a", "type": "t", "__if__": true}, {"name": "c", "type": "t"}],
            "bedrock": null,
            "margo": {"__if__": true, "argobots": {"pools": []}}
        })
    );
    let cfg = parse_server_config(&v).unwrap();
    assert_eq!(cfg.providers.len(), 2);
    assert_eq!(cfg.bedrock.provider_id, 0);
    // A removed root is an empty configuration.
    assert_eq!(load_json(r#"{"__if__": false, "bedrock": {"provider_id": 5}}"#), json!({}));
    // Null array elements are dropped as well (upstream behaviour).
    assert_eq!(load_json(r#"{"a": [1, null, 2]}"#), json!({"a": [1, 2]}));
    // The Jx9 literals "true" and "false" are evaluated.
    assert_eq!(
        load_json(r#"{"a": [{"__if__": "false"}, {"__if__": " true ", "k": 1}], "b": {"__if__": "false"}}"#),
        json!({"a": [{"__if__": " true ", "k": 1}], "b": null})
    );
}

#[test]
fn if_condition_errors() {
    let e = load(r#"{"x": {"__if__": "$MPI_COMM_WORLD.rank == 0"}}"#, ConfigFormat::Json, None).unwrap_err();
    assert_eq!(e, BedrockError::Jx9ConditionNotSupported("$MPI_COMM_WORLD.rank == 0".into()));
    assert!(e.to_string().contains("$MPI_COMM_WORLD.rank == 0"));
    assert!(e.to_string().contains("not supported"));
    for bad in ["1", "null", "[]", "{}"] {
        let e = load(&format!(r#"{{"x": {{"__if__": {bad}}}}}"#), ConfigFormat::Json, None).unwrap_err();
        assert_eq!(e.to_string(), "__if__ condition should be a string or a boolean", "{bad}");
    }
    // Conditions inside removed objects are never looked at.
    assert_eq!(load_json(r#"{"x": {"__if__": false, "y": {"__if__": "jx9"}}}"#), json!({"x": null}));
    // TOML goes through the same filter.
    let v = load("[a]\n__if__ = false\n[b]\n__if__ = true", ConfigFormat::Toml, None).unwrap();
    assert_eq!(v, json!({"a": null, "b": {"__if__": true}}));
}

#[test]
fn root_arrays() {
    let text = r#"[{"bedrock.provider_id": 1}, {"bedrock": {"provider_id": 2}}, {"bedrock": {"provider_id": 3}}]"#;
    for rank in 0..3 {
        let v = load(text, ConfigFormat::Json, Some((rank, 3))).unwrap();
        assert_eq!(v, json!({"bedrock": {"provider_id": rank + 1}}));
    }
    assert_eq!(
        load(text, ConfigFormat::Json, None).unwrap_err().to_string(),
        "Configuration resolved to an array but MPI is not enabled"
    );
    assert_eq!(
        load(text, ConfigFormat::Json, Some((0, 4))).unwrap_err().to_string(),
        "Ambiguous configuration did not resolve to a single possibility for the process"
    );
    // A single element (possibly after filtering) needs no MPI.
    assert_eq!(load_json(r#"[{"a": 1}]"#), json!({"a": 1}));
    assert_eq!(load_json(r#"[{"a": 1, "__if__": false}, {"b.c": 2, "__if__": true}]"#), json!({"b": {"c": 2}, "__if__": true}));
    // Null elements are dropped by the filter, like removed ones.
    assert_eq!(load("[null]", ConfigFormat::Json, None).unwrap_err(), BedrockError::ArrayWithoutMpi);
    assert_eq!(load_json(r#"[null, {"a": 1}]"#), json!({"a": 1}));
    assert_eq!(load(r#"[]"#, ConfigFormat::Json, None).unwrap_err(), BedrockError::ArrayWithoutMpi);
    assert_eq!(load(r#"[]"#, ConfigFormat::Json, Some((0, 2))).unwrap_err(), BedrockError::AmbiguousConfiguration);
    assert_eq!(load_json("[{}]"), json!({}));
    // Whatever was selected must be an object.
    assert_eq!(load("[5]", ConfigFormat::Json, None).unwrap_err(), BedrockError::InvalidRoot("integer"));
    assert!(load("[1, 2]", ConfigFormat::Json, Some((5, 2))).is_err());
}

#[test]
fn scalar_roots_are_rejected() {
    for (text, found) in [("5", "integer"), ("\"x\"", "string"), ("true", "boolean"), ("1.5", "number")] {
        let e = load(text, ConfigFormat::Json, None).unwrap_err();
        assert_eq!(e, BedrockError::InvalidRoot(found));
        assert_eq!(e.to_string(), format!("Invalid configuration: the root should be an object (found {found})"));
    }
    assert!(parse_server_config(&json!(5)).is_err());
    assert!(parse_server_config(&Value::Null).is_ok());
}

// ----- top-level sections -----

#[test]
fn bedrock_section() {
    assert_eq!(err_text(r#"{"bedrock": 1}"#), "Invalid entry type for \"bedrock\" (expected object)");
    assert_eq!(err_text(r#"{"bedrock": []}"#), "Invalid entry type for \"bedrock\" (expected object)");
    assert_eq!(err_text(r#"{"bedrock": {"pool": 1}}"#), "Invalid type in Bedrock's \"pool\" entry");
    assert_eq!(
        err_text(r#"{"bedrock": {"pool": "nope"}}"#),
        "Could not find pool with name \"nope\": no pool with this name in the Margo configuration"
    );
    assert!(matches!(parse_text(r#"{"bedrock": {"provider_id": 65536}}"#).unwrap_err(), BedrockError::BedrockProviderIdType));
    assert!(matches!(parse_text(r#"{"bedrock": {"provider_id": "0"}}"#).unwrap_err(), BedrockError::BedrockProviderIdType));
    assert!(matches!(
        parse_text(r#"{"bedrock": {"dependency_resolution_timeout": "1"}}"#).unwrap_err(),
        BedrockError::BedrockTimeoutType
    ));
    let cfg =
        parse_text(r#"{"bedrock": {"provider_id": 65535, "dependency_resolution_timeout": 5, "pool": "__primary__"}}"#).unwrap();
    assert_eq!(
        cfg.bedrock,
        BedrockSection { provider_id: 65535, pool: Some("__primary__".into()), dependency_resolution_timeout: 5.0 }
    );
    let cfg = parse_text(r#"{"bedrock": {}}"#).unwrap();
    assert_eq!(cfg.bedrock, BedrockSection::default());
    assert_eq!(cfg.bedrock.dependency_resolution_timeout, 30.0);
}

#[test]
fn bedrock_pool_defaults_to_the_rpc_pool() {
    let cfg = parse_text(r#"{"margo": {"use_progress_thread": true, "rpc_thread_count": 2}}"#).unwrap();
    assert_eq!(cfg.bedrock_pool_name().unwrap(), "__pool_2__");
    let cfg = parse_text(r#"{"margo": {"rpc_thread_count": -1, "use_progress_thread": true}}"#).unwrap();
    assert_eq!(cfg.bedrock_pool_name().unwrap(), "__pool_1__");
}

#[test]
fn libraries_section() {
    let cfg = parse_text(r#"{"libraries": ["a.so", "b.so", "a.so"]}"#).unwrap();
    assert_eq!(cfg.libraries.entries.len(), 3);
    assert_eq!(cfg.libraries.paths(), vec!["a.so", "b.so"]);
    assert_eq!(cfg.libraries.to_json(), json!(["a.so", "b.so"]));
    let cfg = parse_text(r#"{"libraries": {"mod_b": "b.so", "mod_a": "a.so"}}"#).unwrap();
    assert_eq!(cfg.libraries.form, LibrariesForm::Object);
    assert_eq!(cfg.libraries.entries[0], LibrarySpec { module: Some("mod_a".into()), path: "a.so".into() });
    assert_eq!(cfg.libraries.to_json(), json!({"mod_a": "a.so", "mod_b": "b.so"}));
    assert_eq!(err_text(r#"{"libraries": {"m": 1}}"#), "Module library should be a string");
    assert_eq!(err_text(r#"{"libraries": "a.so"}"#), "\"libraries\" field needs to be an array");
    assert_eq!(err_text(r#"{"libraries": ["a.so", 1]}"#), "Module library should be a string");
    let cfg = parse_text(r#"{"libraries": null}"#).unwrap();
    assert_eq!(cfg.libraries.to_json(), json!([]));
}

#[test]
fn libraries_loaded_at_run_time_are_reported() {
    let mut libs = Libraries::from_value(Some(&json!(["a.so"]))).unwrap();
    assert!(libs.record_loaded("b.so"));
    assert!(!libs.record_loaded("a.so"));
    assert_eq!(libs.to_json(), json!(["a.so", "b.so"]));
    let mut libs = Libraries::from_value(Some(&json!({"flock": "libflock.so"}))).unwrap();
    assert!(libs.record_loaded("./libModuleA.so"));
    assert!(!libs.record_loaded("libflock.so"));
    assert_eq!(libs.to_json(), json!({"flock": "libflock.so", "./libModuleA.so": "./libModuleA.so"}));
}

#[test]
fn margo_section_shapes() {
    assert_eq!(parse_text(r#"{"margo": [{}, {}]}"#).unwrap().margo.len(), 2);
    assert_eq!(parse_text(r#"{"margo": [{}]}"#).unwrap().margo.len(), 1);
    assert_eq!(parse_text(r#"{"margo": null}"#).unwrap().margo.len(), 1);
    assert_eq!(parse_text(r#"{"margo": []}"#).unwrap_err(), BedrockError::EmptyMargoArray);
    assert!(matches!(parse_text(r#"{"margo": 5}"#).unwrap_err(), BedrockError::Margo(_)));
    let e = err_text(r#"{"margo": {"argobots": {"pools": [{"kind": "nope"}]}}}"#);
    assert!(e.starts_with("Invalid Margo configuration: margo.argobots.pools[0].kind"), "{e}");
    // Child engines share engine 0's Argobots environment.
    let e = err_text(r#"{"margo": [{}, {"argobots": {}}]}"#);
    assert!(e.contains("margo[1].argobots"), "{e}");
    let cfg = parse_text(
        r#"{"margo": [
                {"argobots": {"pools": [{"name": "pool_sm"}],
                              "xstreams": [{"name": "es_sm", "scheduler": {"pools": ["pool_sm"]}}]},
                 "progress_pool": "pool_sm", "rpc_pool": "pool_sm"},
                {"mercury": {"address": "ofi+tcp"}, "progress_pool": "pool_sm", "rpc_pool": "pool_sm"}],
              "providers": [
                {"name": "on_sm", "type": "m", "provider_id": 1, "engine": 0, "config": {}, "dependencies": {}},
                {"name": "on_tcp", "type": "m", "provider_id": 2, "engine": 1,
                 "dependencies": {"secondary_margo": 1, "my_pool": "pool_sm"}}]}"#,
    )
    .unwrap();
    assert_eq!(cfg.margo.len(), 2);
    assert_eq!(cfg.providers[1].engine, 1);
    assert_eq!(cfg.bedrock_pool_name().unwrap(), "pool_sm");
    let out = effective(&cfg);
    assert!(out["margo"].is_array());
    assert_eq!(out["margo"].as_array().unwrap().len(), 2);
    assert_eq!(out["margo"][1]["rpc_pool"], "pool_sm");
}

#[test]
fn engine_index_out_of_range() {
    assert_eq!(
        err_text(r#"{"providers": [{"name": "a", "type": "t", "engine": 1}]}"#),
        "Invalid engine index 1 (only 1 engines available)"
    );
    assert_eq!(
        err_text(r#"{"margo": [{}, {}], "providers": [{"name": "a", "type": "t", "engine": 2}]}"#),
        "Invalid engine index 2 (only 2 engines available)"
    );
    assert_eq!(
        err_text(r#"{"providers": [{"name": "a", "type": "t", "engine": -1}]}"#),
        "Error validating JSON (ProviderManager): At /engine of -1 - instance is below minimum of 0"
    );
}

#[test]
fn protocol_inference() {
    let addr = |text: &str| parse_text(text).unwrap().engine_address("", 0);
    assert_eq!(addr(r#"{"margo": {"mercury": {"address": "na+sm://0"}}}"#).unwrap(), "na+sm");
    for text in [
        "{}",
        r#"{"margo": {}}"#,
        r#"{"margo": {"mercury": {}}}"#,
        r#"{"margo": {"mercury": {"address": "nocolon"}}}"#,
        r#"{"margo": {"mercury": {"address": ":x"}}}"#,
    ] {
        assert_eq!(
            addr(text).unwrap_err().to_string(),
            "Could not infer protocol for engine 0: no address provided and no valid mercury.address found in configuration",
            "{text}"
        );
    }
    // A numeric address is rejected by the Margo section already.
    assert!(parse_text(r#"{"margo": {"mercury": {"address": 12345}}}"#).is_err());
    let cfg = parse_text("{}").unwrap();
    assert_eq!(cfg.engine_address("ofi+tcp", 0).unwrap(), "ofi+tcp");
    assert!(matches!(cfg.engine_address("na+sm", 3).unwrap_err(), BedrockError::EngineIndexOutOfRange { index: 3, count: 1 }));
}

// ----- provider entries -----

fn provider_err(entry: Value) -> String {
    ProviderSpec::from_value(&entry).unwrap_err().to_string()
}

#[test]
fn provider_schema_messages() {
    let p = "Error validating JSON (ProviderManager): ";
    assert_eq!(provider_err(json!([])), format!("{p}At  of [] - unexpected instance type"));
    assert_eq!(
        provider_err(json!({"type": "t"})),
        format!("{p}At  of {{\"type\":\"t\"}} - required property 'name' not found in object")
    );
    // 'name' is reported before 'type'.
    assert_eq!(provider_err(json!({})), format!("{p}At  of {{}} - required property 'name' not found in object"));
    assert_eq!(
        provider_err(json!({"name": "a b", "type": "t"})),
        format!("{p}At /name of \"a b\" - instance does not match regex pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$")
    );
    assert_eq!(
        provider_err(json!({"name": "1a", "type": "t"})),
        format!("{p}At /name of \"1a\" - instance does not match regex pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$")
    );
    assert_eq!(provider_err(json!({"name": null, "type": "t"})), format!("{p}At /name of null - unexpected instance type"));
    assert_eq!(
        provider_err(json!({"name": "a", "type": "t", "provider_id": 65536})),
        format!("{p}At /provider_id of 65536 - instance exceeds maximum of 65535")
    );
    assert_eq!(
        provider_err(json!({"name": "a", "type": "t", "provider_id": 1.0})),
        format!("{p}At /provider_id of 1.0 - unexpected instance type")
    );
    assert_eq!(
        provider_err(json!({"name": "a", "type": "t", "tags": ["x", 1]})),
        format!("{p}At /tags/1 of 1 - unexpected instance type")
    );
    assert_eq!(
        provider_err(json!({"name": "a", "type": "t", "tags": "x"})),
        format!("{p}At /tags of \"x\" - unexpected instance type")
    );
    assert_eq!(
        provider_err(json!({"name": "a", "type": "t", "dependencies": []})),
        format!("{p}At /dependencies of [] - unexpected instance type")
    );
    assert_eq!(
        provider_err(json!({"name": "a", "type": "t", "dependencies": {"ok": ["x", 1], "bad": true}})),
        format!(
                "{p}At /dependencies of {{\"bad\":true,\"ok\":[\"x\",1]}} - validation failed for additional property 'bad': \
                 no subschema has succeeded, but one of them is required to validate. Type: anyOf, number of failed subschemas: 3"
            )
    );
    assert!(provider_err(json!({"name": "a", "type": "t", "dependencies": {"d": ["x", {}]}})).contains("additional property 'd'"));
    assert_eq!(
        provider_err(json!({"name": "a", "type": "t", "engine": "0"})),
        format!("{p}At /engine of \"0\" - unexpected instance type")
    );
    // The first offending property in key order wins.
    assert_eq!(
        provider_err(json!({"name": 1, "type": 2, "config": 3})),
        format!("{p}At /config of 3 - unexpected instance type")
    );
}

#[test]
fn provider_entry_fields() {
    let spec = ProviderSpec::from_value(&json!({
        "name": "my_provider", "type": "module_a", "provider_id": 123, "tags": ["x"],
        "config": {"k": [1]}, "dependencies": {"pool": "__primary__"}, "engine": 0,
        "pool": "__primary__", "extra": {"ignored": true}
    }))
    .unwrap();
    assert_eq!(
        spec,
        ProviderSpec {
            name: "my_provider".into(),
            type_name: "module_a".into(),
            provider_id: Some(123),
            tags: vec!["x".into()],
            config: json!({"k": [1]}),
            dependencies: json!({"pool": "__primary__"}).as_object().unwrap().clone(),
            engine: 0,
        }
    );
    let spec = ProviderSpec::from_value(&json!({"name": "a", "type": "t", "provider_id": 65535})).unwrap();
    assert_eq!(spec.provider_id, None);
    assert_eq!(spec.requested_provider_id(), 65535);
    assert_eq!(spec.config, json!({}));
    assert!(spec.tags.is_empty() && spec.dependencies.is_empty());
    let spec = ProviderSpec::from_json_str(r#"{"name":"a","type":"t","provider_id":34,"pool":"p"}"#).unwrap();
    assert_eq!(spec.provider_id, Some(34));
    assert!(ProviderSpec::from_json_str("{").unwrap_err().to_string().starts_with("Error parsing JSON (ProviderManager): "));
}

#[test]
fn provider_ids() {
    assert_eq!(
        err_text(r#"{"providers": [{"name": "a", "type": "t", "provider_id": 0}]}"#),
        "Bedrock already uses provider ID 0"
    );
    assert_eq!(
        err_text(r#"{"bedrock": {"provider_id": 5}, "providers": [{"name": "a", "type": "t", "provider_id": 5}]}"#),
        "Bedrock already uses provider ID 5"
    );
    // Automatic ids skip Bedrock's own and those already taken.
    let cfg = parse_text(
        r#"{"providers": [{"name": "a", "type": "t", "provider_id": 2},
                              {"name": "b", "type": "t"},
                              {"name": "c", "type": "t", "provider_id": 65535},
                              {"name": "d", "type": "t"}]}"#,
    )
    .unwrap();
    let out = effective(&cfg);
    let ids: Vec<u64> = out["providers"].as_array().unwrap().iter().map(|p| p["provider_id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![2, 1, 3, 4]);
    // An explicit id may collide with an automatic one given earlier.
    assert_eq!(
        err_text(r#"{"providers": [{"name": "a", "type": "t"}, {"name": "b", "type": "t", "provider_id": 1}]}"#),
        "Another provider already uses provider ID 1"
    );
    // As upstream: with Bedrock on 65535, automatic ids are refused.
    assert_eq!(
        err_text(r#"{"bedrock": {"provider_id": 65535}, "providers": [{"name": "a", "type": "t"}]}"#),
        "Bedrock already uses provider ID 65535"
    );
    // The engine check comes before the Bedrock id check.
    assert_eq!(
        err_text(r#"{"providers": [{"name": "a", "type": "t", "provider_id": 0, "engine": 4}]}"#),
        "Invalid engine index 4 (only 1 engines available)"
    );
}

#[test]
fn auto_provider_id_rules() {
    assert_eq!(auto_provider_id(&[], 0), Some(1));
    assert_eq!(auto_provider_id(&[], 3), Some(0));
    assert_eq!(auto_provider_id(&[1, 2, 4], 0), Some(3));
    let all: Vec<u16> = (0..65533).collect();
    assert_eq!(auto_provider_id(&all, 65535), Some(65533));
    let all: Vec<u16> = (0..65534).collect();
    assert_eq!(auto_provider_id(&all, 65535), None);
    let existing: Vec<(&str, u16)> = all.iter().map(|id| ("other", *id)).collect();
    assert_eq!(check_new_provider("x", None, existing.iter().copied(), 65535).unwrap_err(), BedrockError::NoProviderIdAvailable);
}

#[test]
fn check_new_provider_order() {
    let existing = [("a", 1u16), ("b", 2u16)];
    assert_eq!(check_new_provider("c", Some(7), existing, 0).unwrap(), 7);
    assert_eq!(check_new_provider("c", None, existing, 0).unwrap(), 3);
    assert_eq!(check_new_provider("c", Some(65535), existing, 0).unwrap(), 3);
    // The name is checked before the id.
    assert_eq!(check_new_provider("a", Some(2), existing, 0).unwrap_err(), BedrockError::NameInUse("a".into()));
    assert_eq!(check_new_provider("c", Some(2), existing, 0).unwrap_err(), BedrockError::ProviderIdInUse(2));
}

// ----- effective configuration -----

#[test]
fn output_shape() {
    let libs = Libraries::from_value(Some(&json!(["./libModuleA.so"]))).unwrap();
    let report = ProviderReport {
        name: "my_provider".into(),
        type_name: "module_a".into(),
        provider_id: 123,
        engine: 0,
        config: json!({}),
        tags: vec![],
        dependencies: Map::new(),
    };
    let out = output_config(&[json!({"m": 1})], "__primary__", 0, &libs, &[report]);
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        r#"{"bedrock":{"pool":"__primary__","provider_id":0},"libraries":["./libModuleA.so"],"margo":{"m":1},"providers":[{"config":{},"dependencies":{},"engine":0,"name":"my_provider","provider_id":123,"tags":[],"type":"module_a"}]}"#
    );
    let out = output_config(&[json!({}), json!({})], "p", 9, &Libraries::default(), &[]);
    assert_eq!(out["margo"], json!([{}, {}]));
    assert_eq!(out["libraries"], json!([]));
    assert_eq!(out["bedrock"], json!({"pool": "p", "provider_id": 9}));
}

#[test]
fn reported_dependencies() {
    let pools = ["__primary__", "my_pool"];
    let none: [&str; 0] = [];
    let m = report_dependencies([
        ("pool", vec!["__primary__"], false),
        ("pools", pools.to_vec(), true),
        ("optional", none.to_vec(), false),
        ("remote", vec!["module_a:1@na+sm://1-2"], false),
    ]);
    assert_eq!(
        Value::Object(m),
        json!({"pool": "__primary__", "pools": ["__primary__", "my_pool"], "remote": "module_a:1@na+sm://1-2"})
    );
}
