use super::names::NameGenerator;
use super::*;
use serde_json::{json, Value};
use std::collections::HashSet;

fn rt() -> RuntimeInfo {
    RuntimeInfo { address: "na+sm://1234-0".into(), listening: true, version: "2.4.1".into() }
}

fn parse(v: Value) -> Result<MargoConfig, ConfigError> {
    MargoConfig::from_value(&v, &InitOverrides::default())
}

fn ok(v: Value) -> MargoConfig {
    match parse(v.clone()) {
        Ok(c) => c,
        Err(e) => panic!("config {v} rejected: {e}"),
    }
}

fn err(v: Value) -> ConfigError {
    match parse(v.clone()) {
        Ok(c) => panic!("config {v} accepted: {c:?}"),
        Err(e) => e,
    }
}

/// Output without the parts the spec's expected documents drop.
fn reported(cfg: &MargoConfig) -> Value {
    let mut out = cfg.to_json(&rt());
    if let Value::Object(m) = &mut out {
        m.remove("mercury");
        m.remove("version");
    }
    out
}

fn pool_names(cfg: &MargoConfig) -> Vec<&str> {
    cfg.pools.iter().map(|p| p.name.as_str()).collect()
}

fn xstream_names(cfg: &MargoConfig) -> Vec<&str> {
    cfg.xstreams.iter().map(|x| x.name.as_str()).collect()
}

/// (name, pool indices) of each xstream.
fn layout(cfg: &MargoConfig) -> Vec<(String, Vec<usize>)> {
    cfg.xstreams.iter().map(|x| (x.name.clone(), x.pools.clone())).collect()
}

fn roundtrip(cfg: &MargoConfig) {
    let out = cfg.to_json(&rt());
    let again = match MargoConfig::from_value(&out, &InitOverrides::default()) {
        Ok(c) => c,
        Err(e) => panic!("output {out} rejected: {e}"),
    };
    assert_eq!(again.to_json(&rt()), out);
}

// ---- spec examples ----------------------------------------------------

#[test]
fn spec_empty_config() {
    let expected: Value = serde_json::from_str(
        r#"{"argobots":{"abt_mem_max_num_stacks":8,"abt_thread_stacksize":2097152,"lazy_stack_alloc":false,
            "pools":[{"access":"mpmc","kind":"fifo_wait","name":"__primary__"}],"profiling_dir":".",
            "xstreams":[{"name":"__primary__","scheduler":{"pools":["__primary__"],"type":"basic_wait"}}]},
            "enable_abt_profiling":false,"handle_cache_size":32,"plumber":{"bucket_policy":"package","nic_policy":"roundrobin"},
            "progress_pool":"__primary__","progress_spindown_msec":10,"progress_timeout_ub_msec":100,"rpc_pool":"__primary__"}"#,
    )
    .unwrap();
    let cfg = ok(json!({}));
    assert_eq!(reported(&cfg), expected);
    assert_eq!(cfg, MargoConfig::default());
    // Keys come out sorted, as in the spec's compact dump.
    let text = serde_json::to_string(&reported(&cfg)).unwrap();
    assert!(text.starts_with(
        r#"{"argobots":{"abt_mem_max_num_stacks":8,"abt_thread_stacksize":2097152,"lazy_stack_alloc":false,"pools""#
    ));
    assert_eq!(text, serde_json::to_string(&expected).unwrap());
}

#[test]
fn spec_progress_thread_and_rpc_threads() {
    let expected = json!({
        "argobots": {
            "abt_mem_max_num_stacks": 8, "abt_thread_stacksize": 2097152, "lazy_stack_alloc": false,
            "pools": [
                {"access": "mpmc", "kind": "fifo_wait", "name": "__primary__"},
                {"access": "mpmc", "kind": "fifo_wait", "name": "__pool_1__"},
                {"access": "mpmc", "kind": "fifo_wait", "name": "__pool_2__"}
            ],
            "profiling_dir": ".",
            "xstreams": [
                {"name": "__primary__", "scheduler": {"pools": ["__primary__"], "type": "basic_wait"}},
                {"name": "__xstream_1__", "scheduler": {"pools": ["__pool_1__"], "type": "basic_wait"}},
                {"name": "__xstream_2__", "scheduler": {"pools": ["__pool_2__"], "type": "basic_wait"}},
                {"name": "__xstream_3__", "scheduler": {"pools": ["__pool_2__"], "type": "basic_wait"}}
            ]
        },
        "enable_abt_profiling": false, "handle_cache_size": 32,
        "plumber": {"bucket_policy": "package", "nic_policy": "roundrobin"},
        "progress_pool": "__pool_1__", "progress_spindown_msec": 10, "progress_timeout_ub_msec": 100,
        "rpc_pool": "__pool_2__"
    });
    let cfg = ok(json!({"use_progress_thread": true, "rpc_thread_count": 2}));
    assert_eq!(reported(&cfg), expected);
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 2));
    roundtrip(&cfg);
}

#[test]
fn empty_text_and_null_mean_defaults() {
    let none = InitOverrides::default();
    for text in ["", "   \n\t", "{}", "null"] {
        assert_eq!(MargoConfig::from_json_str(text, &none).unwrap(), MargoConfig::default(), "{text:?}");
    }
}

#[test]
fn two_user_pools_without_progress_thread() {
    let cfg = ok(json!({
        "use_progress_thread": false,
        "argobots": {"pools": [{"name": "my_pool_1", "kind": "fifo_wait", "access": "mpmc"},
                               {"name": "my_pool_2", "kind": "fifo", "access": "spmc"}]}
    }));
    assert_eq!(pool_names(&cfg), ["my_pool_1", "my_pool_2", "__primary__"]);
    assert_eq!(cfg.pool_index(&json!(0)), Some(0));
    assert_eq!(cfg.pool_index(&json!("my_pool_2")), Some(1));
    assert_eq!(cfg.pools[1].kind, PoolKind::Fifo);
    assert_eq!(cfg.pools[1].access, PoolAccess::Spmc);
    assert_eq!(layout(&cfg), [("__primary__".to_string(), vec![2])]);
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (2, 2));
    assert_eq!(cfg.to_json(&rt())["rpc_pool"], json!("__primary__"));
    // Unused pools are legal; upstream only warns.
    let warnings = cfg.sanity_warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("my_pool_1") && warnings[0].contains("not used"));
    roundtrip(&cfg);
}

// ---- resolution rules (upstream unit-test scenarios) ------------------

#[test]
fn thread_count_combinations() {
    // (use_progress_thread, rpc_thread_count, pools, xstream layout, progress, rpc)
    let cases: Vec<(Value, usize, Vec<usize>, usize, usize)> = vec![
        (json!({"use_progress_thread": true}), 2, vec![0, 1], 1, 0),
        (json!({"use_progress_thread": false}), 1, vec![0], 0, 0),
        (json!({"rpc_thread_count": -1}), 1, vec![0], 0, 0),
        (json!({"rpc_thread_count": 0}), 1, vec![0], 0, 0),
        (json!({"rpc_thread_count": 1}), 2, vec![0, 1], 0, 1),
        (json!({"rpc_thread_count": 2}), 2, vec![0, 1, 1], 0, 1),
        (json!({"rpc_thread_count": -1, "use_progress_thread": true}), 2, vec![0, 1], 1, 1),
        (json!({"rpc_thread_count": 0, "use_progress_thread": true}), 2, vec![0, 1], 1, 0),
        (json!({"rpc_thread_count": 1, "use_progress_thread": true}), 3, vec![0, 1, 2], 1, 2),
    ];
    for (input, npools, xpools, progress, rpc) in cases {
        let cfg = ok(input.clone());
        assert_eq!(cfg.pools.len(), npools, "{input}");
        let first_pools: Vec<usize> = cfg.xstreams.iter().map(|x| x.pools[0]).collect();
        assert_eq!(first_pools, xpools, "{input}");
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (progress, rpc), "{input}");
        for (i, x) in cfg.xstreams.iter().enumerate().skip(1) {
            assert_eq!(x.name, format!("__xstream_{i}__"));
        }
        roundtrip(&cfg);
    }
}

#[test]
fn init_overrides_replace_json_keys() {
    // margo_init(addr, mode, true, 2)
    let o = InitOverrides { use_progress_thread: Some(true), rpc_thread_count: Some(2) };
    let cfg = MargoConfig::from_json_str("", &o).unwrap();
    assert_eq!(pool_names(&cfg), ["__primary__", "__pool_1__", "__pool_2__"]);
    assert_eq!(cfg.xstreams.len(), 4);
    // An override replaces the key, so a bad JSON value under it is moot.
    let o = InitOverrides { use_progress_thread: Some(false), rpc_thread_count: Some(0) };
    let cfg = MargoConfig::from_value(&json!({"use_progress_thread": "XXX", "rpc_thread_count": 5}), &o).unwrap();
    assert_eq!(cfg, MargoConfig::default());
    // Without overrides the JSON keys apply.
    let cfg = MargoConfig::from_value(&json!({"rpc_thread_count": 1}), &InitOverrides::default()).unwrap();
    assert_eq!(cfg.rpc_pool, 1);
    // A partial override leaves the other key to the JSON.
    let o = InitOverrides { use_progress_thread: Some(true), rpc_thread_count: None };
    let cfg = MargoConfig::from_value(&json!({"rpc_thread_count": -1}), &o).unwrap();
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 1));
}

#[test]
fn all_pool_kinds_and_access_modes() {
    let cfg = ok(json!({"argobots": {"pools": [
        {"name": "a", "kind": "fifo", "access": "private"},
        {"name": "b", "kind": "fifo_wait", "access": "mpmc"},
        {"name": "c", "kind": "prio_wait", "access": "spsc"},
        {"name": "d", "kind": "earliest_first", "access": "mpsc"},
        {"name": "e", "kind": "fifo", "access": "spmc"},
        {"name": "f"}
    ]}}));
    let kinds: Vec<&str> = cfg.pools.iter().map(|p| p.kind.as_str()).collect();
    let access: Vec<&str> = cfg.pools.iter().map(|p| p.access.as_str()).collect();
    assert_eq!(kinds, ["fifo", "fifo_wait", "prio_wait", "earliest_first", "fifo", "fifo_wait", "fifo_wait"]);
    assert_eq!(access, ["private", "mpmc", "spsc", "mpsc", "spmc", "mpmc", "mpmc"]);
    assert_eq!(cfg.progress_pool, 6);
    // Index-based output, as margo_get_config without USE_NAMES.
    let out = cfg.to_json_opt(&rt(), false);
    assert_eq!(out["progress_pool"], json!(6));
    assert_eq!(out["argobots"]["xstreams"][0]["scheduler"]["pools"], json!([6]));
    roundtrip(&cfg);
}

#[test]
fn generated_names_and_unnamed_entries() {
    let cfg = ok(json!({"argobots": {
        "pools": [{}, null, {"name": "x"}],
        "xstreams": [{"cpubind": 0, "scheduler": {"pools": [0]}},
                     {"affinity": [0, 1], "scheduler": {"pools": [1, "x"], "type": "basic"}}]
    }}));
    assert_eq!(pool_names(&cfg), ["__pool_0__", "__pool_1__", "x", "__primary__"]);
    assert_eq!(xstream_names(&cfg), ["__xstream_0__", "__xstream_1__", "__primary__"]);
    assert_eq!(cfg.xstreams[1].pools, [1, 2]);
    assert_eq!(cfg.xstreams[1].scheduler, SchedulerType::Basic);
    let out = cfg.to_json(&rt());
    let xs = &out["argobots"]["xstreams"];
    assert_eq!(
        xs[0],
        json!({"cpubind": 0, "name": "__xstream_0__",
                                 "scheduler": {"pools": ["__pool_0__"], "type": "basic_wait"}})
    );
    assert_eq!(xs[1]["affinity"], json!([0, 1]));
    assert!(xs[1].get("cpubind").is_none());
    assert!(xs[2].get("cpubind").is_none() && xs[2].get("affinity").is_none());
    roundtrip(&cfg);
}

#[test]
fn name_generator_matches_upstreams_rule() {
    // The rule, written the slow way: from the element's index up to
    // the first name not taken before.
    fn reference(taken: &[&str], indices: &[usize]) -> Vec<String> {
        let mut taken: Vec<String> = taken.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        for &i in indices {
            let name = (i..).map(|n| format!("__x_{n}__")).find(|c| !taken.contains(c)).unwrap();
            taken.push(name.clone());
            out.push(name);
        }
        out
    }
    let cases: [(&[&str], &[usize]); 5] = [
        (&[], &[0, 1, 2]),
        (&["__x_0__", "__x_1__", "__x_5__"], &[0, 1, 2, 3, 4]),
        (&["__x_3__", "__x_4__"], &[3, 3, 3, 7]),
        (&["__x_2__", "other"], &[0, 5, 6]),
        (&["__x_10__", "__x_11__", "__x_12__"], &[1, 9, 10, 11, 12, 13]),
    ];
    for (taken, indices) in cases {
        let mut generator = NameGenerator::new("x", taken.iter().copied());
        let got: Vec<String> = indices.iter().map(|&i| generator.name_for(i)).collect();
        assert_eq!(got, reference(taken, indices), "taken {taken:?}, indices {indices:?}");
    }
}

#[test]
fn many_generated_names_are_unique() {
    // 50 000 unnamed pools: naming them scanned every name per
    // candidate before (quadratic: seconds); now one set look-up each.
    let pools: Vec<Value> = (0..50_000).map(|_| json!({})).collect();
    let cfg = ok(json!({"argobots": {"pools": pools}, "rpc_thread_count": MAX_XSTREAMS}));
    let names: HashSet<&str> = pool_names(&cfg).into_iter().collect();
    assert_eq!(names.len(), 50_000 + 2);
    assert_eq!(cfg.pools[49_999].name, "__pool_49999__");
    // __primary__ then the generated ones, each name once.
    assert_eq!(cfg.xstreams.len(), MAX_XSTREAMS + 1);
    let xs: HashSet<&str> = xstream_names(&cfg).into_iter().collect();
    assert_eq!(xs.len(), MAX_XSTREAMS + 1);
    assert_eq!(cfg.xstreams[MAX_XSTREAMS].name, format!("__xstream_{MAX_XSTREAMS}__"));
}

#[test]
fn an_engine_starts_at_most_max_xstreams_threads() {
    let msg = |v: Value| err(v).to_string();
    // The fuzzer's value fails at once, naming the field.
    assert_eq!(msg(json!({"rpc_thread_count": 65536})), "margo.rpc_thread_count: 65536 is out of range (expected at most 1024)");
    assert_eq!(msg(json!({"rpc_thread_count": 1025})), "margo.rpc_thread_count: 1025 is out of range (expected at most 1024)");
    // Generated threads count with the declared ones; __primary__
    // (the caller's thread) does not.
    assert_eq!(
        msg(json!({"rpc_thread_count": 1024, "use_progress_thread": true})),
        "margo.rpc_thread_count: 1024 is out of range (expected at most 1023: with 1 other xstreams \
             this engine would start more than 1024 threads)"
    );
    let declared =
        |n: usize| -> Vec<Value> { (0..n).map(|i| json!({"name": format!("es{i}"), "scheduler": {"pools": [0]}})).collect() };
    let pools = json!([{"name": "p"}]);
    ok(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS)}}));
    ok(json!({"argobots": {"pools": pools, "xstreams": declared(1000)}, "rpc_thread_count": 24}));
    assert_eq!(
        msg(json!({"argobots": {"pools": pools, "xstreams": declared(1000)}, "rpc_thread_count": 25})),
        "margo.rpc_thread_count: 25 is out of range (expected at most 24: with 1000 other xstreams \
             this engine would start more than 1024 threads)"
    );
    assert_eq!(
        msg(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS)}, "use_progress_thread": true})),
        "margo.use_progress_thread: true is out of range (expected false: with 1024 other xstreams \
             this engine would start more than 1024 threads)"
    );
    assert_eq!(
        msg(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS + 1)}})),
        "margo.argobots.xstreams: 1025 entries is out of range (expected at most 1024 xstreams besides __primary__)"
    );
    assert_eq!(
        msg(json!({"argobots": {"pools": pools, "xstreams": declared(100_000)}})),
        "margo.argobots.xstreams: 100000 entries is out of range (expected at most 1024 xstreams besides __primary__)"
    );
    // At run time too.
    let mut cfg = ok(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS - 1)}}));
    cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["p"]}})).unwrap();
    assert_eq!(
        cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["p"]}})).unwrap_err().to_string(),
        "xstream: this engine already runs 1024 xstreams besides __primary__, the most it accepts"
    );
}

#[test]
fn generated_names_skip_names_declared_later() {
    let cfg = ok(json!({"argobots": {
        "pools": [{}, {"name": "__pool_0__"}],
        "xstreams": [{"scheduler": {"pools": [0]}}, {"name": "__xstream_0__", "scheduler": {"pools": [1]}}]
    }}));
    assert_eq!(pool_names(&cfg), ["__pool_1__", "__pool_0__", "__primary__"]);
    assert_eq!(xstream_names(&cfg), ["__xstream_1__", "__xstream_0__", "__primary__"]);
    // With use_progress_thread the generated pool skips taken names too.
    let cfg = ok(json!({"use_progress_thread": true, "argobots": {"pools": [{"name": "__pool_2__"}]}}));
    assert_eq!(pool_names(&cfg), ["__pool_2__", "__primary__", "__pool_3__"]);
    assert_eq!(cfg.progress_pool, 2);
}

#[test]
fn explicit_progress_and_rpc_pools() {
    let base = json!({"pools": [{"name": "my_pool"}], "xstreams": [{"scheduler": {"pools": ["my_pool"]}}]});
    let cfg = ok(json!({"argobots": base, "progress_pool": "my_pool"}));
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (0, 1));
    let cfg = ok(json!({"argobots": base, "rpc_pool": 0, "rpc_thread_count": 4}));
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 0));
    assert_eq!(cfg.xstreams.len(), 2, "rpc_thread_count is ignored when rpc_pool is given");
    let cfg = ok(json!({"argobots": base, "progress_pool": 0, "use_progress_thread": true}));
    assert_eq!(cfg.pools.len(), 2, "use_progress_thread is ignored when progress_pool is given");
    let cfg = ok(json!({"argobots": base, "progress_pool": "__primary__", "rpc_pool": "__primary__"}));
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 1));
    // rpc_thread_count < 0 follows an explicit progress pool.
    let cfg = ok(json!({"argobots": base, "progress_pool": "my_pool", "rpc_thread_count": -3}));
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (0, 0));
    roundtrip(&cfg);
}

#[test]
fn primary_pool_and_xstream_rules() {
    // A user-defined __primary__ pool is used by the generated xstream.
    let cfg = ok(json!({"argobots": {"pools": [{"name": "p"}, {"name": "__primary__", "kind": "fifo"}]}}));
    assert_eq!(pool_names(&cfg), ["p", "__primary__"]);
    assert_eq!(layout(&cfg), [("__primary__".to_string(), vec![1])]);
    assert_eq!(cfg.pools[1].kind, PoolKind::Fifo);
    // A user-defined __primary__ xstream with the __primary__ pool first.
    let cfg = ok(json!({"argobots": {
            "pools": [{"name": "p1"}, {"name": "__primary__"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["__primary__", "p1"]}}]}}));
    assert_eq!(pool_names(&cfg), ["p1", "__primary__"]);
    assert_eq!(layout(&cfg), [("__primary__".to_string(), vec![1, 0])]);
    assert_eq!(cfg.progress_pool, 1);
    roundtrip(&cfg);
    // ...but not when another pool comes first or no __primary__ pool exists.
    let e = err(json!({"argobots": {
            "pools": [{"name": "p1"}, {"name": "__primary__"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["p1", "__primary__"]}}]}}));
    assert_eq!(e.path(), Some("margo.argobots.xstreams[0].scheduler.pools"));
    let e = err(json!({"argobots": {
            "pools": [{"name": "p1"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["p1"]}}]}}));
    assert!(e.to_string().contains("must be the pool named \"__primary__\""), "{e}");
    // Xstreams cannot name the implicit __primary__ pool.
    let e = err(json!({"argobots": {"xstreams": [{"scheduler": {"pools": ["__primary__"]}}]}}));
    assert!(matches!(e, ConfigError::UnknownPool { .. }), "{e}");
}

#[test]
fn settings_and_mercury_are_reported() {
    let cfg = ok(json!({
        "mercury": {"address": "na+sm", "version": "9.9.9", "auto_sm": true, "ip_subnet": "10.0.0.0/8",
                    "max_contexts": 4, "checksum_level": "rpc_headers", "not_a_mercury_key": 1, "stats": null},
        "argobots": {"abt_mem_max_num_stacks": 12, "abt_thread_stacksize": 4000000, "profiling_dir": "/tmp",
                     "lazy_stack_alloc": true},
        "progress_timeout_ub_msec": 5, "progress_spindown_msec": 0, "handle_cache_size": 64,
        "enable_abt_profiling": true, "plumber": {"nic_policy": "random"},
        "monitoring": {"config": {"sampling": 3}},
        "some_unknown_key": [1, 2, 3]
    }));
    assert!(!cfg.mercury.contains_key("version") && !cfg.mercury.contains_key("stats"));
    assert_eq!(cfg.mercury["not_a_mercury_key"], json!(1));
    let out = cfg.to_json(&rt());
    assert_eq!(out["version"], json!(MARGO_VERSION));
    assert_eq!(out["progress_timeout_ub_msec"], json!(5));
    assert_eq!(out["progress_spindown_msec"], json!(0));
    assert_eq!(out["handle_cache_size"], json!(64));
    assert_eq!(out["enable_abt_profiling"], json!(true));
    assert_eq!(out["plumber"], json!({"bucket_policy": "package", "nic_policy": "random"}));
    assert_eq!(out["monitoring"], json!({"config": {"sampling": 3}}));
    assert_eq!(out["argobots"]["abt_mem_max_num_stacks"], json!(12));
    assert_eq!(out["argobots"]["abt_thread_stacksize"], json!(4000000));
    assert_eq!(out["argobots"]["profiling_dir"], json!("/tmp"));
    assert_eq!(out["argobots"]["lazy_stack_alloc"], json!(false), "reported from the runtime, not the input");
    let hg = &out["mercury"];
    assert_eq!(hg["address"], json!("na+sm://1234-0"));
    assert_eq!(hg["listening"], json!(true));
    assert_eq!(hg["version"], json!("2.4.1"));
    assert_eq!(hg["auto_sm"], json!(true));
    assert_eq!(hg["ip_subnet"], json!("10.0.0.0/8"));
    assert_eq!(hg["max_contexts"], json!(4));
    assert_eq!(hg["checksum_level"], json!("rpc_headers"));
    assert_eq!(hg["stats"], json!(false));
    assert_eq!(hg["request_post_init"], json!(256));
    assert_eq!(hg["log_level"], json!("warning"));
    assert_eq!(hg["na_addr_format"], json!("unspec"));
    assert!(hg.get("not_a_mercury_key").is_none());
    assert!(hg.get("auth_key").is_none());
    assert!(out.get("some_unknown_key").is_none());
    roundtrip(&cfg);
    // Without monitoring the key is absent.
    assert!(ok(json!({})).to_json(&rt()).get("monitoring").is_none());
}

#[test]
fn roundtrip_various() {
    for input in [
        json!({}),
        json!({"use_progress_thread": true, "rpc_thread_count": 3}),
        json!({"rpc_thread_count": -1, "use_progress_thread": true}),
        json!({"argobots": {"pools": [{"name": "a", "kind": "prio_wait"}, {"access": "spsc"}],
                                "xstreams": [{"name": "es", "cpubind": 3, "affinity": [3, 4],
                                              "scheduler": {"type": "prio", "pools": ["a", 1]}}]},
                   "progress_pool": 1, "rpc_pool": "a"}),
    ] {
        roundtrip(&ok(input));
    }
}

// ---- run-time changes --------------------------------------------------

#[test]
fn add_and_remove_pools() {
    let mut cfg = MargoConfig::default();
    assert_eq!(cfg.add_pool_from_json(&json!({"name": "my_pool1"})).unwrap(), 1);
    assert_eq!(cfg.add_pool_from_json(&json!({"kind": "prio_wait", "access": "spmc"})).unwrap(), 2);
    assert_eq!(cfg.add_pool_from_json(&Value::Null).unwrap(), 3);
    assert_eq!(pool_names(&cfg), ["__primary__", "my_pool1", "__pool_2__", "__pool_3__"]);
    assert_eq!(cfg.pools[2].kind, PoolKind::PrioWait);
    let names: Vec<Value> =
        cfg.to_json(&rt())["argobots"]["pools"].as_array().unwrap().iter().map(|p| p["name"].clone()).collect();
    assert_eq!(names, [json!("__primary__"), json!("my_pool1"), json!("__pool_2__"), json!("__pool_3__")]);

    // Errors: duplicate, reserved, invalid JSON shapes.
    assert!(matches!(cfg.add_pool_from_json(&json!({"name": "my_pool1"})), Err(ConfigError::DuplicateName { .. })));
    assert!(cfg.add_pool_from_json(&json!({"name": "__primary__"})).is_err());
    assert_eq!(cfg.add_pool_from_json(&json!(1234)).unwrap_err().to_string(), "pool: expected object, found integer");
    assert_eq!(
        cfg.add_pool_from_json(&json!({"kind": "foo"})).unwrap_err().to_string(),
        r#"pool.kind: "foo" is not one of fifo, fifo_wait, prio_wait, earliest_first, external"#
    );
    assert_eq!(cfg.pools.len(), 4, "failed additions leave no trace");

    // Removal swaps the last pool into the freed slot.
    cfg.remove_pool("my_pool1").unwrap();
    assert_eq!(pool_names(&cfg), ["__primary__", "__pool_3__", "__pool_2__"]);
    assert!(matches!(cfg.remove_pool("my_pool1"), Err(ConfigError::NotFound { .. })));
    assert!(matches!(cfg.remove_pool("__primary__"), Err(ConfigError::CannotRemove { .. })));
    // A freshly generated name starts at the current length.
    assert_eq!(cfg.add_pool_from_json(&json!({})).unwrap(), 3);
    assert_eq!(cfg.pools[3].name, "__pool_4__");
}

#[test]
fn remove_pool_fixes_indices() {
    let mut cfg = ok(json!({"use_progress_thread": true, "rpc_thread_count": 1,
                                "argobots": {"pools": [{"name": "spare"}]}}));
    assert_eq!(pool_names(&cfg), ["spare", "__primary__", "__pool_2__", "__pool_3__"]);
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (2, 3));
    assert!(cfg.remove_pool("__pool_2__").unwrap_err().to_string().contains("progress pool"));
    assert!(cfg.remove_pool("__pool_3__").unwrap_err().to_string().contains("RPC handler pool"));
    cfg.remove_pool("spare").unwrap();
    assert_eq!(pool_names(&cfg), ["__pool_3__", "__primary__", "__pool_2__"]);
    assert_eq!((cfg.progress_pool, cfg.rpc_pool), (2, 0));
    assert_eq!(
        layout(&cfg),
        [("__primary__".to_string(), vec![1]), ("__xstream_1__".to_string(), vec![2]), ("__xstream_2__".to_string(), vec![0]),]
    );
    let out = cfg.to_json(&rt());
    assert_eq!(out["rpc_pool"], json!("__pool_3__"));
    assert_eq!(out["argobots"]["xstreams"][2]["scheduler"]["pools"], json!(["__pool_3__"]));
    roundtrip(&cfg);
}

#[test]
fn add_and_remove_xstreams() {
    let mut cfg = MargoConfig::default();
    cfg.add_pool_from_json(&json!({"name": "p"})).unwrap();
    let i = cfg.add_xstream_from_json(&json!({"name": "my_es1", "scheduler": {"pools": [0], "type": "basic_wait"}})).unwrap();
    assert_eq!(i, 1);
    let i = cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["p", "__primary__"]}, "cpubind": 2})).unwrap();
    assert_eq!(i, 2);
    assert_eq!(xstream_names(&cfg), ["__primary__", "my_es1", "__xstream_2__"]);
    assert_eq!(cfg.xstreams[2].pools, [1, 0]);
    assert_eq!(cfg.xstreams[2].cpubind, Some(2));
    // Now pool "p" is in use.
    assert!(cfg.remove_pool("p").unwrap_err().to_string().contains("__xstream_2__"));

    let e = cfg.add_xstream_from_json(&json!({"name": "my_es1", "scheduler": {"pools": [0]}})).unwrap_err();
    assert!(matches!(e, ConfigError::DuplicateName { .. }), "{e}");
    let e = cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["nope"]}})).unwrap_err();
    assert_eq!(e.to_string(), r#"xstream.scheduler.pools[0]: there is no pool named "nope""#);
    let e = cfg.add_xstream_from_json(&json!({"scheduler": {"pools": [2]}})).unwrap_err();
    assert_eq!(e.to_string(), "xstream.scheduler.pools[0]: pool index 2 is out of range (2 pools available)");
    assert!(cfg.add_xstream_from_json(&json!({"name": "__primary__", "scheduler": {"pools": [0]}})).is_err());
    assert!(cfg.add_xstream_from_json(&json!({"name": "x"})).is_err());
    assert!(cfg.add_xstream_from_json(&json!("1234")).is_err());
    assert_eq!(cfg.xstreams.len(), 3);

    assert!(matches!(cfg.remove_xstream("__primary__"), Err(ConfigError::CannotRemove { .. })));
    assert!(matches!(cfg.remove_xstream("nope"), Err(ConfigError::NotFound { .. })));
    cfg.remove_xstream("my_es1").unwrap();
    assert_eq!(xstream_names(&cfg), ["__primary__", "__xstream_2__"]);
    cfg.remove_xstream("__xstream_2__").unwrap();
    cfg.remove_pool("p").unwrap();
    assert_eq!(cfg, MargoConfig::default());
}

#[test]
fn pool_lookup() {
    let cfg = ok(json!({"argobots": {"pools": [{"name": "a"}]}}));
    assert_eq!(cfg.pool_index(&json!("a")), Some(0));
    assert_eq!(cfg.pool_index(&json!("__primary__")), Some(1));
    assert_eq!(cfg.pool_index(&json!(1)), Some(1));
    assert_eq!(cfg.pool_index(&json!(2)), None);
    assert_eq!(cfg.pool_index(&json!(-1)), None);
    assert_eq!(cfg.pool_index(&json!(1.0)), None);
    assert_eq!(cfg.pool_index(&json!("b")), None);
    assert_eq!(cfg.pool_by_name("a"), Some(0));
    assert_eq!(cfg.xstream_by_name("__primary__"), Some(0));
}

#[test]
fn child_engine_shares_parent_pools() {
    let parent = ok(json!({"argobots": {"pools": [{"name": "my_pool"}],
                                            "xstreams": [{"scheduler": {"pools": ["my_pool"]}}]}}));
    let child = MargoConfig::from_value_with_parent(&json!({"rpc_pool": "my_pool"}), &parent, "margo[1]").unwrap();
    assert_eq!(child.pools, parent.pools);
    assert_eq!(child.xstreams, parent.xstreams);
    assert_eq!((child.progress_pool, child.rpc_pool), (1, 0));
    let child = MargoConfig::from_value_with_parent(&Value::Null, &parent, "margo[1]").unwrap();
    assert_eq!((child.progress_pool, child.rpc_pool), (1, 1));
    for bad in [json!({"argobots": {}}), json!({"use_progress_thread": false}), json!({"rpc_thread_count": 0})] {
        let e = MargoConfig::from_value_with_parent(&bad, &parent, "margo[1]").unwrap_err();
        assert!(e.path().unwrap_or("").starts_with("margo[1]."), "{e}");
    }
    let e = MargoConfig::from_value_with_parent(&json!({"progress_pool": 7}), &parent, "margo[1]").unwrap_err();
    assert_eq!(e.to_string(), "margo[1].progress_pool: pool index 7 is out of range (2 pools available)");
}

#[test]
fn syntax_errors_report_position() {
    let e = MargoConfig::from_json_str("{\n  \"argobots\": {[\n}", &InitOverrides::default()).unwrap_err();
    match &e {
        ConfigError::Syntax { line, column, .. } => assert_eq!((*line, *column), (2, 16)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.to_string().starts_with("JSON syntax error at line 2, column 16: "), "{e}");
    assert!(matches!(MargoConfig::from_json_str("{} x", &InitOverrides::default()), Err(ConfigError::Syntax { .. })));
}

// ---- validation errors -------------------------------------------------

#[test]
fn validation_errors() {
    let cases: Vec<(Value, &str)> = vec![
            // Root and sections.
            (json!([1]), "margo: expected object, found array"),
            (json!("x"), "margo: expected object, found string"),
            (json!({"mercury": 1}), "margo.mercury: expected object, found integer"),
            (json!({"argobots": true}), "margo.argobots: expected object, found boolean"),
            (json!({"plumber": "x"}), "margo.plumber: expected object, found string"),
            (json!({"plumber": {"nic_policy": 3}}), "margo.plumber.nic_policy: expected string, found integer"),
            (json!({"plumber": {"bucket_policy": false}}), "margo.plumber.bucket_policy: expected string, found boolean"),
            // Mercury options.
            (json!({"mercury": {"address": 12345}}), "margo.mercury.address: expected string, found integer"),
            (json!({"mercury": {"listening": "yes"}}), "margo.mercury.listening: expected boolean, found string"),
            (json!({"mercury": {"auto_sm": 1}}), "margo.mercury.auto_sm: expected boolean, found integer"),
            (json!({"mercury": {"request_post_init": "256"}}), "margo.mercury.request_post_init: expected integer, found string"),
            (json!({"mercury": {"max_contexts": 1.5}}), "margo.mercury.max_contexts: expected integer, found number"),
            (json!({"mercury": {"request_post_incr": -1}}), "margo.mercury.request_post_incr: -1 is out of range (expected a non-negative integer)"),
            (json!({"mercury": {"checksum_level": "all"}}), r#"margo.mercury.checksum_level: "all" is not one of none, rpc_headers, rpc_payload"#),
            (json!({"mercury": {"na_addr_format": 4}}), "margo.mercury.na_addr_format: expected string, found integer"),
            (json!({"mercury": {"version": 2}}), "margo.mercury.version: expected string, found integer"),
            // Argobots scalars.
            (json!({"argobots": {"abt_mem_max_num_stacks": true}}), "margo.argobots.abt_mem_max_num_stacks: expected integer, found boolean"),
            (json!({"argobots": {"abt_thread_stacksize": "2M"}}), "margo.argobots.abt_thread_stacksize: expected integer, found string"),
            (json!({"argobots": {"abt_thread_stacksize": -1}}), "margo.argobots.abt_thread_stacksize: -1 is out of range (expected an integer between 0 and 2147483647)"),
            (json!({"argobots": {"profiling_dir": 1}}), "margo.argobots.profiling_dir: expected string, found integer"),
            // Pools.
            (json!({"argobots": {"pools": true}}), "margo.argobots.pools: expected array, found boolean"),
            (json!({"argobots": {"pools": {}}}), "margo.argobots.pools: expected array, found object"),
            (json!({"argobots": {"pools": [true]}}), "margo.argobots.pools[0]: expected object, found boolean"),
            (json!({"argobots": {"pools": [{}, {"kind": 1}]}}), "margo.argobots.pools[1].kind: expected string, found integer"),
            (json!({"argobots": {"pools": [{}, {"kind": "foo"}]}}), r#"margo.argobots.pools[1].kind: "foo" is not one of fifo, fifo_wait, prio_wait, earliest_first, external"#),
            (json!({"argobots": {"pools": [{"kind": "randws"}]}}), r#"margo.argobots.pools[0].kind: "randws" is not one of fifo, fifo_wait, prio_wait, earliest_first, external"#),
            (json!({"argobots": {"pools": [{"kind": "external"}]}}), "margo.argobots.pools[0].kind: external pools are registered by the program and cannot be created from a configuration"),
            (json!({"argobots": {"pools": [{"access": true}]}}), "margo.argobots.pools[0].access: expected string, found boolean"),
            (json!({"argobots": {"pools": [{"access": "XXX"}]}}), r#"margo.argobots.pools[0].access: "XXX" is not one of private, spsc, mpsc, spmc, mpmc"#),
            (json!({"argobots": {"pools": [{"name": true}]}}), "margo.argobots.pools[0].name: expected string, found boolean"),
            (json!({"argobots": {"pools": [{"name": ""}]}}), r#"margo.argobots.pools[0].name: invalid name "": names must not be empty"#),
            (json!({"argobots": {"pools": [{"name": "2mypool"}]}}), r#"margo.argobots.pools[0].name: invalid name "2mypool": names must not start with a digit"#),
            (json!({"argobots": {"pools": [{"name": "$%^"}]}}), r#"margo.argobots.pools[0].name: invalid name "$%^": invalid character '$' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{"name": "my pool"}]}}), r#"margo.argobots.pools[0].name: invalid name "my pool": invalid character ' ' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{"name": "pé"}]}}), r#"margo.argobots.pools[0].name: invalid name "pé": invalid character 'é' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{"name": "my_pool"}, {"name": "my_pool"}]}}), r#"margo.argobots.pools[1].name: name "my_pool" is already used"#),
            // Xstreams.
            (json!({"argobots": {"xstreams": true}}), "margo.argobots.xstreams: expected array, found boolean"),
            (json!({"argobots": {"xstreams": [true]}}), "margo.argobots.xstreams[0]: expected object, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": true, "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].name: expected string, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "%&*(", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[0].name: invalid name "%&*(": invalid character '%' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "2myes", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[0].name: invalid name "2myes": names must not start with a digit"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[0].name: invalid name "": names must not be empty"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "my_es", "scheduler": {"pools": [0]}}, {"name": "my_es", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[1].name: name "my_es" is already used"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"cpubind": true, "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].cpubind: expected integer, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"affinity": true, "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].affinity: expected array, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"affinity": [0, true], "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].affinity[1]: expected integer, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{}]}}), "margo.argobots.xstreams[0].scheduler: missing (an xstream needs a scheduler with at least one pool)"),
            (json!({"argobots": {"xstreams": [{"name": "__primary__"}]}}), "margo.argobots.xstreams[0].scheduler: missing (an xstream needs a scheduler with at least one pool)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": true}]}}), "margo.argobots.xstreams[0].scheduler: expected object, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"type": true, "pools": [0]}}]}}), "margo.argobots.xstreams[0].scheduler.type: expected string, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"type": "XXX", "pools": [0]}}]}}), r#"margo.argobots.xstreams[0].scheduler.type: "XXX" is not one of default, basic, prio, randws, basic_wait"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": true}}]}}), "margo.argobots.xstreams[0].scheduler.pools: expected array, found boolean"),
            (json!({"argobots": {"xstreams": [{"scheduler": {"pools": []}}]}}), "margo.argobots.xstreams[0].scheduler.pools: a scheduler needs at least one pool"),
            (json!({"argobots": {"xstreams": [{"name": "__primary__", "scheduler": {"pools": []}}]}}), "margo.argobots.xstreams[0].scheduler.pools: a scheduler needs at least one pool"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [true]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: expected integer or string, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [0.0]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: expected integer or string, found number"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [42]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: pool index 42 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [-1]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: pool index -1 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [0, "XXX"]}}]}}), r#"margo.argobots.xstreams[0].scheduler.pools[1]: there is no pool named "XXX""#),
            // A generated name cannot be referenced (upstream checks names in the input).
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": ["__pool_0__"]}}]}}), r#"margo.argobots.xstreams[0].scheduler.pools[0]: there is no pool named "__pool_0__""#),
            // Top-level scalars.
            (json!({"progress_spindown_msec": -1}), "margo.progress_spindown_msec: -1 is out of range (expected an integer between 0 and 2147483647)"),
            (json!({"progress_timeout_ub_msec": "100"}), "margo.progress_timeout_ub_msec: expected integer, found string"),
            (json!({"handle_cache_size": 1.5}), "margo.handle_cache_size: expected integer, found number"),
            (json!({"handle_cache_size": 4294967296u64}), "margo.handle_cache_size: 4294967296 is out of range (expected an integer between 0 and 2147483647)"),
            (json!({"handle_cache_size": u64::MAX}), "margo.handle_cache_size: 18446744073709551615 is out of range (expected a 64-bit signed integer)"),
            (json!({"enable_abt_profiling": "yes"}), "margo.enable_abt_profiling: expected boolean, found string"),
            (json!({"use_progress_thread": "XXX"}), "margo.use_progress_thread: expected boolean, found string"),
            (json!({"use_progress_thread": 1}), "margo.use_progress_thread: expected boolean, found integer"),
            (json!({"rpc_thread_count": "XXX"}), "margo.rpc_thread_count: expected integer, found string"),
            (json!({"rpc_thread_count": 2.0}), "margo.rpc_thread_count: expected integer, found number"),
            (json!({"rpc_thread_count": 100000}), "margo.rpc_thread_count: 100000 is out of range (expected at most 1024)"),
            // progress_pool / rpc_pool.
            (json!({"progress_pool": true}), "margo.progress_pool: expected integer or string, found boolean"),
            (json!({"progress_pool": 0}), "margo.progress_pool: pool index 0 is out of range (0 pools available)"),
            (json!({"progress_pool": -1}), "margo.progress_pool: pool index -1 is out of range (0 pools available)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [0]}}]}, "progress_pool": 42}), "margo.progress_pool: pool index 42 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{"name": "my_pool"}]}, "progress_pool": "XXX"}), r#"margo.progress_pool: there is no pool named "XXX""#),
            (json!({"rpc_pool": [0]}), "margo.rpc_pool: expected integer or string, found array"),
            (json!({"argobots": {"pools": [{}]}, "rpc_pool": 1}), "margo.rpc_pool: pool index 1 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{"name": "my_pool"}]}, "rpc_pool": "XXX"}), r#"margo.rpc_pool: there is no pool named "XXX""#),
        ];
    for (input, expected) in cases {
        let e = err(input.clone());
        assert_eq!(e.to_string(), expected, "input: {input}");
        if let Some(p) = e.path() {
            assert!(expected.starts_with(p), "path {p} of {input}");
        }
    }
}

#[test]
fn null_values_count_as_absent() {
    let cfg = ok(json!({"mercury": null, "argobots": {"pools": null, "xstreams": null, "profiling_dir": null},
                            "progress_pool": null, "rpc_pool": null, "use_progress_thread": null,
                            "rpc_thread_count": null, "handle_cache_size": null, "plumber": null}));
    assert_eq!(cfg, MargoConfig::default());
}

#[test]
fn error_path_prefix_is_configurable() {
    let e = MargoConfig::from_value_at(&json!({"argobots": {"pools": [{"kind": "x"}]}}), &InitOverrides::default(), "margo[2]")
        .unwrap_err();
    assert_eq!(e.path(), Some("margo[2].argobots.pools[0].kind"));
}

#[test]
fn sanity_warnings_follow_upstream_checks() {
    assert!(MargoConfig::default().sanity_warnings().is_empty());
    assert!(ok(json!({"use_progress_thread": true, "rpc_thread_count": 2})).sanity_warnings().is_empty());
    // A pool that only appears after the progress pool on the same xstream.
    let cfg = ok(json!({"argobots": {"pools": [{"name": "__primary__"}, {"name": "p1"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["__primary__", "p1"]}}]}}));
    let w = cfg.sanity_warnings();
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(w.iter().all(|m| m.contains("\"p1\"")));
}

#[test]
fn enum_spellings() {
    for k in PoolKind::ALL {
        assert_eq!(PoolKind::parse(k.as_str()), Some(*k));
    }
    for a in PoolAccess::ALL {
        assert_eq!(PoolAccess::parse(a.as_str()), Some(*a));
    }
    for s in SchedulerType::ALL {
        assert_eq!(SchedulerType::parse(&s.to_string()), Some(*s));
    }
    assert_eq!(PoolKind::default(), PoolKind::FifoWait);
    assert_eq!(PoolAccess::default(), PoolAccess::Mpmc);
    assert_eq!(SchedulerType::default(), SchedulerType::BasicWait);
    assert_eq!(PoolKind::parse("FIFO"), None);
}
